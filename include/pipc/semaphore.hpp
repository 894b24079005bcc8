// SPDX-License-Identifier: BSL-1.0
// pipc/semaphore.hpp - a named POSIX semaphore (glibc's sem_open format), blocking and RAII.
#pragma once

#include <pipc/export.hpp>

#include <pipc/detail/deadline.hpp>
#include <pipc/error.hpp>
#include <pipc/open_mode.hpp>
#include <pipc/wait_strategy.hpp>

#include <semaphore.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace pipc {

/// Options for semaphore::open.
struct semaphore_options {
    /// Open an existing semaphore, create one, or either (posix_ipc's O_CREAT/O_EXCL flags).
    open_mode open = open_mode::open_existing;
    /// Mode bits of a created semaphore, applied exactly whatever the process umask (set on the
    /// file before its name appears). Ignored when an existing one is opened.
    ::mode_t permissions = 0600;
    /// Value of a created semaphore (at most SEM_VALUE_MAX). Ignored when opening an existing one.
    unsigned initial_value = 0;
    /// What a signal interrupting a wait does: retry with the remaining time, or report EINTR.
    signal_policy on_signal = signal_policy::retry;
    /// How acquire() and the timed acquires wait when no unit is free: sleep at once (the
    /// default, exactly the behaviour without strategies), or first retry sem_trywait (a
    /// user-space atomic, no system call) for a budget. See docs/wait-strategies.md.
    wait_strategy wait{};
};

/// A named POSIX semaphore, posix_ipc's `Semaphore`.
///
/// The object is glibc's: a sem_t in the file /dev/shm/sem.NAME, so programs using sem_open share
/// it. pipc creates and maps that file itself: a semaphore appears under its name complete (value
/// and mode set) or not at all, and a file shorter than a sem_t (left by a crash or written by
/// someone else) is refused with errc::damaged_semaphore instead of crashing the first wait with
/// SIGBUS. The handle is a shared mapping, not a sem_open result: native_handle() works with
/// sem_post, sem_wait and the like, but must not be passed to sem_close.
///
/// The destructor closes the handle and never unlinks the name: named objects outlive processes
/// on purpose, so removing one is always an explicit `unlink()`.
///
/// The waiting calls are named like std::counting_semaphore's. Timed waits sleep on
/// CLOCK_MONOTONIC (sem_clockwait), so a wall-clock jump changes nothing; a time point of any
/// clock is turned into the remaining time when the call starts.
///
/// @par Thread safety
/// Distinct objects: safe. Shared object: the waiting and posting calls (`acquire`,
/// `try_acquire*`, `release`, `value`) may be called concurrently; `open`, `close` and moves may
/// not overlap with anything else.
///
/// @par Exception safety
/// Every throwing call has an `error_code&` twin that never throws; a failed call changes nothing.
class PIPC_API semaphore {
public:
    /// The options type, for `semaphore::options{...}`.
    using options = semaphore_options;

    /// A closed handle; open it with open() or by move-assignment.
    semaphore() noexcept = default;
    /// Opens or creates `name` as `opts` says. @throws pipc::error (a subclass by condition).
    explicit semaphore(std::string_view name, const options& opts = {});
    /// Creates a semaphore under a fresh unique name (name() tells it). @throws pipc::error
    semaphore(unique_name_t, const options& opts = {});
    /// Takes over `other`'s handle; `other` is left closed.
    semaphore(semaphore&& other) noexcept;
    /// Closes this handle, then takes over `other`'s; `other` is left closed.
    semaphore& operator=(semaphore&& other) noexcept;
    semaphore(const semaphore&) = delete;
    semaphore& operator=(const semaphore&) = delete;
    /// Closes the handle (sem_close); never unlinks.
    ~semaphore();

    /// @{
    /// Opens or creates `name` as `opts` says. An open handle lets go of its semaphore only
    /// once the new one is open: a failed open changes nothing, and a semaphore this call
    /// created is removed again if a later step (the exact chmod) fails.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    void open(std::string_view name, const options& opts);
    void open(std::string_view name, const options& opts, error_code& ec);
    /// @}
    /// @{
    /// Creates a semaphore under a fresh unguessable name (exclusive; a few retries on a
    /// collision).
    void open(unique_name_t, const options& opts);
    void open(unique_name_t, const options& opts, error_code& ec);
    /// @}

    /// True between a successful open and close.
    bool is_open() const noexcept { return sem_ != nullptr; }
    /// The name it was opened with (kept after close(), so unlink() still works).
    const std::string& name() const noexcept { return name_; }
    /// True when the last open() created the semaphore rather than opening an existing one.
    bool created() const noexcept { return created_; }
    /// The requested mode bits (posix_ipc's `mode`), not those of a pre-existing object.
    ::mode_t permissions() const noexcept { return permissions_; }
    /// What a signal interrupting a wait does.
    signal_policy on_signal() const noexcept { return on_signal_; }
    /// Changes what a signal interrupting a later wait does.
    void set_signal_policy(signal_policy p) noexcept { on_signal_ = p; }
    /// The wait strategy of acquire() and the timed acquires (its learned state included).
    pipc::wait_strategy& strategy() noexcept { return wait_; }
    /// The wait strategy of acquire() and the timed acquires.
    const pipc::wait_strategy& strategy() const noexcept { return wait_; }
    /// Replaces the wait strategy; no wait on this object may be under way.
    void set_wait_strategy(const pipc::wait_strategy& w) noexcept { wait_ = w; }
    /// The sem_t*, nullptr when closed. Still owned by this object.
    sem_t* native_handle() const noexcept { return sem_; }

