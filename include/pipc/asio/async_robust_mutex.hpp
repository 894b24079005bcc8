// SPDX-License-Identifier: BSL-1.0
// pipc/asio/async_robust_mutex.hpp - a named robust mutex locked through Boost.Asio.
#pragma once

#include <pipc/asio/detail/immediate_completion.hpp>
#include <pipc/asio/detail/robust_lock_holder.hpp>
#include <pipc/detail/deadline.hpp>
#include <pipc/error.hpp>
#include <pipc/robust_mutex.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/detail/bind_handler.hpp>

#include <chrono>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>

namespace pipc {

/// A named, process-shared robust mutex (pipc::robust_mutex) whose lock is taken with Asio:
/// `co_await m.async_lock(use_awaitable)` instead of blocking the thread in lock().
///
/// @par Who owns the lock
/// A robust pthread mutex belongs to the *thread* that locked it (glibc keeps it on that
/// thread's robust list; unlock and consistent from another thread fail). So each object has
/// one helper thread, the *holder*, started by the first async_lock and ended by close() or the
/// destructor: it takes the lock (pthread_mutex_clocklock on CLOCK_MONOTONIC, one slice of
/// 10 ms at a time so that it notices cancellation), keeps it while the application works on
/// its io_context, and releases it when unlock() hands the release to it. Other processes see
/// an ordinary robust mutex: blocking robust_mutex users and async ones interoperate. If the
/// process dies while the holder owns the lock, the next locker in any process sees owner_dead,
/// exactly as with the blocking lock. An idle holder yields for up to 20 us, then sleeps on a
/// condition variable. The design and its cost (thread hops each way per lock; none on the
/// opt-in fast path, see set_lock_on_calling_thread) are in docs/robust_mutex.md.
///
/// @par Contract
/// - A lock that completes with success is owned by this object until unlock(): call unlock()
///   exactly once (from any thread, through the object). A second async_lock on the same object
///   while it holds the lock waits for that unlock (requests of one object are served first come,
///   first served), it does not fail with already_owner.
/// - A lock that completes with an error (operation_aborted, a timeout) never leaves the mutex
///   held: a lock the holder took for it in the meantime is released at once.
/// - Owner death is reported in the result, with an empty error code: lock_result::owner_dead
///   means the lock is held and the protected state needs repair; call consistent() before
///   unlock(), or unlock() makes the mutex not recoverable for every process (POSIX semantics).
///   If such a lock is never delivered (cancelled, closed), it is not released but left
///   owner-dead for the next locker, so nobody sees unrepaired state as consistent.
/// - Closing or destroying the object never unlocks a lock that was delivered: the holder
///   thread ends holding it, and the next locker sees owner_dead (as if this process had died;
///   the one-page mapping stays until the process ends, see robust_mutex::close()).
///
/// @par Thread safety
/// Distinct objects: safe. Shared object: async_lock*, unlock, consistent and cancel may be
/// called concurrently; open, close, moves and destruction may not overlap with anything else.
/// The object must not outlive its execution context.
///
/// @par Fork
/// A forked child may keep using an inherited object: its first call there forgets the parent's
/// holder thread and lock (owns_lock() is false, unlock() fails with errc::not_owner, copies of
/// the locks pending at the fork complete with operation_aborted), and its own locks start a
/// holder of its own. The holder must not be inside the object's internal mutex at the fork (it
/// is there only briefly; an idle object is always safe). See docs/robust_mutex.md.
///
/// @par Exception safety
/// Constructors and open() mirror pipc::robust_mutex's, throwing and with an `error_code&`
/// twin; a failed open changes nothing.
template <class Executor = boost::asio::any_io_executor>
class basic_async_robust_mutex {
public:
    /// The type of the executor the object's operations complete on by default.
    using executor_type = Executor;
    /// The options type of pipc::robust_mutex (open mode, permissions).
    using options = robust_mutex_options;

    /// Rebinds the mutex type to another executor (for `as_default_on` and friends).
    template <class Executor1>
    struct rebind_executor {
        using other = basic_async_robust_mutex<Executor1>; ///< The rebound type.
    };

    /// @{
    /// A closed object on `ex` (or on `ctx`'s executor); open it with open().
    explicit basic_async_robust_mutex(const executor_type& ex) : executor_(ex) {}
    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
    explicit basic_async_robust_mutex(ExecutionContext& ctx)
        : basic_async_robust_mutex(executor_type(ctx.get_executor())) {}
    /// @}

