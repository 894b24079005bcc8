// SPDX-License-Identifier: BSL-1.0
// pipc/asio/async_semaphore.hpp - a named POSIX semaphore as a Boost.Asio I/O object.
#pragma once

#include <pipc/asio/detail/immediate_completion.hpp>
#include <pipc/asio/semaphore_waiter_service.hpp>
#include <pipc/detail/deadline.hpp>
#include <pipc/error.hpp>
#include <pipc/semaphore.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>

#include <semaphore.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>

namespace pipc {

namespace detail {

/// Wraps the handler of an acquire that took its unit on the initiating thread. If the posted
/// completion is destroyed without running (its execution context went away first), the unit
/// goes back with sem_post, so nothing is lost to other processes.
template <class Handler>
class unit_holding_handler {
public:
    template <class H>
    unit_holding_handler(H&& h, std::shared_ptr<async_semaphore_state> st)
        : handler_(std::forward<H>(h)), state_(std::move(st)) {}
    unit_holding_handler(unit_holding_handler&&) noexcept(
        std::is_nothrow_move_constructible_v<Handler>) = default;
    unit_holding_handler& operator=(unit_holding_handler&&) = delete;
    ~unit_holding_handler() {
        if (state_) ::sem_post(state_->raw);
    }

    void operator()() {
        state_.reset();
        std::move(handler_)(error_code{});
    }

    const Handler& get() const noexcept { return handler_; }

private:
    Handler handler_;
    std::shared_ptr<async_semaphore_state> state_;
};

} // namespace detail

/// A named POSIX semaphore as an Asio I/O object: posix_ipc's `Semaphore` with `co_await`-able
/// acquires alongside the blocking calls of pipc::semaphore.
///
/// A semaphore has no descriptor to poll, so an acquire that cannot be satisfied at once is
/// handed to the execution context's semaphore_waiter_service, whose helper thread sleeps in
/// sem_clockwait and posts the result back. An acquire on a free semaphore takes the unit with
/// sem_trywait on the calling thread (no thread hop) and completes as Asio's objects do (through
/// the handler's immediate executor on Boost >= 1.82, a post by default), or, when the
/// completion only resumes a coroutine suspended on it (with use_awaitable, or awaiting the
/// deferred operation itself), by resuming it from the thread's trampoline (at most 64 in a row
/// per thread; see async_message_queue's "Completion at once").
///
/// @par Spinning
/// With a spinning wait strategy (semaphore_options::wait, or set_wait_strategy), an acquire
/// that finds no free unit retries sem_trywait (no system call) on the initiating thread for at
/// most the strategy's budget per initiation (20 us by default; adaptive() learns a smaller one,
/// or none; never past the acquire's deadline) before it is handed to the waiter service. That
/// budget bounds how long one initiation keeps the thread from the io_context's other work; an
/// acquire that gets its unit at the first try, or has an older acquire of this object queued,
/// never spins. A unit taken while spinning completes as a free semaphore does (above).
///
/// @par Nothing lost
/// An acquire that completes with an error (operation_aborted, a timeout) holds no unit. If a
/// helper took a unit for an acquire whose result can no longer be delivered (cancelled in the
/// meantime, the I/O object or the execution context destroyed), the unit goes back with
/// sem_post. Pending acquires are destroyed without being invoked when the execution context
/// shuts down, as Asio does for every operation.
///
/// @par Thread safety
/// Distinct objects: safe. Shared object: `async_acquire*`, `cancel` and the blocking calls may
/// overlap (the service serialises the queue); `open`, `close`, moves and destruction may not
/// overlap with anything else. The table for every pipc object is in docs/design.md.
///
/// @par Exception safety
/// Constructors and open() mirror pipc::semaphore's, throwing and with an `error_code&` twin;
/// a failed open changes nothing (an open object keeps its semaphore and pending acquires).
template <class Executor = boost::asio::any_io_executor>
class basic_async_semaphore {
public:
    /// The type of the executor the object's operations complete on by default.
    using executor_type = Executor;
    /// The native handle: the POSIX semaphore.
    using native_handle_type = ::sem_t*;
    /// The options type of pipc::semaphore (open mode, permissions, initial value).
    using options = semaphore_options;

