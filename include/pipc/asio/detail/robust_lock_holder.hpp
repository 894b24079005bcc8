// SPDX-License-Identifier: BSL-1.0
// pipc/asio/detail/robust_lock_holder.hpp - the thread that owns basic_async_robust_mutex's lock.
#pragma once

#include <pipc/detail/deadline.hpp>
#include <pipc/error.hpp>
#include <pipc/export.hpp>
#include <pipc/robust_mutex.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <memory>

namespace pipc::detail {

struct robust_lock_state;

/// The compiled half of basic_async_robust_mutex: one robust_mutex handle and the one thread that
/// calls pthread_mutex_lock/unlock on it (a robust mutex belongs to the thread that locked it).
/// See src/async_robust_mutex.cpp and docs/robust_mutex.md ("Asynchronous locking").
class PIPC_API robust_lock_holder {
public:
    using handler_type = boost::asio::any_completion_handler<void(error_code, lock_result)>;

    /// Takes over an open handle. Starts no thread: the first async_lock does.
    explicit robust_lock_holder(robust_mutex&& m);
    /// close().
    ~robust_lock_holder();
    robust_lock_holder(const robust_lock_holder&) = delete;
    robust_lock_holder& operator=(const robust_lock_holder&) = delete;

    /// Queues a lock request; `handler` completes on `io_ex` (then its associated executor),
    /// never inside this call. With `on_calling_thread`, when nothing of this object is queued
    /// or held, first tries the lock once on the calling thread, which then owns it.
    void async_lock(boost::asio::any_io_executor io_ex, handler_type handler, deadline dl,
                    bool on_calling_thread = false);
    /// Hands the held lock back to the holder thread to release (or releases it inline when
    /// the fast path took it). errc::not_owner when no lock was delivered to the caller, or
    /// the fast path took it on another thread.
    void unlock(error_code& ec);
    /// Queues pthread_mutex_consistent on the holder thread. errc::not_owner unless the held
    /// lock was delivered with owner_dead and is still inconsistent.
    void consistent(error_code& ec);
    /// Completes every pending lock with operation_aborted; none of them leaves the lock held.
    void cancel();
    /// Cancels, stops the holder thread and waits for it (at most one slice). A lock the user
    /// holds stays held by the ending thread, so the next locker sees owner_dead.
    void close() noexcept;

    /// True between the delivery of a granted lock and unlock().
    bool owns_lock() const noexcept;
    /// True between a lock delivered with owner_dead and consistent() or unlock().
    bool inconsistent() const noexcept;
    /// The handle (for name() and the other accessors); the holder thread calls its lock calls.
    const robust_mutex& core() const noexcept;
    /// True while a holder thread serves this object (for tests).
    bool has_thread() const noexcept;

    /// How long the holder sleeps in one pthread_mutex_clocklock before it looks for
    /// cancellation and shutdown.
    static constexpr std::chrono::milliseconds slice{10};

private:
    std::shared_ptr<robust_lock_state> st_;
};

} // namespace pipc::detail