    /// @{
    /// Waits until the value is positive, then decrements it (spinning first if the wait
    /// strategy says so; a signal during the spin changes nothing, the sleep after it follows
    /// the signal policy).
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    void acquire();
    void acquire(error_code& ec);
    /// @}
    /// @{
    /// Decrements if the value is positive. @return false (with no error) when it is not.
    bool try_acquire();
    bool try_acquire(error_code& ec);
    /// @}
    /// @{
    /// Waits up to `d`; returns false on timeout. Non-positive durations make a single try, an
    /// infinite or huge one waits forever, NaN is errc::invalid_timeout.
    template <class Rep, class Period>
    bool try_acquire_for(std::chrono::duration<Rep, Period> d);
    template <class Rep, class Period>
    bool try_acquire_for(std::chrono::duration<Rep, Period> d, error_code& ec);
    /// @}
    /// @{
    /// Waits until `tp` of any clock (turned into the remaining time when the call starts);
    /// returns false on timeout. The rules of try_acquire_for apply.
    template <class Clock, class Duration>
    bool try_acquire_until(std::chrono::time_point<Clock, Duration> tp);
    template <class Clock, class Duration>
    bool try_acquire_until(std::chrono::time_point<Clock, Duration> tp, error_code& ec);
    /// @}

    /// @{
    /// Increments the value `n` times (sem_post). Fails with errc::invalid_release_count, without
    /// posting anything, when n < 0 or when n > 1 and the value would pass SEM_VALUE_MAX. A single
    /// post at the maximum fails with the kernel's EOVERFLOW (value_too_large), as a concurrent
    /// poster can make a later post of several do; posts already made stay.
    void release(std::ptrdiff_t n = 1);
    void release(std::ptrdiff_t n, error_code& ec);
    /// @}

    /// @{
    /// Lockable adaptors, so `std::lock_guard`, `std::unique_lock` and `std::scoped_lock` can
    /// hold a unit for a scope (posix_ipc's `with sem:`). Errors throw, as the standard expects.
    void lock() { acquire(); }
    bool try_lock() { return try_acquire(); }
    template <class Rep, class Period>
    bool try_lock_for(std::chrono::duration<Rep, Period> d) {
        return try_acquire_for(d);
    }
    template <class Clock, class Duration>
    bool try_lock_until(std::chrono::time_point<Clock, Duration> tp) {
        return try_acquire_until(tp);
    }
    void unlock() { release(); }
    /// @}

    /// @{
    /// The current value (a snapshot; Linux reports 0, never negative, while others wait).
    int value() const;
    int value(error_code& ec) const;
    /// @}

    /// @{
    /// Closes this handle (unmaps the semaphore). Closing a closed handle does nothing.
    void close();
    void close(error_code& ec);
    /// @}
    /// @{
    /// Removes the name (sem_unlink); works before or after close(). Missing name: existential.
    void unlink();
    void unlink(error_code& ec);
    /// @}
    /// @{
    /// Removes the semaphore `name` (sem_unlink), as unlink_semaphore().
    static void unlink(std::string_view name);
    static void unlink(std::string_view name, error_code& ec);
    /// @}

private:
    bool wait_until(const detail::deadline& dl, error_code& ec);
    bool spins() const noexcept { return wait_.type() != pipc::wait_strategy::kind::block; }

    sem_t* sem_ = nullptr;
    std::string name_;
    ::mode_t permissions_ = 0600;
    bool created_ = false;
    signal_policy on_signal_ = signal_policy::retry;
    pipc::wait_strategy wait_{};
};

/// @{
/// Whether the file behind the named semaphore, /dev/shm/sem.NAME, is a regular file large enough
/// to hold a sem_t, i.e. whether opening it can succeed instead of failing with
/// errc::damaged_semaphore. Needs no permission on the semaphore itself (it only stats the file).
/// A missing name is an error (no_such_file_or_directory), not `false`.
PIPC_API bool semaphore_intact(std::string_view name);
PIPC_API bool semaphore_intact(std::string_view name, error_code& ec);
/// @}

/// @{
/// Removes a semaphore by name; the same as semaphore::unlink(name).
PIPC_API void unlink_semaphore(std::string_view name);
PIPC_API void unlink_semaphore(std::string_view name, error_code& ec);
/// @}

template <class Rep, class Period>
bool semaphore::try_acquire_for(std::chrono::duration<Rep, Period> d, error_code& ec) {
    const auto dl = detail::deadline_after(d, ec);
    if (ec) return false;
    return wait_until(dl, ec);
}

template <class Rep, class Period>
bool semaphore::try_acquire_for(std::chrono::duration<Rep, Period> d) {
    error_code ec;
    const bool acquired = try_acquire_for(d, ec);
    if (ec) throw_error(ec, "semaphore::try_acquire_for \"" + name_ + "\"");
    return acquired;
}

template <class Clock, class Duration>
bool semaphore::try_acquire_until(std::chrono::time_point<Clock, Duration> tp, error_code& ec) {
    const auto dl = detail::deadline_at(tp, ec);
    if (ec) return false;
    return wait_until(dl, ec);
}

template <class Clock, class Duration>
bool semaphore::try_acquire_until(std::chrono::time_point<Clock, Duration> tp) {
    error_code ec;
    const bool acquired = try_acquire_until(tp, ec);
    if (ec) throw_error(ec, "semaphore::try_acquire_until \"" + name_ + "\"");
    return acquired;
}

} // namespace pipc