    /// Rebinds the semaphore type to another executor (for `as_default_on` and friends).
    template <class Executor1>
    struct rebind_executor {
        using other = basic_async_semaphore<Executor1>; ///< The rebound type.
    };

    /// @{
    /// A closed semaphore on `ex` (or on `ctx`'s executor); open it with open() or by
    /// move-assignment.
    explicit basic_async_semaphore(const executor_type& ex)
        : executor_(ex), service_(&service_for(ex)) {}

    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
    explicit basic_async_semaphore(ExecutionContext& ctx)
        : basic_async_semaphore(executor_type(ctx.get_executor())) {}
    /// @}

    /// @{
    /// Opens or creates `name` as `opts` says (see pipc::semaphore). @throws pipc::error
    basic_async_semaphore(const executor_type& ex, std::string_view name, const options& opts = {})
        : basic_async_semaphore(ex, pipc::semaphore(name, opts)) {}

    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
    basic_async_semaphore(ExecutionContext& ctx, std::string_view name, const options& opts = {})
        : basic_async_semaphore(executor_type(ctx.get_executor()), name, opts) {}
    /// @}

    /// @{
    /// Creates a semaphore under a fresh unique name (see pipc::semaphore). @throws pipc::error
    basic_async_semaphore(const executor_type& ex, unique_name_t, const options& opts = {})
        : basic_async_semaphore(ex, pipc::semaphore(unique_name, opts)) {}

    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
    basic_async_semaphore(ExecutionContext& ctx, unique_name_t, const options& opts = {})
        : basic_async_semaphore(executor_type(ctx.get_executor()), unique_name, opts) {}
    /// @}

    /// @{
    /// Takes over an open core semaphore (a closed one gives a closed object).
    basic_async_semaphore(const executor_type& ex, pipc::semaphore&& sem)
        : executor_(ex), service_(&service_for(ex)) {
        if (sem.is_open())
            state_ = std::make_shared<detail::async_semaphore_state>(
                std::make_shared<pipc::semaphore>(std::move(sem)));
    }

    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
    basic_async_semaphore(ExecutionContext& ctx, pipc::semaphore&& sem)
        : basic_async_semaphore(executor_type(ctx.get_executor()), std::move(sem)) {}
    /// @}

    /// Takes over `other`'s semaphore and pending acquires; `other` is left closed.
    basic_async_semaphore(basic_async_semaphore&& other) noexcept
        : executor_(other.executor_), service_(other.service_), state_(std::move(other.state_)) {}

    /// Moves from a semaphore bound to another (convertible) executor. Pending acquires keep
    /// completing on the executor they were started with.
    template <class Executor1>
    requires std::is_constructible_v<Executor, const Executor1&>
    basic_async_semaphore(basic_async_semaphore<Executor1>&& other)
        : executor_(other.executor_), service_(other.service_), state_(std::move(other.state_)) {}

    /// Closes this object (its pending acquires complete with operation_aborted), then takes
    /// over `other`'s semaphore and pending acquires; `other` is left closed.
    basic_async_semaphore& operator=(basic_async_semaphore&& other) noexcept {
        if (this != &other) {
            close_impl();
            executor_ = other.executor_;
            service_ = other.service_;
            state_ = std::move(other.state_);
        }
        return *this;
    }

    basic_async_semaphore(const basic_async_semaphore&) = delete;
    basic_async_semaphore& operator=(const basic_async_semaphore&) = delete;

    /// Cancels pending acquires (operation_aborted) and closes; never unlinks.
    ~basic_async_semaphore() { close_impl(); }

    /// The executor the object's operations complete on by default.
    executor_type get_executor() const noexcept { return executor_; }