    /// @{
    /// Opens or creates `name` as `opts` says (see pipc::robust_mutex). @throws pipc::error
    basic_async_robust_mutex(const executor_type& ex, std::string_view name,
                             const options& opts = {})
        : basic_async_robust_mutex(ex, robust_mutex(name, opts)) {}
    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
    basic_async_robust_mutex(ExecutionContext& ctx, std::string_view name, const options& opts = {})
        : basic_async_robust_mutex(executor_type(ctx.get_executor()), name, opts) {}
    /// @}

    /// @{
    /// Creates a mutex under a fresh unique name (see pipc::robust_mutex). @throws pipc::error
    basic_async_robust_mutex(const executor_type& ex, unique_name_t, const options& opts = {})
        : basic_async_robust_mutex(ex, robust_mutex(unique_name, opts)) {}
    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
    basic_async_robust_mutex(ExecutionContext& ctx, unique_name_t, const options& opts = {})
        : basic_async_robust_mutex(executor_type(ctx.get_executor()), unique_name, opts) {}
    /// @}

    /// @{
    /// Takes over an open handle that holds no lock (a closed one gives a closed object).
    basic_async_robust_mutex(const executor_type& ex, robust_mutex&& m) : executor_(ex) {
        if (m.is_open()) holder_ = std::make_unique<detail::robust_lock_holder>(std::move(m));
    }
    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
    basic_async_robust_mutex(ExecutionContext& ctx, robust_mutex&& m)
        : basic_async_robust_mutex(executor_type(ctx.get_executor()), std::move(m)) {}
    /// @}

    /// Takes over `other`'s mutex, holder thread, lock and pending locks; `other` is closed.
    basic_async_robust_mutex(basic_async_robust_mutex&& other) noexcept
        : executor_(other.executor_), holder_(std::move(other.holder_)),
          on_calling_thread_(other.on_calling_thread_) {}
    /// Closes this object (see close()), then takes over `other`'s state; `other` is closed.
    basic_async_robust_mutex& operator=(basic_async_robust_mutex&& other) noexcept {
        if (this != &other) {
            holder_.reset();
            executor_ = other.executor_;
            holder_ = std::move(other.holder_);
            on_calling_thread_ = other.on_calling_thread_;
        }
        return *this;
    }
    basic_async_robust_mutex(const basic_async_robust_mutex&) = delete;
    basic_async_robust_mutex& operator=(const basic_async_robust_mutex&) = delete;
    /// close().
    ~basic_async_robust_mutex() = default;

    /// The executor the object's operations complete on by default.
    executor_type get_executor() const noexcept { return executor_; }

    /// @{
    /// Opens or creates `name` as pipc::robust_mutex::open does. An open object is closed
    /// first (see close()), but only once the new mutex is open: a failed open changes nothing.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    void open(std::string_view name, const options& opts) { adopt(robust_mutex(name, opts)); }
    void open(std::string_view name, const options& opts, error_code& ec) {
        robust_mutex m;
        m.open(name, opts, ec);
        if (!ec) adopt(std::move(m));
    }
    /// @}
    /// @{
    /// Creates a mutex under a fresh unique name, as pipc::robust_mutex::open(unique_name_t).
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    void open(unique_name_t, const options& opts) { adopt(robust_mutex(unique_name, opts)); }
    void open(unique_name_t, const options& opts, error_code& ec) {
        robust_mutex m;
        m.open(unique_name, opts, ec);
        if (!ec) adopt(std::move(m));
    }
    /// @}

    /// True between a successful open and close.
    bool is_open() const noexcept { return holder_ != nullptr; }
    /// The underlying handle, for name(), created() and permissions(). Its lock calls belong to
    /// the holder thread: do not call them. On a closed object: a closed handle.
    const robust_mutex& core() const noexcept {
        static const robust_mutex closed{};
        return holder_ ? holder_->core() : closed;
    }
    /// True while this object owns a lock delivered by async_lock* (until unlock()).
    bool owns_lock() const noexcept { return holder_ && holder_->owns_lock(); }
    /// True while the owned lock was delivered with lock_result::owner_dead and consistent() has
    /// not been called.
    bool inconsistent() const noexcept { return holder_ && holder_->inconsistent(); }

