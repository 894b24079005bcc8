// SPDX-License-Identifier: BSL-1.0
// pipc/asio/semaphore_waiter_service.hpp - the per-execution-context pool of helper threads that
// wait on named semaphores for basic_async_semaphore.
#pragma once

#include <pipc/export.hpp>

#include <pipc/detail/deadline.hpp>
#include <pipc/error.hpp>
#include <pipc/semaphore.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution_context.hpp>

#include <semaphore.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace pipc {

namespace detail {

struct semaphore_wait_op;
struct semaphore_worker;

/// What one basic_async_semaphore shares with its operations in flight and with the helper thread
/// waiting for it. The shared ownership is what makes closing the object while a helper sleeps in
/// sem_clockwait safe: glibc unmaps a named semaphore at its last sem_close.
struct async_semaphore_state {
    explicit async_semaphore_state(std::shared_ptr<pipc::semaphore> s) noexcept
        : sem(std::move(s)), raw(sem->native_handle()) {}
    async_semaphore_state(const async_semaphore_state&) = delete;
    async_semaphore_state& operator=(const async_semaphore_state&) = delete;

    std::shared_ptr<pipc::semaphore> sem;
    ::sem_t* const raw;
    /// Operations queued for the helper; the initiating thread reads it without the service lock
    /// to decide whether a sem_trywait may go ahead of them (it may not: FIFO).
    std::atomic<std::size_t> queued{0};

    // Guarded by the service's mutex.
    semaphore_wait_op* head = nullptr;
    semaphore_wait_op* tail = nullptr;
    semaphore_worker* worker = nullptr; ///< The helper serving this queue, if any.
    bool in_ready = false;              ///< Waiting for a free helper (the pool is at its cap).
    /// futex_waitv helpers only: counted as a waiter in the sem_t (so sem_post wakes us).
    bool registered = false;
    /// futex_waitv helpers only: no acquire queued, but kept in the wait set until `linger_until`
    /// because the handler that just completed usually acquires again.
    bool lingering = false;
    std::chrono::steady_clock::time_point linger_until{};
};

} // namespace detail

/// The helper-thread pool behind basic_async_semaphore: one per execution context, created on
/// first use (`boost::asio::use_service<pipc::semaphore_waiter_service>(ctx)`).
///
/// A named semaphore has no descriptor to poll, so a blocked acquire has to sleep on some thread.
/// Waiters of one object queue FIFO; the service waits *per object with waiters*, not per waiter.
/// Two ways, chosen once per service (see docs/asio-semaphore.md):
///
/// - **futex_waitv** (Linux >= 5.16 with glibc's sem_t layout, checked at start-up): one helper
///   waits on up to `per_thread` (32 by default, at most 127) semaphores at once, registered as a
///   waiter in each sem_t the way sem_wait is, so sem_post wakes it. Units are taken with
///   sem_trywait under the service's lock; cancellation, deadlines, shutdown and fork wake the
///   helper at once.
/// - **fallback** (older kernels, another libc, or `PIPC_SEMAPHORE_WAITV=0` in the environment):
///   one helper per object, sleeping in `sem_clockwait(CLOCK_MONOTONIC)` for at most one *slice*
///   at a time, so it notices cancellation, late timeouts, shutdown and fork within one slice.
///
/// When a unit arrives the helper hands it to the first queued operation and posts the
/// completion to the object's executor once. Idle helpers sleep (no polling) and exit after
/// `idle_timeout`. At most `max_threads` helpers exist; beyond their capacity, objects with
/// waiters share the helpers round-robin, one slice at a time (slower to react, never starved).
///
/// @par No thread
/// When a helper is needed but its thread cannot be started (pthread_create fails, e.g. EAGAIN
/// under RLIMIT_NPROC) and no helper is alive, the acquires queued on that object complete at
/// once with that errno (system_category, so `ec == errc::resource_unavailable_try_again`);
/// the next acquire that has to wait tries again. With helpers alive, the object takes turns
/// with them as beyond `max_threads`.
///
/// @par Fork
/// Implements `notify_fork` like Asio's resolver service: `fork_prepare` stops and joins every
/// helper (taking up to one slice) while keeping the queues, `fork_parent` / `fork_child` restart
/// helpers for the queues that still have waiters. Call `io_context::notify_fork` around fork()
/// as Asio documents; the service installs no pthread_atfork handlers.
///
/// @par Thread safety
/// All member functions may be called concurrently.
class PIPC_API semaphore_waiter_service : public boost::asio::execution_context::service {
public:
    /// Tuning of the helpers, read with configuration() and changed with configure(). The
    /// defaults suit a handful of semaphores with waiters; the fields trade threads and CPU
    /// against reaction time.
    struct config {
        /// Upper bound on helper threads for this execution context (at least 1).
        std::size_t max_threads = 64;
        /// Longest single sem_clockwait; bounds cancellation of a lone waiter (partial/total),
        /// late-added timeouts, fork_prepare and shutdown. Clamped to at least 1 ms.
        std::chrono::milliseconds slice{20};
        /// After handing out a unit, a helper stays on its semaphore this long (yielding the
        /// CPU) in case the completed handler acquires again, which saves a thread hand-off
        /// per acquire in loops and ping-pongs. Only on objects whose wait strategy does not
        /// spin at that moment (block(), a collapsed adaptive()): a spinning object's next
        /// acquire spins in the initiation instead. 0 disables it.
        std::chrono::microseconds linger{50};
        /// An idle helper exits after this long without work.
        std::chrono::milliseconds idle_timeout{2000};
        /// futex_waitv helpers: semaphores one helper waits on at once (clamped to 1..127).
        std::size_t per_thread = 32;
    };

