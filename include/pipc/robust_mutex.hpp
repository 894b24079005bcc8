// SPDX-License-Identifier: BSL-1.0
// pipc/robust_mutex.hpp - a named cross-process mutex that survives the death of its owner.
#pragma once

#include <pipc/detail/deadline.hpp>
#include <pipc/error.hpp>
#include <pipc/export.hpp>
#include <pipc/open_mode.hpp>

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>

namespace pipc {

namespace detail {
struct robust_mutex_block; // the shared header + pthread mutex; defined in the library
} // namespace detail

/// Options for robust_mutex::open.
struct robust_mutex_options {
    /// Open an existing mutex, create one, or either (posix_ipc's O_CREAT/O_EXCL flags).
    open_mode open = open_mode::open_existing;
    /// Mode bits of a created mutex's shared-memory object, applied exactly whatever the process
    /// umask (set before the name appears). Every user needs read and write permission: locking
    /// writes to the object. Ignored when an existing mutex is opened.
    ::mode_t permissions = 0600;
};

/// How a successful lock was obtained.
enum class lock_result {
    acquired,   ///< The mutex was free (or released normally) and is now ours.
    owner_dead, ///< Ours, but its previous owner died holding it: repair, then consistent().
};

/// A named, process-shared, robust mutex: a `pthread_mutex_t` with PTHREAD_MUTEX_ROBUST,
/// PTHREAD_PROCESS_SHARED and PTHREAD_MUTEX_ERRORCHECK in a small shared-memory object.
///
/// @par Names
/// The user's name "/x" (validated like a shared-memory name) is stored as the shared-memory
/// object "/pipc-robust-mutex.x" (so `/dev/shm/pipc-robust-mutex.x`): the prefix lets tools tell
/// the kinds apart without opening anything, and keeps a robust mutex and a segment of the same
/// name apart. The prefix counts against the 255-byte limit (at most 237 bytes after the '/').
/// The object starts with a header (magic, layout version, sizeof(pthread_mutex_t)); opening an
/// object without a valid header fails with errc::not_a_robust_mutex.
///
/// @par Race-safe creation
/// A creator builds and initialises the object under a fresh random name, sets its mode bits,
/// and only then link()s it under the final name in /dev/shm; link fails with EEXIST if the name
/// exists, so exclusive creation is atomic and no opener can ever see a half-initialised mutex.
/// A creator killed before the link leaves only an unreachable "/pipc-robust-mutex-tmp.*" file
/// behind (removed by name, never used by anyone), never a broken mutex.
///
/// @par Owner death
/// When the owning thread's process dies (or the thread exits) holding the lock, the next lock
/// succeeds and reports it: `lock()` returns lock_result::owner_dead, the `error_code&` forms set
/// `ec == errc::owner_dead` *and own the lock*, and `inconsistent()` is true. The new owner
/// repairs the protected state and calls `consistent()`. If it unlocks without doing so, the
/// mutex becomes permanently unusable: every later lock fails with errc::not_recoverable
/// (condition::existential), in every process, until it is unlinked and created again.
/// Owner-dead is not thrown by the throwing forms: the lock is held, and an exception would leak
/// it. With `std::lock_guard`/`std::unique_lock`, check `inconsistent()` after locking.
///
/// @par Ownership
/// Ownership belongs to the locking thread (glibc keeps robust mutexes on a per-thread list):
/// locking again from the owning thread fails with errc::already_owner, unlocking from any other
/// thread or process fails with errc::not_owner; neither is undefined behaviour. Closing or
/// destroying a handle does not unlock: the mutex stays held until unlock() or the thread's
/// death, which the next locker then sees as owner_dead. A handle closed while its lock is held
/// keeps its mapping (one page) until the process ends, because the kernel finds a dying
/// thread's robust mutexes through that memory; unmapping it would leave the mutex held by a
/// dead thread forever.
///
/// @par Thread safety
/// Distinct objects: safe. Shared object: `lock`, `try_lock*`, `unlock` and `consistent` may be
/// called concurrently from different threads (each thread owning the lock it took); `open`,
/// `close` and moves may not overlap with anything else. `inconsistent()` is meaningful to the
/// owning thread.
///
/// @par Errors
/// The throwing forms throw pipc::error, or the subclass of the error's condition
/// (existential_error for errc::closed, errc::not_recoverable and a missing name;
/// permissions_error for errc::not_owner and EACCES); errc::already_owner and
/// errc::not_a_robust_mutex belong to no condition and throw pipc::error itself.
/// errc::owner_dead, errc::not_recoverable, errc::already_owner and errc::not_owner also compare
/// equal to the standard `errc::owner_dead`, `state_not_recoverable`,
/// `resource_deadlock_would_occur` and `operation_not_permitted`.
///
/// @par Exception safety
/// Every throwing call has an `error_code&` twin that never throws; a failed call changes nothing.
class PIPC_API robust_mutex {
public:
    /// The options type, for `robust_mutex::options{...}`.
    using options = robust_mutex_options;