    /// @{
    /// Opens or creates `name` as `opts` says, as pipc::semaphore::open. An open object is
    /// closed first (its pending acquires complete with operation_aborted), but only once the new
    /// semaphore is open: a failed open changes nothing.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    void open(std::string_view name, const options& opts) {
        pipc::semaphore sem(name, opts);
        adopt(std::move(sem));
    }
    void open(std::string_view name, const options& opts, error_code& ec) {
        pipc::semaphore sem;
        sem.open(name, opts, ec);
        if (!ec) adopt(std::move(sem));
    }
    /// @}
    /// @{
    /// Creates a semaphore under a fresh unique name, as pipc::semaphore::open(unique_name_t).
    void open(unique_name_t, const options& opts) {
        pipc::semaphore sem(unique_name, opts);
        adopt(std::move(sem));
    }
    void open(unique_name_t, const options& opts, error_code& ec) {
        pipc::semaphore sem;
        sem.open(unique_name, opts, ec);
        if (!ec) adopt(std::move(sem));
    }
    /// @}

    /// True between a successful open and close.
    bool is_open() const noexcept { return state_ != nullptr; }
    /// The sem_t*; stays valid until close() (and while the helper still needs it, after that).
    native_handle_type native_handle() const noexcept { return state_ ? state_->raw : nullptr; }
    /// The underlying core semaphore, for its accessors (name(), created(), permissions()...).
    /// On a closed object: a closed core semaphore, on which every call reports errc::closed.
    const pipc::semaphore& core() const noexcept { return state_ ? *state_->sem : closed_core(); }

    /// The wait strategy of the core semaphore (semaphore_options::wait at open); a closed
    /// object gives a block() strategy.
    const wait_strategy& strategy() const noexcept { return core().strategy(); }
    /// @{
    /// Replaces the wait strategy of the core semaphore. It rules the blocking acquires and the
    /// asynchronous ones alike: an async_acquire* that finds no free unit (and no older acquire of
    /// this object queued) retries sem_trywait on the initiating thread for at most one budget
    /// of the strategy (never past its deadline) before it goes to the semaphore_waiter_service.
    /// Not while an acquire is under way. A closed object reports errc::closed.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    void set_wait_strategy(const wait_strategy& w) { checked().set_wait_strategy(w); }
    void set_wait_strategy(const wait_strategy& w, error_code& ec) {
        if (auto* s = get(ec)) s->set_wait_strategy(w);
    }
    /// @}

    /// Completes every pending acquire with operation_aborted at once; none of them holds a unit
    /// (a unit a helper takes for one of them afterwards goes back with sem_post). Acquires
    /// started afterwards are not affected. Safe concurrently with the async and blocking calls.
    void cancel() {
        if (state_) service_->cancel(*state_);
    }

    /// @{
    /// Cancels pending acquires and lets go of the handle. The sem_close happens when the helper
    /// thread no longer needs it (so it never unmaps memory under a sleeping sem_clockwait).
    /// Never fails; closing a closed object does nothing.
    void close() { close_impl(); }
    void close(error_code& ec) {
        ec = {};
        close_impl();
    }
    /// @}

    /// @{
    /// Removes the name (sem_unlink); the object stays usable. Closed: errc::closed.
    void unlink() { checked().unlink(); }
    void unlink(error_code& ec) {
        if (auto* s = get(ec)) s->unlink(ec);
    }
    /// @}

    /// @name Blocking calls
    /// Forwarded to pipc::semaphore, with its rules and errors; a closed object reports
    /// errc::closed. They block the calling thread and do not queue behind async waiters.
    /// @{