    /// The service's key for `boost::asio::use_service`.
    static boost::asio::execution_context::id id;

    /// Created by `use_service` on first use; chooses futex_waitv or the fallback here, once
    /// (see uses_futex_waitv()). Starts no thread: helpers start with the first acquire that
    /// has to wait.
    explicit semaphore_waiter_service(boost::asio::execution_context& ctx);
    /// Stops and joins every helper. Acquires still pending were already destroyed without
    /// being invoked, and holding no unit, when the execution context shut down (as Asio does).
    ~semaphore_waiter_service() override;

    /// Changes the configuration; helpers pick it up at their next slice. Lowering max_threads
    /// does not stop helpers that are busy.
    /// Out-of-range fields are clamped (slice to at least 1 ms, max_threads to at least 1,
    /// per_thread to 1..127).
    void configure(const config& c);
    /// The configuration in force, after clamping.
    config configuration() const;
    /// Helpers currently alive (busy or parked); for tests and monitoring.
    std::size_t thread_count() const;
    /// True when this service waits with futex_waitv, false when it uses one sem_clockwait helper
    /// per semaphore (the fallback). Fixed when the service is created.
    bool uses_futex_waitv() const noexcept { return multi_; }
    /// Whether this process can use futex_waitv on glibc semaphores (the start-up check: kernel
    /// support and the sem_t layout), ignoring PIPC_SEMAPHORE_WAITV.
    static bool futex_waitv_supported() noexcept;

    // Used by basic_async_semaphore; not for direct use.
    /// Queues an acquire whose initial sem_trywait failed. The handler completes on `io_ex` (then
    /// its own associated executor), never inside this call.
    void async_acquire(const std::shared_ptr<detail::async_semaphore_state>& state,
                       boost::asio::any_io_executor io_ex,
                       boost::asio::any_completion_handler<void(error_code)> handler,
                       detail::deadline dl);
    /// Completes every queued acquire of `state` with operation_aborted at once. A unit the
    /// helper takes for one of them afterwards goes back with sem_post.
    void cancel(detail::async_semaphore_state& state);

private:
    friend struct detail::semaphore_wait_op;
    struct completion;
    struct cancel_handler;
    using done_list = std::vector<std::pair<detail::semaphore_wait_op*, error_code>>;

    static void post_all(done_list& done);

    void shutdown() override;
    void notify_fork(boost::asio::execution_context::fork_event event) override;

    static void* thread_main(void* worker) noexcept;
    void run_worker(detail::semaphore_worker* w);
    void run_multi_worker(detail::semaphore_worker* w);
    void wake_locked(detail::semaphore_worker* w);
    void wake_after_cancel_locked(detail::async_semaphore_state& st);
    std::size_t live_workers_locked() const;
    int start_worker_locked(const std::shared_ptr<detail::async_semaphore_state>& state);
    void cancel_op(detail::semaphore_wait_op* op, boost::asio::cancellation_type_t type);
    void assign_worker_locked(const std::shared_ptr<detail::async_semaphore_state>& state,
                              std::vector<detail::semaphore_worker*>& to_wake, done_list& done);
    void stop_workers(bool for_shutdown);
    void restart_workers_locked(std::vector<detail::semaphore_worker*>& to_wake, done_list& done);

    const bool multi_; ///< futex_waitv helpers (else one sem_clockwait helper per semaphore).
    mutable std::mutex mutex_;
    config config_;
    bool stopping_ = false; ///< fork_prepare or shutdown: helpers must exit.
    bool shut_down_ = false;
    std::vector<std::unique_ptr<detail::semaphore_worker>> workers_;
    std::vector<std::unique_ptr<detail::semaphore_worker>> finished_; ///< Exited, to be joined.
    std::vector<detail::semaphore_worker*> idle_;                     ///< Parked, most recent last.
    std::deque<std::shared_ptr<detail::async_semaphore_state>> ready_; ///< Waiting for a helper.
};

} // namespace pipc