    /// A closed handle; open it with open() or by move-assignment.
    robust_mutex() noexcept = default;
    /// Opens or creates `name` as `opts` says. @throws pipc::error (a subclass by condition).
    explicit robust_mutex(std::string_view name, const options& opts = {});
    /// Creates a mutex under a fresh unique name (name() tells it). @throws pipc::error
    robust_mutex(unique_name_t, const options& opts = {});
    /// Takes over `other`'s handle, including a lock held through it and its inconsistent()
    /// state; `other` is left closed.
    robust_mutex(robust_mutex&& other) noexcept;
    /// Closes this handle (see close(): a held lock stays held), then takes over `other`'s;
    /// `other` is left closed.
    robust_mutex& operator=(robust_mutex&& other) noexcept;
    robust_mutex(const robust_mutex&) = delete;
    robust_mutex& operator=(const robust_mutex&) = delete;
    /// Closes the handle; never unlocks and never unlinks (see close()).
    ~robust_mutex();

    /// @{
    /// Opens or creates `name` as `opts` says. Fails with errc::not_a_robust_mutex when the
    /// object under that name has no valid robust-mutex header, and with the name's validation
    /// errors (errc::name_too_long past 237 bytes after the '/'). Racing `open_or_create`
    /// callers agree on one mutex. An open handle lets go of its mutex only once the new one is
    /// open (a held lock stays held, as with close()): a failed open changes nothing.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    void open(std::string_view name, const options& opts);
    void open(std::string_view name, const options& opts, error_code& ec);
    /// @}
    /// @{
    /// Creates a mutex under a fresh unguessable name (exclusive; a few retries on a
    /// collision). `opts.open` must be valid but is otherwise ignored.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    void open(unique_name_t, const options& opts);
    void open(unique_name_t, const options& opts, error_code& ec);
    /// @}

    /// True between a successful open and close.
    bool is_open() const noexcept { return mutex_ != nullptr; }
    /// The name it was opened with (kept after close(), so unlink() still works).
    const std::string& name() const noexcept { return name_; }
    /// True when the last open() created the mutex rather than opening an existing one.
    bool created() const noexcept { return created_; }
    /// The requested mode bits, not those of a pre-existing object.
    ::mode_t permissions() const noexcept { return permissions_; }
    /// The pthread mutex in the shared mapping, nullptr when closed. Still owned by this object;
    /// locking it directly bypasses the handle's owner-dead bookkeeping (inconsistent()).
    ::pthread_mutex_t* native_handle() const noexcept { return mutex_; }