    /// pipc::semaphore::acquire.
    void acquire() { checked().acquire(); }
    /// pipc::semaphore::acquire.
    void acquire(error_code& ec) {
        if (auto* s = get(ec)) s->acquire(ec);
    }
    /// pipc::semaphore::try_acquire.
    bool try_acquire() { return checked().try_acquire(); }
    /// pipc::semaphore::try_acquire.
    bool try_acquire(error_code& ec) {
        auto* s = get(ec);
        return s ? s->try_acquire(ec) : false;
    }
    /// pipc::semaphore::try_acquire_for.
    template <class Rep, class Period>
    bool try_acquire_for(std::chrono::duration<Rep, Period> d) {
        return checked().try_acquire_for(d);
    }
    /// pipc::semaphore::try_acquire_for.
    template <class Rep, class Period>
    bool try_acquire_for(std::chrono::duration<Rep, Period> d, error_code& ec) {
        auto* s = get(ec);
        return s ? s->try_acquire_for(d, ec) : false;
    }
    /// pipc::semaphore::try_acquire_until.
    template <class Clock, class Duration>
    bool try_acquire_until(std::chrono::time_point<Clock, Duration> tp) {
        return checked().try_acquire_until(tp);
    }
    /// pipc::semaphore::try_acquire_until.
    template <class Clock, class Duration>
    bool try_acquire_until(std::chrono::time_point<Clock, Duration> tp, error_code& ec) {
        auto* s = get(ec);
        return s ? s->try_acquire_until(tp, ec) : false;
    }
    /// pipc::semaphore::release: wakes async waiters of any process, first come, first served
    /// among this object's.
    void release(std::ptrdiff_t n = 1) { checked().release(n); }
    /// pipc::semaphore::release.
    void release(std::ptrdiff_t n, error_code& ec) {
        if (auto* s = get(ec)) s->release(n, ec);
    }
    /// pipc::semaphore::value.
    int value() const { return checked().value(); }
    /// pipc::semaphore::value.
    int value(error_code& ec) const {
        auto* s = get(ec);
        return s ? s->value(ec) : 0;
    }
    /// @}