    /// @{
    /// The opt-in uncontended fast path ("lock on the calling thread"), off by default.
    ///
    /// When on, an async_lock* finding nothing of this object queued or held first tries the
    /// lock once on the calling thread (a pthread_mutex_clocklock that never waits). If that
    /// succeeds, the calling thread owns the lock and the completion is posted to the
    /// executor (not run inside the call): no holder thread is involved. Otherwise the request
    /// goes to the holder thread as usual. A lock taken this way must be unlocked (and
    /// repaired with consistent()) **from the thread that called async_lock**: from any other
    /// thread unlock() and consistent() fail with errc::not_owner and change nothing. Use it
    /// where handlers run on the thread that initiated the lock (an io_context run by one
    /// thread, or a strand that stays on one), e.g. a coroutine on a single-threaded context.
    ///
    /// Differences from the holder path, all for locks the fast path took: close() and the
    /// destructor leave a delivered lock held by that thread, like robust_mutex::close() (the
    /// next locker waits until the thread ends, then sees owner_dead), instead of owner-dead at
    /// once; a lock granted but never delivered (close() first, or the completion destroyed
    /// with its execution context) is released only on the owning thread, or left held by it
    /// when it was taken with owner_dead or the completion is destroyed on another thread.
    /// Cancellation is unchanged: the fast path grants at once, so a later cancellation has no
    /// effect and the operation succeeds. See docs/robust_mutex.md ("Cost").
    void set_lock_on_calling_thread(bool on) noexcept { on_calling_thread_ = on; }
    bool lock_on_calling_thread() const noexcept { return on_calling_thread_; }
    /// @}