    /// @{
    /// Waits, without a time limit, until the calling thread owns the mutex.
    ///
    /// The throwing form returns lock_result::owner_dead when the previous owner died holding it,
    /// lock_result::acquired otherwise; the lock is held either way. The `ec` form sets `ec` to
    /// errc::owner_dead in that case, *and the lock is held*; on any other error it is not.
    /// After owner_dead, inconsistent() is true: repair the state, then call consistent().
    ///
    /// Errors: errc::not_recoverable (condition::existential) when an earlier owner unlocked it
    /// while inconsistent; errc::already_owner when the calling thread holds it already;
    /// errc::closed when the handle is not open.
    /// @throws pipc::error for every error except owner_dead (the `ec` form sets `ec` instead).
    lock_result lock() {
        // The uncontended path is inline: a lock+unlock pair costs what the bare pthread calls do.
        if (mutex_ != nullptr) {
            const int rc = ::pthread_mutex_lock(mutex_);
            if (rc == 0) {
                held_.store(true, std::memory_order_relaxed);
                return lock_result::acquired;
            }
            return lock_failed(rc, "robust_mutex::lock");
        }
        return lock_failed(-1, "robust_mutex::lock");
    }
    void lock(error_code& ec) {
        if (mutex_ != nullptr) {
            const int rc = ::pthread_mutex_lock(mutex_);
            if (rc == 0) {
                held_.store(true, std::memory_order_relaxed);
                ec = {};
                return;
            }
            finish_lock(rc, ec);
            return;
        }
        finish_lock(-1, ec);
    }
    /// @}
    /// @{
    /// Takes the mutex if it is free, without waiting. @return true when the calling thread now
    /// owns it; false (with no error) when another thread or process holds it.
    ///
    /// Taken from a dead owner: true, inconsistent() is true, and the `ec` form sets
    /// `ec == errc::owner_dead` (the throwing form does not throw). Other errors (false, nothing
    /// held): errc::not_recoverable, errc::already_owner, errc::closed, as for lock(). Unlike
    /// pthread_mutex_trylock it leaves a not-recoverable mutex untouched (it is a clocklock with
    /// an expired deadline; see docs/robust_mutex.md).
    /// @throws pipc::error for every error except owner_dead (the `ec` form sets `ec` instead).
    bool try_lock();
    bool try_lock(error_code& ec);
    /// @}
    /// @{
    /// Waits up to `d` on CLOCK_MONOTONIC (pthread_mutex_clocklock), so a wall-clock jump changes
    /// nothing. @return true when the calling thread now owns the mutex, false on timeout.
    /// Non-positive durations make a single try, an infinite or huge one waits forever, NaN is
    /// errc::invalid_timeout. Owner death and the other errors are reported as by try_lock().
    /// @throws pipc::error for every error except owner_dead (the `ec` form sets `ec` instead).
    template <class Rep, class Period>
    bool try_lock_for(std::chrono::duration<Rep, Period> d);
    template <class Rep, class Period>
    bool try_lock_for(std::chrono::duration<Rep, Period> d, error_code& ec);
    /// @}
    /// @{
    /// Waits until `tp` of any clock (turned into the remaining time on CLOCK_MONOTONIC when the
    /// call starts). @return true when the calling thread now owns the mutex, false on timeout.
    /// The rules and errors of try_lock_for() apply.
    /// @throws pipc::error for every error except owner_dead (the `ec` form sets `ec` instead).
    template <class Clock, class Duration>
    bool try_lock_until(std::chrono::time_point<Clock, Duration> tp);
    template <class Clock, class Duration>
    bool try_lock_until(std::chrono::time_point<Clock, Duration> tp, error_code& ec);
    /// @}

    /// @{
    /// Releases the mutex. Fails with errc::not_owner (condition::permissions) when the calling
    /// thread does not hold it, and with errc::closed when the handle is not open. Unlocking
    /// while inconsistent() (without consistent()) makes the mutex not recoverable for every
    /// process (POSIX semantics).
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    void unlock() {
        if (mutex_ != nullptr) {
            const int rc = release();
            if (rc == 0) return;
            unlock_failed(rc);
        }
        unlock_failed(-1);
    }
    void unlock(error_code& ec) {
        if (mutex_ != nullptr) {
            const int rc = release();
            if (rc == 0) {
                ec = {};
                return;
            }
            ec = unlock_error(rc);
            return;
        }
        ec = unlock_error(-1);
    }
    /// @}

    /// @{
    /// Marks the state protected by a mutex taken with owner_dead as repaired
    /// (pthread_mutex_consistent); the mutex then works normally again, and the lock stays
    /// held. Fails with errc::not_owner (condition::permissions) unless this handle holds a lock
    /// that reported owner_dead and is still inconsistent() (glibc does not check the caller;
    /// the handle's record does), and with errc::closed when the handle is not open.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    void consistent();
    void consistent(error_code& ec);
    /// @}
    /// True between a lock that reported owner_dead and the following consistent() or unlock().
    bool inconsistent() const noexcept { return inconsistent_.load(std::memory_order_relaxed); }