    /// Waits until the semaphore can be decremented, then decrements it.
    ///
    /// The handler is not called inside this call, unless its associated immediate executor
    /// (Boost >= 1.82) runs it there. A free semaphore (and no earlier acquire of this object
    /// still queued) is taken with sem_trywait right here and completed through the handler's
    /// immediate executor, a post by default (a co_await with use_awaitable is resumed
    /// directly, see above); otherwise
    /// a helper thread of the context's semaphore_waiter_service waits. Acquires of one object
    /// are served first come, first served.
    ///
    /// @param token The completion token (a callback, use_awaitable, deferred, use_future,
    /// as_tuple(...), ...); the default is the executor's default token.
    ///
    /// @par Completion Signature
    /// @code void(pipc::error_code ec) @endcode
    ///
    /// @par Errors
    /// `ec` is empty when a unit was acquired. Otherwise no unit is held, and `ec` is
    /// boost::asio::error::operation_aborted (cancelled, or the object closed or destroyed
    /// meanwhile), errc::closed (the object is closed), the errno of a failed sem_trywait or
    /// sem_clockwait (e.g. EINVAL), or that of a helper thread that could not be started while
    /// none was alive (EAGAIN, `errc::resource_unavailable_try_again`, under RLIMIT_NPROC or
    /// without memory for its stack; the next acquire tries to start one again).
    ///
    /// @par Thread safety
    /// May be called concurrently with the other async_acquire* calls, cancel() and the blocking
    /// calls on the same object; not concurrently with open, close, moves or destruction.
    ///
    /// @par Per-Operation Cancellation
    /// Supports @c terminal, @c partial and @c total. None of them ever leaves a unit acquired on
    /// an aborted operation; if the unit arrived first, the operation completes with success.
    /// - @c terminal: completes with operation_aborted at once; a unit the helper takes for it a
    ///   moment later goes straight back with sem_post (other processes may briefly see it taken).
    /// - @c partial / @c total: side-effect free. With the futex_waitv helpers (the default on
    ///   Linux >= 5.16 with glibc) it completes at once. With the fallback helpers it completes at
    ///   once when other acquires of this object stay queued (the helper's unit then goes to
    ///   them) or no helper is waiting yet; when it is the only waiter with a helper asleep on
    ///   it, at the helper's next wake-up: within one slice (config::slice, 20 ms by default).
    /// Coroutines (use_awaitable) pass only terminal cancellation unless their filter is reset.
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code))
                  Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_acquire(Token&& token = Token()) {
        return boost::asio::async_initiate<Token, void(error_code)>(
            initiate_acquire<detail::direct_resumption_token<Token>>{this}, token,
            detail::deadline{{}, true}, error_code{});
    }

    /// Like async_acquire, but completes with `ETIMEDOUT` (system_category, so
    /// `ec == pipc::condition::busy`) when no unit was acquired within `d`. A non-positive
    /// duration makes a single try; NaN completes with errc::invalid_timeout.
    ///
    /// The deadline is measured on CLOCK_MONOTONIC. With the futex_waitv helpers it is exact;
    /// with the fallback helpers, one added while the helper already sleeps for earlier acquires
    /// of the same object may fire up to one slice late.
    ///
    /// @param d The longest wait; any std::chrono duration.
    /// @param token The completion token, as for async_acquire.
    ///
    /// @par Completion Signature
    /// @code void(pipc::error_code ec) @endcode
    ///
    /// @par Errors
    /// Those of async_acquire, plus `ETIMEDOUT` (`ec == pipc::condition::busy`) when the
    /// deadline passed first and errc::invalid_timeout for a NaN duration.
    ///
    /// @par Per-Operation Cancellation
    /// As async_acquire.
    ///
    /// @par Thread safety
    /// As async_acquire.
    template <class Rep, class Period,
              BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code))
                  Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_acquire_for(std::chrono::duration<Rep, Period> d, Token&& token = Token()) {
        error_code ec;
        const auto dl = detail::deadline_after(d, ec);
        return boost::asio::async_initiate<Token, void(error_code)>(
            initiate_acquire<detail::direct_resumption_token<Token>>{this}, token, dl, ec);
    }

    /// async_acquire_for with an absolute deadline on any clock (measured once, now, against
    /// the steady clock).
    ///
    /// @param tp The deadline; a time point of any clock. A past one makes a single try.
    /// @param token The completion token, as for async_acquire.
    ///
    /// @par Completion Signature
    /// @code void(pipc::error_code ec) @endcode
    ///
    /// @par Errors
    /// As async_acquire_for.
    ///
    /// @par Per-Operation Cancellation
    /// As async_acquire.
    ///
    /// @par Thread safety
    /// As async_acquire.
    template <class Clock, class Duration,
              BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code))
                  Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_acquire_until(std::chrono::time_point<Clock, Duration> tp, Token&& token = Token()) {
        error_code ec;
        const auto dl = detail::deadline_at(tp, ec);
        return boost::asio::async_initiate<Token, void(error_code)>(
            initiate_acquire<detail::direct_resumption_token<Token>>{this}, token, dl, ec);
    }