    /// Waits until this object owns the mutex, without blocking the calling thread.
    ///
    /// The handler is not called inside this call, unless an immediate error (closed object,
    /// NaN timeout) goes to its associated immediate executor (Boost >= 1.82) that runs it there.
    /// The lock is taken by the object's holder thread (started by the first lock), which posts
    /// the result to the executor.
    ///
    /// @param token The completion token (a callback, use_awaitable, deferred, use_future,
    /// as_tuple(...), ...); the default is the executor's default token.
    ///
    /// @par Completion Signature
    /// @code void(pipc::error_code ec, pipc::lock_result result) @endcode
    /// With an empty `ec` the lock is owned: `result` is lock_result::acquired, or
    /// lock_result::owner_dead when the previous owner died holding it (repair, consistent(),
    /// then unlock()). With an error nothing is held and `result` is meaningless.
    ///
    /// @par Errors
    /// boost::asio::error::operation_aborted (cancelled, cancel(), or the object closed or
    /// destroyed meanwhile), errc::closed (the object is closed), errc::not_recoverable
    /// (condition::existential: an earlier owner unlocked it without consistent()), or the
    /// errno of a holder thread that could not be started (EAGAIN,
    /// `errc::resource_unavailable_try_again`, under RLIMIT_NPROC or without memory for its
    /// stack): every lock queued for it fails so, and the next lock tries to start one again.
    ///
    /// @par Per-Operation Cancellation
    /// Supports @c terminal and @c partial: the operation completes with operation_aborted at
    /// once and never leaves the mutex held; if the holder thread took the lock a moment before
    /// the cancellation arrived, it releases it right away (other processes may see it taken
    /// briefly), or, when taken with owner_dead, leaves it owner-dead for the next locker. If
    /// the lock was granted first, the cancellation has no effect and the operation succeeds.
    /// @c total is not supported (the brief hold is a visible side effect). Coroutines
    /// (use_awaitable) pass only terminal cancellation unless their filter is reset.
    ///
    /// @par Thread safety
    /// See the class.
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, lock_result))
                  Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_lock(Token&& token = Token()) {
        return boost::asio::async_initiate<Token, void(error_code, lock_result)>(
            initiate_lock{this}, token, detail::deadline{{}, true}, error_code{});
    }

    /// Like async_lock, but completes with `ETIMEDOUT` (system_category, so
    /// `ec == pipc::condition::busy`), holding nothing, when the lock was not obtained within
    /// `d`, measured on CLOCK_MONOTONIC. A non-positive duration makes a single try; NaN
    /// completes with errc::invalid_timeout. The deadline also ends a wait in the queue: behind
    /// the lock this object holds, or behind an earlier lock of this object still waiting (then
    /// up to one slice, 10 ms, late if it was queued while the holder already waited).
    ///
    /// @param d The longest wait; any std::chrono duration.
    /// @param token The completion token, as for async_lock.
    ///
    /// @par Completion Signature
    /// @code void(pipc::error_code ec, pipc::lock_result result) @endcode
    ///
    /// @par Per-Operation Cancellation
    /// As async_lock.
    template <class Rep, class Period,
              BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, lock_result))
                  Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_lock_for(std::chrono::duration<Rep, Period> d, Token&& token = Token()) {
        error_code ec;
        const auto dl = detail::deadline_after(d, ec);
        return boost::asio::async_initiate<Token, void(error_code, lock_result)>(
            initiate_lock{this}, token, dl, ec);
    }

    /// async_lock_for with an absolute deadline on any clock (measured once, now, against the
    /// steady clock).
    ///
    /// @param tp The deadline; a past one makes a single try.
    /// @param token The completion token, as for async_lock.
    ///
    /// @par Completion Signature
    /// @code void(pipc::error_code ec, pipc::lock_result result) @endcode
    ///
    /// @par Per-Operation Cancellation
    /// As async_lock.
    template <class Clock, class Duration,
              BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, lock_result))
                  Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_lock_until(std::chrono::time_point<Clock, Duration> tp, Token&& token = Token()) {
        error_code ec;
        const auto dl = detail::deadline_at(tp, ec);
        return boost::asio::async_initiate<Token, void(error_code, lock_result)>(
            initiate_lock{this}, token, dl, ec);
    }

    /// @{
    /// Releases the lock this object owns: hands the release to the holder thread and returns
    /// (it happens a few microseconds later, before any lock this object requests afterwards;
    /// writes made before unlock() are visible to the next owner). A lock the fast path took
    /// (set_lock_on_calling_thread) is released inline, and only from its thread. Fails with
    /// errc::not_owner (condition::permissions) when this object owns no delivered lock or the
    /// fast path took it on another thread, errc::closed when closed. Unlocking while
    /// inconsistent() makes the mutex not recoverable for every process.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    void unlock(error_code& ec) {
        if (!holder_) {
            ec = make_error_code(errc::closed);
            return;
        }
        holder_->unlock(ec);
    }
    void unlock() {
        error_code ec;
        unlock(ec);
        if (ec) throw_error(ec, "async_robust_mutex::unlock");
    }
    /// @}

    /// @{
    /// Marks the state protected by a lock delivered with owner_dead as repaired (the holder
    /// thread calls pthread_mutex_consistent before anything else it is asked afterwards); the
    /// lock stays owned. Fails with errc::not_owner unless inconsistent(), errc::closed when
    /// closed. @throws pipc::error (the `ec` form sets `ec` instead).
    void consistent(error_code& ec) {
        if (!holder_) {
            ec = make_error_code(errc::closed);
            return;
        }
        holder_->consistent(ec);
    }
    void consistent() {
        error_code ec;
        consistent(ec);
        if (ec) throw_error(ec, "async_robust_mutex::consistent");
    }
    /// @}

    /// Completes every pending lock with operation_aborted; none of them leaves the mutex held.
    /// A lock already owned stays owned. Never fails.
    void cancel() {
        if (holder_) holder_->cancel();
    }

    /// @{
    /// Cancels pending locks, ends the holder thread (waiting for it at most one slice, 10 ms)
    /// and closes the handle. A lock this object owns is not unlocked: the ending thread holds
    /// it, so the next locker sees owner_dead. Never fails; closing a closed object does nothing.
    void close() { holder_.reset(); }
    void close(error_code& ec) {
        ec = {};
        holder_.reset();
    }
    /// @}

    /// @{
    /// Removes the name (see robust_mutex::unlink); the object stays usable. Closed:
    /// errc::closed. @throws pipc::error (the `ec` form sets `ec` instead).
    void unlink(error_code& ec) {
        if (!holder_) {
            ec = make_error_code(errc::closed);
            return;
        }
        robust_mutex::unlink(holder_->core().name(), ec);
    }
    void unlink() {
        error_code ec;
        unlink(ec);
        if (ec) throw_error(ec, "async_robust_mutex::unlink");
    }
    /// @}

private:
    void adopt(robust_mutex&& m) {
        auto h = std::make_unique<detail::robust_lock_holder>(std::move(m));
        holder_ = std::move(h);
    }

    struct initiate_lock {
        basic_async_robust_mutex* self;

        using executor_type = Executor;
        executor_type get_executor() const noexcept { return self->executor_; }

        template <class Handler>
        void operator()(Handler&& handler, detail::deadline dl, error_code ec) const {
            namespace asio = boost::asio;
            if (!ec && !self->holder_) ec = make_error_code(errc::closed);
            if (ec) {
                detail::complete_immediately(
                    self->executor_, asio::detail::bind_handler(std::forward<Handler>(handler), ec,
                                                                lock_result::acquired));
                return;
            }
            self->holder_->async_lock(asio::any_io_executor(self->executor_),
                                      asio::any_completion_handler<void(error_code, lock_result)>(
                                          std::forward<Handler>(handler)),
                                      dl, self->on_calling_thread_);
        }
    };

    Executor executor_;
    std::unique_ptr<detail::robust_lock_holder> holder_;
    bool on_calling_thread_ = false;
};

/// basic_async_robust_mutex on boost::asio::any_io_executor.
using async_robust_mutex = basic_async_robust_mutex<>;

} // namespace pipc