    /// @{
    /// Closes this handle. The mutex is not unlocked: a lock held through it stays held (this
    /// handle can no longer unlock it; once the owning thread dies the next locker sees
    /// owner_dead), and its one-page mapping is kept until the process ends, because the kernel
    /// reads it when the thread dies. Otherwise the mutex is unmapped; a failing munmap is the
    /// only error. Closing a closed handle does nothing.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    void close();
    void close(error_code& ec);
    /// @}
    /// @{
    /// Removes this handle's name (shm_unlink); works before or after close(), and handles that
    /// are open keep working. A missing name fails with ENOENT (condition::existential), a
    /// never-opened handle with errc::closed.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    void unlink();
    void unlink(error_code& ec);
    /// @}
    /// @{
    /// Removes the robust mutex `name` (its object "/pipc-robust-mutex.x"), as
    /// unlink_robust_mutex(). The name is validated first; a missing one fails with ENOENT
    /// (condition::existential). Open handles keep working.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    static void unlink(std::string_view name);
    static void unlink(std::string_view name, error_code& ec);
    /// @}

    /// The shared-memory object name that stores the mutex called `name` ("/x" ->
    /// "/pipc-robust-mutex.x"), after validating `name`.
    static std::string object_name(std::string_view name, error_code& ec);

private:
    bool lock_until(const detail::deadline& dl, error_code& ec);
    /// rc: a pthread result, or -1 for "closed".
    bool finish_lock(int rc, error_code& ec) noexcept;
    lock_result lock_failed(int rc, const char* what);
    static error_code unlock_error(int rc) noexcept;
    [[noreturn]] void unlock_failed(int rc) const;

    detail::robust_mutex_block* shared_ = nullptr;
    ::pthread_mutex_t* mutex_ = nullptr; // inside *shared_
    std::string name_;
    ::mode_t permissions_ = 0600;
    bool created_ = false;
    // Per-handle state, written by the owning thread while it holds the lock (so the lock orders
    // the writes); atomic only so that a misuse (unlock by a non-owner) is not a data race.
    std::atomic<bool> inconsistent_{false};
    // Set while a thread holds the lock through this handle: close() must not unmap a mutex
    // that is on a thread's robust list.
    std::atomic<bool> held_{false};

    /// pthread_mutex_unlock with the handle's flags cleared first (after it, another thread may
    /// already own the lock and set them), and put back if the unlock fails.
    int release() noexcept {
        const bool was_held = held_.load(std::memory_order_relaxed);
        const bool was_inconsistent = inconsistent_.load(std::memory_order_relaxed);
        held_.store(false, std::memory_order_relaxed);
        inconsistent_.store(false, std::memory_order_relaxed);
        const int rc = ::pthread_mutex_unlock(mutex_);
        if (rc != 0) {
            held_.store(was_held, std::memory_order_relaxed);
            inconsistent_.store(was_inconsistent, std::memory_order_relaxed);
        }
        return rc;
    }
};

/// @{
/// Removes a robust mutex by name; the same as robust_mutex::unlink(name).
/// @throws pipc::error (the `ec` form sets `ec` instead).
PIPC_API void unlink_robust_mutex(std::string_view name);
PIPC_API void unlink_robust_mutex(std::string_view name, error_code& ec);
/// @}

template <class Rep, class Period>
bool robust_mutex::try_lock_for(std::chrono::duration<Rep, Period> d, error_code& ec) {
    const auto dl = detail::deadline_after(d, ec);
    if (ec) return false;
    return lock_until(dl, ec);
}

template <class Rep, class Period>
bool robust_mutex::try_lock_for(std::chrono::duration<Rep, Period> d) {
    error_code ec;
    const bool locked = try_lock_for(d, ec);
    if (ec && ec != errc::owner_dead)
        throw_error(ec, "robust_mutex::try_lock_for \"" + name_ + "\"");
    return locked;
}

template <class Clock, class Duration>
bool robust_mutex::try_lock_until(std::chrono::time_point<Clock, Duration> tp, error_code& ec) {
    const auto dl = detail::deadline_at(tp, ec);
    if (ec) return false;
    return lock_until(dl, ec);
}

template <class Clock, class Duration>
bool robust_mutex::try_lock_until(std::chrono::time_point<Clock, Duration> tp) {
    error_code ec;
    const bool locked = try_lock_until(tp, ec);
    if (ec && ec != errc::owner_dead)
        throw_error(ec, "robust_mutex::try_lock_until \"" + name_ + "\"");
    return locked;
}

} // namespace pipc