private:
    template <class>
    friend class basic_async_semaphore;

    static semaphore_waiter_service& service_for(const executor_type& ex) {
        return boost::asio::use_service<semaphore_waiter_service>(
            boost::asio::query(ex, boost::asio::execution::context));
    }

    static const pipc::semaphore& closed_core() noexcept {
        static const pipc::semaphore closed{}; // stays closed: only const calls reach it
        return closed;
    }

    void adopt(pipc::semaphore&& sem) {
        auto st = std::make_shared<detail::async_semaphore_state>(
            std::make_shared<pipc::semaphore>(std::move(sem)));
        close_impl();
        state_ = std::move(st);
    }

    pipc::semaphore& checked() const {
        if (!state_) throw_error(make_error_code(errc::closed), "async_semaphore");
        return *state_->sem;
    }
    pipc::semaphore* get(error_code& ec) const {
        ec = state_ ? error_code{} : make_error_code(errc::closed);
        return state_ ? state_->sem.get() : nullptr;
    }

    void close_impl() {
        if (!state_) return;
        service_->cancel(*state_);
        state_.reset(); // the last owner (perhaps a helper, later) calls sem_close
    }

    // One sem_trywait (a user-space atomic): 0 when a unit was taken, else the errno.
    static int take(::sem_t* raw) noexcept {
        int rc;
        while ((rc = ::sem_trywait(raw)) != 0 && errno == EINTR) {
        }
        return rc == 0 ? 0 : errno;
    }

    template <detail::direct_resumption DirectToken>
    struct initiate_acquire {
        basic_async_semaphore* self;

        using executor_type = Executor;
        executor_type get_executor() const noexcept { return self->executor_; }

        template <class Handler>
        void operator()(Handler&& handler, detail::deadline dl, error_code ec) const {
            namespace asio = boost::asio;
            const auto& st = self->state_;
            if (!ec && !st) ec = make_error_code(errc::closed);
            if (!ec && st->queued.load(std::memory_order_acquire) == 0) {
                int err = take(st->raw);
                // Spinning (a spinning wait strategy only): at most one budget, on this thread,
                // never past the deadline, never when the acquire is over anyway.
                if (err == EAGAIN && (dl.infinite || dl.when > std::chrono::steady_clock::now())) {
                    auto& w = st->sem->strategy();
                    const auto poll = [&] { return (err = take(st->raw)) != EAGAIN; };
                    if (dl.infinite)
                        w.spin_until(poll);
                    else
                        w.spin_until(poll, dl.when);
                }
                if (err == 0) {
                    // A coroutine suspended on this acquire resumes at once (see
                    // immediate_completion.hpp); anything else gets the unit through a post.
                    constexpr auto resumption =
                        detail::resumption_for<DirectToken, std::decay_t<Handler>>;
                    if constexpr (resumption == detail::direct_resumption::after) {
                        // Perhaps posted: the unit goes back if the handler is destroyed.
                        auto bound = asio::detail::bind_handler(
                            detail::unit_holding_handler<std::decay_t<Handler>>(
                                std::forward<Handler>(handler), st));
                        return detail::resume_directly<resumption>(self->executor_, bound);
                    } else if (detail::may_resume_directly<resumption>()) {
                        return detail::resume_directly<resumption>(self->executor_, handler,
                                                                   error_code{});
                    }
                    // Otherwise as Asio's own objects complete at once: to the handler's
                    // immediate executor on Boost >= 1.82, a post before.
                    detail::complete_immediately(
                        self->executor_, asio::detail::bind_handler(
                                             detail::unit_holding_handler<std::decay_t<Handler>>(
                                                 std::forward<Handler>(handler), st)));
                    return;
                }
                if (err != EAGAIN) ec = error_code(err, boost::system::system_category());
            }
            // An expired deadline (a zero timeout) is a try: it never waits behind others.
            if (!ec && !dl.infinite && dl.when <= std::chrono::steady_clock::now())
                ec = error_code(ETIMEDOUT, boost::system::system_category());
            if (ec) {
                detail::complete_immediately(
                    self->executor_,
                    asio::detail::bind_handler(std::forward<Handler>(handler), ec));
                return;
            }
            self->service_->async_acquire(
                st, asio::any_io_executor(self->executor_),
                asio::any_completion_handler<void(error_code)>(std::forward<Handler>(handler)), dl);
        }
    };

    Executor executor_;
    semaphore_waiter_service* service_;
    std::shared_ptr<detail::async_semaphore_state> state_;
};

/// basic_async_semaphore on boost::asio::any_io_executor.
using async_semaphore = basic_async_semaphore<>;

} // namespace pipc

/// @cond PIPC_INTERNAL
/// The give-back wrapper is transparent to Asio: executor, allocator and cancellation slot of the
/// wrapped handler are its own.
template <template <class, class> class Associator, class Handler, class DefaultCandidate>
struct boost::asio::associator<Associator, pipc::detail::unit_holding_handler<Handler>,
                               DefaultCandidate> : Associator<Handler, DefaultCandidate> {
    static typename Associator<Handler, DefaultCandidate>::type
    get(const pipc::detail::unit_holding_handler<Handler>& h,
        const DefaultCandidate& c = DefaultCandidate()) noexcept {
        return Associator<Handler, DefaultCandidate>::get(h.get(), c);
    }
};
/// @endcond
