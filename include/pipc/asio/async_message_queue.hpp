// SPDX-License-Identifier: BSL-1.0
// pipc/asio/async_message_queue.hpp - a POSIX message queue as a Boost.Asio I/O object.
#pragma once

#include <pipc/asio/detail/async_mq_state.hpp>
#include <pipc/asio/detail/immediate_completion.hpp>
#include <pipc/asio/detail/mq_config.hpp>
#include <pipc/asio/detail/mq_timed_op.hpp>
#include <pipc/asio/detail/start_mq_op.hpp>
#include <pipc/asio/mq_backend.hpp>
#include <pipc/detail/deadline.hpp>
#include <pipc/error.hpp>
#include <pipc/message_queue.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detail/bind_handler.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/wait_traits.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace pipc {
inline namespace PIPC_ASIO_MQ_PATH_NAMESPACE {

/// A POSIX message queue as a Boost.Asio I/O object: `co_await q.async_receive(...)` next to
/// sockets and timers, with the blocking calls of pipc::message_queue alongside.
///
/// Shaped like `boost::asio::posix::basic_descriptor`: templated on the executor, move-only,
/// `cancel`, `close`, `release`. The object owns a pipc::message_queue; the destructor closes it
/// and never unlinks the name.
///
/// @par Cancellation that loses nothing
/// An operation that completes with `operation_aborted` moved no message: a cancelled receive
/// consumed none, a cancelled send queued none. Once the message has moved, the operation
/// completes with success even if cancellation was requested meanwhile. This holds for
/// per-operation cancellation (terminal, partial, total), cancel(), close() and destruction.
/// The one exception is Asio's: when the io_context is destroyed (or stopped and never run
/// again) after a receive took its message but before its handler ran, the handler is
/// destroyed without being called and the message is lost with it, as bytes read for a
/// destroyed socket handler are.
///
/// @par Completion at once
/// An operation that can complete at once (a message is waiting, there is room, or an argument
/// is bad) completes as Asio's own descriptors do: on Boost >= 1.82 through the handler's
/// associated immediate executor (`bind_immediate_executor`), which by default posts; before
/// 1.82 through a post. So a handler is never called inside the initiating function unless its
/// immediate executor does so. The exception is a coroutine suspended on the operation through
/// a plain `use_awaitable` (also under `as_tuple` or `redirect_error`): it is resumed directly,
/// which is indistinguishable for the coroutine and saves a scheduler pass, at most 64 times in a
/// row on a thread; the next such completion is posted, so other handlers still get their turn.
/// A coroutine that awaits the operation itself (`co_await q.async_receive(buf, deferred)`, and
/// `co_await q.async_receive(buf)` where deferred is the default token, Boost >= 1.87; also
/// `as_tuple(deferred)`) is resumed after the initiating function returned: from the thread's
/// running trampoline of such resumptions, or through a post that starts one. So 64 of them in a
/// row cost one scheduler pass, and the handler is never called inside the initiating function,
/// even when a user's own initiation invokes a deferred operation with that coroutine's handler.
///
/// @par Reactors
/// With Asio's epoll reactor (the default on Linux) the object hands the reactor operations of
/// its own (Asio's private detail::reactor API, the fastest path). With any other reactor
/// (`BOOST_ASIO_DISABLE_EPOLL`: select; io_uring as Asio's backend), or when
/// `PIPC_ASIO_PUBLIC_REACTOR_PATH` is defined, it waits with
/// `posix::stream_descriptor::async_wait` and then makes the non-blocking call, with the same
/// guarantees (nothing lost, no overtaking, completion at once as above). On that path Asio puts
/// the open file description in O_NONBLOCK while the object waits on it (as for any Asio
/// descriptor); close() and release() put the flag back as they found it.
///
/// @par Spinning
/// With a spinning wait strategy (message_queue::options::wait, or set_wait_strategy), an
/// operation that finds the queue not ready, and no older operation of its direction waiting,
/// retries the non-blocking call on the initiating thread for at most the strategy's budget
/// (per initiation, 20 us by default; adaptive() learns a smaller one, or none) before it goes
/// to the reactor. The budget bounds how long one initiation keeps the thread from the
/// io_context's other work; an operation that completes at its first attempt never spins. A
/// message taken while spinning completes at once (as above), so the guarantees stay: nothing
/// lost, no overtaking, no handler called inside the initiation except as described above.
///
/// @par Thread safety
/// Distinct objects: safe. Shared objects: unsafe, as for Asio's own I/O objects: run the
/// operations of one object on one thread or a strand. Operations may run on a multi-threaded
/// io_context; their internal steps synchronise among themselves.
///
/// @par Fork
/// A forked child must not use an object inherited from its parent (open its own); with the
/// notify backend the registration belongs to the parent process.
template <class Executor = boost::asio::any_io_executor>
class basic_async_message_queue {
    using state = detail::async_mq_state<Executor>;

public:
    /// The type of the executor the object's operations complete on by default.
    using executor_type = Executor;
    /// The native handle: the queue's message queue descriptor.
    using native_handle_type = ::mqd_t;

    /// Rebinds the queue type to another executor (`use_awaitable_t<>::as_default_on_t<...>`).
    template <class Executor1>
    struct rebind_executor {
        using other = basic_async_message_queue<Executor1>; ///< The rebound type.
    };

    /// @{
    /// A closed queue on `ex` (or on `ctx`'s executor); open() or assign() it later.
    explicit basic_async_message_queue(const executor_type& ex) : ex_(ex) {}

    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
    explicit basic_async_message_queue(ExecutionContext& ctx) : ex_(ctx.get_executor()) {}
    /// @}

    /// @{
    /// Opens or creates the queue `name` as `opts` says and waits on it with `backend`, as
    /// open() does. @throws pipc::error (a subclass per condition); a queue this call created is
    /// unlinked again when the backend cannot be attached, so a failure leaves nothing behind.
    basic_async_message_queue(const executor_type& ex, std::string_view name,
                              const message_queue::options& opts = {},
                              mq_backend backend = mq_backend::descriptor)
        : ex_(ex) {
        open(name, opts, backend);
    }

    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
    basic_async_message_queue(ExecutionContext& ctx, std::string_view name,
                              const message_queue::options& opts = {},
                              mq_backend backend = mq_backend::descriptor)
        : ex_(ctx.get_executor()) {
        open(name, opts, backend);
    }
    /// @}

    /// @{
    /// Creates a queue with a generated, unused name (core().name() tells it).
    /// @throws pipc::error; on failure no queue is left behind.
    basic_async_message_queue(const executor_type& ex, unique_name_t,
                              const message_queue::options& opts = {},
                              mq_backend backend = mq_backend::descriptor)
        : ex_(ex) {
        message_queue q(unique_name, opts);
        const std::string name = q.name();
        error_code ec;
        assign_or_remove(std::move(q), backend, ec);
        if (ec) throw_error(ec, "async_message_queue::open \"" + name + "\"");
    }

    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
    basic_async_message_queue(ExecutionContext& ctx, unique_name_t,
                              const message_queue::options& opts = {},
                              mq_backend backend = mq_backend::descriptor)
        : basic_async_message_queue(executor_type(ctx.get_executor()), unique_name, opts, backend) {
    }
    /// @}

    /// @{
    /// Takes over an open core queue, as assign() does (its notification registration, if any,
    /// must be free for the notify backend to use it). @throws pipc::error (errc::closed for a
    /// closed `queue`); on failure `queue` is closed, never unlinked.
    basic_async_message_queue(const executor_type& ex, message_queue&& queue,
                              mq_backend backend = mq_backend::descriptor)
        : ex_(ex) {
        assign(std::move(queue), backend);
    }

    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
    basic_async_message_queue(ExecutionContext& ctx, message_queue&& queue,
                              mq_backend backend = mq_backend::descriptor)
        : ex_(ctx.get_executor()) {
        assign(std::move(queue), backend);
    }
    /// @}

    /// Takes over `other`'s queue and pending operations, which keep running and complete as
    /// if started on this object; `other` is left closed.
    basic_async_message_queue(basic_async_message_queue&& other) noexcept
        : ex_(other.ex_), state_(std::move(other.state_)) {}

    /// Closes this object (its pending operations complete with operation_aborted, having moved
    /// no message), then takes over `other`'s queue and pending operations; `other` is left
    /// closed. A close error on the old queue is ignored: the move cannot fail.
    basic_async_message_queue& operator=(basic_async_message_queue&& other) noexcept {
        if (this != &other) {
            error_code ignored;
            close(ignored);
            ex_ = other.ex_;
            state_ = std::move(other.state_);
        }
        return *this;
    }

    /// Converting move from a queue on another (convertible) executor: takes over the open
    /// queue with release() and assign(), so the source must have no pending operations (they
    /// would complete with operation_aborted). @throws pipc::error when attaching the queue
    /// to this object fails (the queue is then closed).
    template <class Executor1>
    requires std::is_convertible_v<Executor1, Executor>
    basic_async_message_queue(basic_async_message_queue<Executor1>&& other)
        : ex_(other.get_executor()) {
        if (other.is_open()) {
            const auto backend = other.backend();
            assign(other.release(), backend);
        }
    }

    /// Converting move-assignment: closes this object, then takes over `other`'s open queue as
    /// the converting move does (so `other` must have no pending operations).
    /// @throws pipc::error when closing this object's queue or attaching the new one fails.
    template <class Executor1>
    requires std::is_convertible_v<Executor1, Executor> basic_async_message_queue&
    operator=(basic_async_message_queue<Executor1>&& other) {
        close();
        ex_ = other.get_executor();
        if (other.is_open()) {
            const auto backend = other.backend();
            assign(other.release(), backend);
        }
        return *this;
    }

    basic_async_message_queue(const basic_async_message_queue&) = delete;
    basic_async_message_queue& operator=(const basic_async_message_queue&) = delete;

    /// Cancels pending operations (they complete with operation_aborted) and closes the queue.
    ~basic_async_message_queue() {
        error_code ignored;
        close(ignored);
    }

    /// The executor the object's operations complete on by default.
    executor_type get_executor() const noexcept { return ex_; }

    // --- open / close ----------------------------------------------------------------------

    /// Opens or creates `name` as `opts` says (see pipc::message_queue::open) and waits on it
    /// with `backend`. On success an object that was open is closed first (its pending
    /// operations complete with operation_aborted); on failure `ec` says why (the core's errors:
    /// bad name, bad options, permissions, ...) and the object is left as it was, except when
    /// the new queue opened but the notify backend's socket could not: the object is then closed.
    ///
    /// @par Thread safety
    /// Not with any other call on this object.
    void open(std::string_view name, const message_queue::options& opts, mq_backend backend,
              error_code& ec) {
        message_queue q;
        q.open(name, opts, ec);
        if (!ec) assign_or_remove(std::move(q), backend, ec);
    }
    /// open() on the descriptor backend.
    void open(std::string_view name, const message_queue::options& opts, error_code& ec) {
        open(name, opts, mq_backend::descriptor, ec);
    }
    /// open(), throwing pipc::error (a subclass per condition) instead.
    void open(std::string_view name, const message_queue::options& opts = {},
              mq_backend backend = mq_backend::descriptor) {
        error_code ec;
        open(name, opts, backend, ec);
        if (ec) throw_error(ec, "async_message_queue::open \"" + std::string(name) + "\"");
    }
    /// Creates a queue with a generated, unused name (core().name() tells it), as
    /// pipc::message_queue::open(unique_name, ...) does; an open object is closed first.
    void open(unique_name_t, const message_queue::options& opts, mq_backend backend,
              error_code& ec) {
        message_queue q;
        q.open(unique_name, opts, ec);
        if (!ec) assign_or_remove(std::move(q), backend, ec);
    }
    /// open(unique_name, ...) on the descriptor backend.
    void open(unique_name_t, const message_queue::options& opts, error_code& ec) {
        open(unique_name, opts, mq_backend::descriptor, ec);
    }
    /// open(unique_name, ...), throwing pipc::error instead.
    void open(unique_name_t, const message_queue::options& opts = {},
              mq_backend backend = mq_backend::descriptor) {
        error_code ec;
        open(unique_name, opts, backend, ec);
        if (ec) throw_error(ec, "async_message_queue::open (unique name)");
    }

    /// @{
    /// Adopts an open core queue and waits on it with `backend`; an open object is closed
    /// first (its pending operations complete with operation_aborted). A closed `queue` gives
    /// errc::closed; the notify backend reports EBUSY when another process holds the queue's
    /// notification registration. On failure `queue` is closed (never unlinked) and this object
    /// is left closed. @throws pipc::error (the `ec` form sets `ec` instead).
    void assign(message_queue&& queue, mq_backend backend, error_code& ec) {
        close(ec);
        ec = {};
        if (!queue.is_open()) {
            ec = make_error_code(errc::closed);
            return;
        }
        auto st = std::make_shared<state>(ex_, backend);
        st->queue = std::move(queue);
        detail::attach(*st, ec);
        if (ec) return; // st's destructor closes the queue (and the socket, if any)
        state_ = std::move(st);
    }
    void assign(message_queue&& queue, mq_backend backend = mq_backend::descriptor) {
        error_code ec;
        const std::string name = queue.name();
        assign(std::move(queue), backend, ec);
        if (ec) throw_error(ec, "async_message_queue::assign \"" + name + "\"");
    }
    /// @}

    /// True between a successful open or assign and close, release or a move away.
    bool is_open() const noexcept { return state_ && state_->queue.is_open(); }
    /// The backend the object waits with (mq_backend::descriptor when closed).
    mq_backend backend() const noexcept {
        return state_ ? state_->backend : mq_backend::descriptor;
    }
    /// The mqd_t (-1 when closed).
    native_handle_type native_handle() const noexcept {
        return state_ ? state_->queue.native_handle() : -1;
    }
    /// The core queue, for its accessors (name(), max_message_size(), attributes(), ...).
    ///
    /// On a closed object: a closed pipc::message_queue (is_open() false, name() empty, every
    /// call reports pipc::errc::closed, or throws it) shared by all closed objects; never
    /// undefined behaviour.
    const message_queue& core() const noexcept { return state_ ? state_->queue : closed_core(); }

    /// @{
    /// Replaces the wait strategy of the core queue (pipc::message_queue::set_wait_strategy),
    /// which message_queue::options::wait sets at open. It rules the blocking calls and the
    /// asynchronous operations alike: an operation that cannot complete at its first attempt
    /// (and has no older operation of its direction waiting) polls the queue on the initiating
    /// thread for at most one budget of the strategy before it goes to the reactor (see
    /// "Spinning" above). Not while an operation is being initiated or performed on another
    /// thread. A closed object reports errc::closed.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    void set_wait_strategy(const wait_strategy& w, error_code& ec) {
        ec = state_ ? error_code{} : make_error_code(errc::closed);
        if (state_) state_->queue.set_wait_strategy(w);
    }
    void set_wait_strategy(const wait_strategy& w) {
        error_code ec;
        set_wait_strategy(w, ec);
        if (ec) throw_error(ec, "async_message_queue::set_wait_strategy");
    }
    /// @}

    /// @{
    /// Makes every pending operation complete with operation_aborted; none of them moves a
    /// message (one that already moved its message completes with success). Operations started
    /// afterwards are not affected and the object stays usable. A closed object reports
    /// errc::closed. @throws pipc::error (the `ec` form sets `ec` instead).
    void cancel(error_code& ec) {
        ec = {};
        if (!state_) {
            ec = make_error_code(errc::closed);
            return;
        }
        state_->cancel_waits();
    }
    void cancel() {
        error_code ec;
        cancel(ec);
        if (ec) throw_error(ec, "async_message_queue::cancel");
    }
    /// @}

    /// @{
    /// Cancels pending operations (operation_aborted, no message moved) and closes the
    /// descriptor; never unlinks. Closing a closed object does nothing. The object is closed
    /// afterwards even when mq_close reports an error. @throws pipc::error (the `ec` form sets
    /// `ec` instead).
    void close(error_code& ec) {
        ec = {};
        if (!state_) return;
        auto st = std::move(state_);
        st->detach();
        st->close_queue(ec);
    }
    void close() {
        error_code ec;
        const std::string name = core().name();
        close(ec);
        if (ec) throw_error(ec, "async_message_queue::close \"" + name + "\"");
    }
    /// @}

    /// Cancels pending operations and hands back the open core queue; the object is closed.
    message_queue release() {
        if (!state_) return {};
        auto st = std::move(state_);
        st->detach();
        return st->take_queue();
    }

    /// @name Blocking calls
    /// Forwarded to pipc::message_queue with the same overloads (throwing and `error_code&`),
    /// rules and errors; a closed object reports errc::closed (or throws it). They block the
    /// calling thread, not the executor's, and do not queue behind pending async operations.
    /// @{

    /// pipc::message_queue::send.
    template <class... Args>
    auto send(Args&&... args)
        -> decltype(std::declval<message_queue&>().send(std::forward<Args>(args)...)) {
        return core_ref().send(std::forward<Args>(args)...);
    }
    /// pipc::message_queue::try_send.
    template <class... Args>
    auto try_send(Args&&... args)
        -> decltype(std::declval<message_queue&>().try_send(std::forward<Args>(args)...)) {
        return core_ref().try_send(std::forward<Args>(args)...);
    }
    /// pipc::message_queue::send_for.
    template <class... Args>
    auto send_for(Args&&... args)
        -> decltype(std::declval<message_queue&>().send_for(std::forward<Args>(args)...)) {
        return core_ref().send_for(std::forward<Args>(args)...);
    }
    /// pipc::message_queue::send_until.
    template <class... Args>
    auto send_until(Args&&... args)
        -> decltype(std::declval<message_queue&>().send_until(std::forward<Args>(args)...)) {
        return core_ref().send_until(std::forward<Args>(args)...);
    }
    /// pipc::message_queue::receive.
    template <class... Args>
    auto receive(Args&&... args)
        -> decltype(std::declval<message_queue&>().receive(std::forward<Args>(args)...)) {
        return core_ref().receive(std::forward<Args>(args)...);
    }
    /// pipc::message_queue::try_receive.
    template <class... Args>
    auto try_receive(Args&&... args)
        -> decltype(std::declval<message_queue&>().try_receive(std::forward<Args>(args)...)) {
        return core_ref().try_receive(std::forward<Args>(args)...);
    }
    /// pipc::message_queue::receive_for.
    template <class... Args>
    auto receive_for(Args&&... args)
        -> decltype(std::declval<message_queue&>().receive_for(std::forward<Args>(args)...)) {
        return core_ref().receive_for(std::forward<Args>(args)...);
    }
    /// pipc::message_queue::receive_until.
    template <class... Args>
    auto receive_until(Args&&... args)
        -> decltype(std::declval<message_queue&>().receive_until(std::forward<Args>(args)...)) {
        return core_ref().receive_until(std::forward<Args>(args)...);
    }
    /// pipc::message_queue::attributes.
    template <class... Args>
    auto attributes(Args&&... args) const
        -> decltype(std::declval<const message_queue&>().attributes(std::forward<Args>(args)...)) {
        return core().attributes(std::forward<Args>(args)...);
    }
    /// pipc::message_queue::current_messages.
    template <class... Args>
    auto current_messages(Args&&... args) const
        -> decltype(std::declval<const message_queue&>().current_messages(
            std::forward<Args>(args)...)) {
        return core().current_messages(std::forward<Args>(args)...);
    }
    /// Removes the queue's name (mq_unlink); the object and other openers keep the queue.
    void unlink() { core_ref().unlink(); }
    /// Removes the queue's name (mq_unlink); the object and other openers keep the queue.
    void unlink(error_code& ec) { core_ref().unlink(ec); }
    /// @}

    // --- asynchronous operations -----------------------------------------------------------

    /// Sends one message asynchronously.
    ///
    /// Tries at once; when the queue is full, waits for room (descriptor backend: writability
    /// in the reactor; notify backend: a back-off timer) and tries again. The handler is not
    /// called inside this call, not even with an immediate error (see "Completion at once").
    ///
    /// @param msg The bytes of the message, at most core().max_message_size(). They must stay
    /// valid until the handler is called.
    /// @param priority Below message_priority_max(); higher priorities are received first.
    /// @param token The completion token (a callback, use_awaitable, deferred, use_future,
    /// as_tuple(...), ...); the default is the executor's default token.
    ///
    /// @par Completion Signature
    /// @code void(pipc::error_code ec) @endcode
    ///
    /// @par Errors
    /// `ec` is empty when the message was queued. Otherwise it was not, and `ec` is
    /// boost::asio::error::operation_aborted (cancelled, or the object closed or destroyed
    /// meanwhile); pipc::errc::closed, not_writable, message_too_long, invalid_priority; or a
    /// system error from mq_timedsend.
    ///
    /// @par Per-Operation Cancellation
    /// Supports terminal, partial and total cancellation. `operation_aborted` means the message
    /// was not queued; a message already queued completes with success. Coroutines
    /// (use_awaitable) pass only terminal cancellation unless their filter is reset.
    ///
    /// @par Thread safety
    /// Not concurrently with any other call on this object (run one object's operations on one
    /// thread or a strand); sends and receives of one object may be pending at the same time,
    /// and pending operations of one direction are served in the order they were started.
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code))
                  CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto
    async_send(boost::asio::const_buffer msg, unsigned priority,
               CompletionToken&& token = boost::asio::default_completion_token_t<executor_type>()) {
        return boost::asio::async_initiate<CompletionToken, void(error_code)>(
            initiate_send<detail::direct_resumption_token<CompletionToken>>{this}, token, msg,
            priority);
    }
    /// async_send with priority 0; same completion signature, errors, cancellation and thread
    /// safety.
    ///
    /// @param msg As for async_send.
    /// @param token The completion token (a callback, use_awaitable, deferred, use_future,
    /// as_tuple(...), ...); the default is the executor's default token.
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code)) CompletionToken>
    requires(!std::is_convertible_v<CompletionToken, unsigned>) auto async_send(
        boost::asio::const_buffer msg, CompletionToken&& token) {
        return async_send(msg, 0u, std::forward<CompletionToken>(token));
    }

    /// Receives the oldest message of the highest priority into `buffer`.
    ///
    /// Tries at once (so a loop drains waiting messages without a reactor round trip); when the
    /// queue is empty, waits (descriptor backend: readability; notify backend: a notification)
    /// and tries again. After a receive that had to wait, the next one skips the first try and
    /// goes to the reactor, whose own first attempt is the try (a ping-pong peer would otherwise
    /// pay two failing mq_receive calls per message). The handler is not called inside this
    /// call (see "Completion at once").
    ///
    /// @param buffer At least core().max_message_size() bytes (the kernel's rule); valid until
    /// the handler is called.
    /// @param token The completion token (a callback, use_awaitable, deferred, use_future,
    /// as_tuple(...), ...); the default is the executor's default token.
    ///
    /// @par Completion Signature
    /// @code void(pipc::error_code ec, std::size_t size, unsigned priority) @endcode
    /// `size` bytes of `buffer` hold the message, sent with `priority`; both are 0 on error.
    ///
    /// @par Errors
    /// `ec` is empty when a message was taken. Otherwise none was consumed, and `ec` is
    /// boost::asio::error::operation_aborted (cancelled, or the object closed or destroyed
    /// meanwhile); pipc::errc::closed, not_readable, buffer_too_small; EBUSY
    /// (condition::busy) on the notify backend when another process holds the queue's
    /// notification registration; or a system error from mq_timedreceive.
    ///
    /// @par Per-Operation Cancellation
    /// Supports terminal, partial and total cancellation. `operation_aborted` means no message
    /// was consumed; a message already taken completes with success. Coroutines
    /// (use_awaitable) pass only terminal cancellation unless their filter is reset.
    ///
    /// @par Thread safety
    /// Not concurrently with any other call on this object (run one object's operations on one
    /// thread or a strand); sends and receives of one object may be pending at the same time,
    /// and pending operations of one direction are served in the order they were started.
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, std::size_t, unsigned))
                  CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_receive(
        boost::asio::mutable_buffer buffer,
        CompletionToken&& token = boost::asio::default_completion_token_t<executor_type>()) {
        return boost::asio::async_initiate<CompletionToken,
                                           void(error_code, std::size_t, unsigned)>(
            initiate_receive<detail::direct_resumption_token<CompletionToken>>{this}, token,
            buffer);
    }

    /// Receives one message into a buffer it allocates (max_message_size() bytes, trimmed to
    /// the message), for callers that do not keep a buffer of their own.
    ///
    /// @param token The completion token (a callback, use_awaitable, deferred, use_future,
    /// as_tuple(...), ...); the default is the executor's default token.
    ///
    /// @par Completion Signature
    /// @code void(pipc::error_code ec, pipc::message msg) @endcode
    ///
    /// @par Errors
    /// As async_receive, except buffer_too_small (the buffer always fits). On error `msg` is
    /// empty and no message was consumed.
    ///
    /// @par Per-Operation Cancellation
    /// Supports terminal, partial and total cancellation, with the guarantees of async_receive.
    ///
    /// @par Thread safety
    /// As async_receive.
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, message))
                  CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_receive_message(
        CompletionToken&& token = boost::asio::default_completion_token_t<executor_type>()) {
        return boost::asio::async_initiate<CompletionToken, void(error_code, message)>(
            initiate_receive_message<detail::direct_resumption_token<CompletionToken>>{this},
            token);
    }

    // --- timed asynchronous operations ----------------------------------------------------

    /// async_send that gives up after `d`: completes with `ETIMEDOUT` (system_category, so
    /// `ec == pipc::condition::busy`, as async_semaphore::async_acquire_for reports it) when the
    /// message could not be queued in time. A non-positive duration makes a single try; NaN
    /// completes with errc::invalid_timeout. The deadline is measured on the steady clock.
    ///
    /// The operation and a timer are started together (an `experimental::parallel_group` with
    /// `wait_for_one`); the first to finish cancels the other, and the results of both are kept,
    /// so a message that was queued just as the timer fired completes with success.
    ///
    /// @param msg As for async_send.
    /// @param priority As for async_send.
    /// @param d The longest wait; any std::chrono duration.
    /// @param token The completion token (a callback, use_awaitable, deferred, use_future,
    /// as_tuple(...), ...); the default is the executor's default token.
    ///
    /// @par Completion Signature
    /// @code void(pipc::error_code ec) @endcode
    ///
    /// @par Errors
    /// Those of async_send, plus ETIMEDOUT (`condition::busy`) and errc::invalid_timeout.
    /// On ETIMEDOUT or operation_aborted the message was not queued.
    ///
    /// @par Per-Operation Cancellation
    /// Supports terminal, partial and total cancellation, with async_send's guarantee.
    ///
    /// @par Thread safety
    /// As async_send.
    template <class Rep, class Period,
              BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code))
                  CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_send_for(
        boost::asio::const_buffer msg, unsigned priority, std::chrono::duration<Rep, Period> d,
        CompletionToken&& token = boost::asio::default_completion_token_t<executor_type>()) {
        error_code ec;
        const auto dl = detail::deadline_after(d, ec);
        return boost::asio::async_initiate<CompletionToken, void(error_code)>(
            initiate_timed_send{this}, token, dl, ec, msg, priority);
    }
    /// async_send_for with an absolute deadline on any clock (measured once, now, against the
    /// steady clock).
    ///
    /// @param msg As for async_send.
    /// @param priority As for async_send.
    /// @param tp The deadline; a time point of any clock. A past one makes a single try.
    /// @param token The completion token (a callback, use_awaitable, deferred, use_future,
    /// as_tuple(...), ...); the default is the executor's default token.
    ///
    /// @par Completion Signature
    /// @code void(pipc::error_code ec) @endcode
    ///
    /// @par Errors
    /// As async_send_for.
    ///
    /// @par Per-Operation Cancellation
    /// As async_send.
    ///
    /// @par Thread safety
    /// As async_send.
    template <class Clock, class Duration,
              BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code))
                  CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_send_until(
        boost::asio::const_buffer msg, unsigned priority,
        std::chrono::time_point<Clock, Duration> tp,
        CompletionToken&& token = boost::asio::default_completion_token_t<executor_type>()) {
        error_code ec;
        const auto dl = detail::deadline_at(tp, ec);
        return boost::asio::async_initiate<CompletionToken, void(error_code)>(
            initiate_timed_send{this}, token, dl, ec, msg, priority);
    }

    /// async_receive that gives up after `d`: completes with `ETIMEDOUT` (system_category, so
    /// `ec == pipc::condition::busy`) when no message was taken in time. A non-positive
    /// duration makes a single try; NaN completes with errc::invalid_timeout. Raced against a
    /// timer as async_send_for is, so a message taken just as the timer fired is reported.
    ///
    /// @param buffer As for async_receive.
    /// @param d The longest wait; any std::chrono duration.
    /// @param token The completion token (a callback, use_awaitable, deferred, use_future,
    /// as_tuple(...), ...); the default is the executor's default token.
    ///
    /// @par Completion Signature
    /// @code void(pipc::error_code ec, std::size_t size, unsigned priority) @endcode
    ///
    /// @par Errors
    /// Those of async_receive, plus ETIMEDOUT (`condition::busy`) and errc::invalid_timeout.
    /// On ETIMEDOUT or operation_aborted no message was consumed.
    ///
    /// @par Per-Operation Cancellation
    /// Supports terminal, partial and total cancellation, with async_receive's guarantee.
    ///
    /// @par Thread safety
    /// As async_receive.
    template <class Rep, class Period,
              BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, std::size_t, unsigned))
                  CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_receive_for(
        boost::asio::mutable_buffer buffer, std::chrono::duration<Rep, Period> d,
        CompletionToken&& token = boost::asio::default_completion_token_t<executor_type>()) {
        error_code ec;
        const auto dl = detail::deadline_after(d, ec);
        return boost::asio::async_initiate<CompletionToken,
                                           void(error_code, std::size_t, unsigned)>(
            initiate_timed_receive{this}, token, dl, ec, buffer);
    }
    /// async_receive_for with an absolute deadline on any clock (measured once, now, against
    /// the steady clock).
    ///
    /// @param buffer As for async_receive.
    /// @param tp The deadline; a time point of any clock. A past one makes a single try.
    /// @param token The completion token (a callback, use_awaitable, deferred, use_future,
    /// as_tuple(...), ...); the default is the executor's default token.
    ///
    /// @par Completion Signature
    /// @code void(pipc::error_code ec, std::size_t size, unsigned priority) @endcode
    ///
    /// @par Errors
    /// As async_receive_for.
    ///
    /// @par Per-Operation Cancellation
    /// As async_receive.
    ///
    /// @par Thread safety
    /// As async_receive.
    template <class Clock, class Duration,
              BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, std::size_t, unsigned))
                  CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_receive_until(
        boost::asio::mutable_buffer buffer, std::chrono::time_point<Clock, Duration> tp,
        CompletionToken&& token = boost::asio::default_completion_token_t<executor_type>()) {
        error_code ec;
        const auto dl = detail::deadline_at(tp, ec);
        return boost::asio::async_initiate<CompletionToken,
                                           void(error_code, std::size_t, unsigned)>(
            initiate_timed_receive{this}, token, dl, ec, buffer);
    }

private:
    template <class>
    friend class basic_async_message_queue;

    static message_queue& closed_core() noexcept {
        static message_queue closed; // every call on it reports errc::closed and changes nothing
        return closed;
    }
    message_queue& core_ref() noexcept { return state_ ? state_->queue : closed_core(); }

    // assign(), and if attaching fails, unlink the queue that `queue`'s own open created (and
    // only then): a failed open leaves no queue behind, so a retry does not find "file exists".
    void assign_or_remove(message_queue&& queue, mq_backend backend, error_code& ec) {
        const bool created = queue.created();
        const std::string name = queue.name();
        assign(std::move(queue), backend, ec);
        if (!ec || !created) return;
        error_code ignored; // the attach failure is what the caller needs to see
        message_queue::unlink(name, ignored);
    }

    // A closed object completes at once with errc::closed, through a post.
    // A closed object completes at once with errc::closed, through the handler's immediate
    // executor (a post by default).
    template <class Handler, class... Values>
    static void complete_closed(const executor_type& ex, Handler& handler, Values... values) {
        detail::complete_immediately(
            ex, boost::asio::detail::bind_handler(std::move(handler), make_error_code(errc::closed),
                                                  values...));
    }

    template <detail::direct_resumption DirectToken>
    struct initiate_send {
        basic_async_message_queue* self;
        using executor_type = Executor;
        executor_type get_executor() const noexcept { return self->get_executor(); }
        template <class Handler>
        void operator()(Handler&& handler, boost::asio::const_buffer msg, unsigned prio) const {
            auto& h = handler;
            if (!self->is_open()) return complete_closed(self->ex_, h);
            detail::op_payload<detail::op_kind::send> payload{
                {static_cast<const std::byte*>(msg.data()), msg.size()}, prio};
            detail::start_mq_op<detail::op_kind::send, DirectToken>(self->state_, self->ex_,
                                                                    payload, h);
        }
    };
    template <detail::direct_resumption DirectToken>
    struct initiate_receive {
        basic_async_message_queue* self;
        using executor_type = Executor;
        executor_type get_executor() const noexcept { return self->get_executor(); }
        template <class Handler>
        void operator()(Handler&& handler, boost::asio::mutable_buffer buffer) const {
            auto& h = handler;
            if (!self->is_open()) return complete_closed(self->ex_, h, std::size_t{0}, 0u);
            detail::op_payload<detail::op_kind::receive> payload{
                {static_cast<std::byte*>(buffer.data()), buffer.size()}, {}};
            detail::start_mq_op<detail::op_kind::receive, DirectToken>(self->state_, self->ex_,
                                                                       payload, h);
        }
    };
    template <detail::direct_resumption DirectToken>
    struct initiate_receive_message {
        basic_async_message_queue* self;
        using executor_type = Executor;
        executor_type get_executor() const noexcept { return self->get_executor(); }
        template <class Handler>
        void operator()(Handler&& handler) const {
            auto& h = handler;
            if (!self->is_open()) return complete_closed(self->ex_, h, message{});
            detail::op_payload<detail::op_kind::receive_message> payload;
            if (self->state_->queue.can_read())
                payload.msg.data.resize(
                    static_cast<std::size_t>(self->state_->queue.max_message_size()));
            detail::start_mq_op<detail::op_kind::receive_message, DirectToken>(
                self->state_, self->ex_, payload, h);
        }
    };

    using timer_type =
        boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                          boost::asio::wait_traits<std::chrono::steady_clock>,
                                          executor_type>;

    struct initiate_timed_send {
        basic_async_message_queue* self;
        using executor_type = Executor;
        executor_type get_executor() const noexcept { return self->get_executor(); }
        template <class Handler>
        void operator()(Handler&& handler, detail::deadline dl, error_code ec,
                        boost::asio::const_buffer msg, unsigned prio) const {
            if (ec)
                return detail::complete_immediately(
                    self->ex_,
                    boost::asio::detail::bind_handler(std::forward<Handler>(handler), ec));
            if (dl.infinite)
                return (void)self->async_send(msg, prio, std::forward<Handler>(handler));
            detail::start_timed<timer_type>(self->ex_, dl.when,
                                            self->async_send(msg, prio, boost::asio::deferred),
                                            std::forward<Handler>(handler));
        }
    };
    struct initiate_timed_receive {
        basic_async_message_queue* self;
        using executor_type = Executor;
        executor_type get_executor() const noexcept { return self->get_executor(); }
        template <class Handler>
        void operator()(Handler&& handler, detail::deadline dl, error_code ec,
                        boost::asio::mutable_buffer buffer) const {
            if (ec)
                return detail::complete_immediately(
                    self->ex_, boost::asio::detail::bind_handler(std::forward<Handler>(handler), ec,
                                                                 std::size_t{0}, 0u));
            if (dl.infinite)
                return (void)self->async_receive(buffer, std::forward<Handler>(handler));
            detail::start_timed<timer_type>(self->ex_, dl.when,
                                            self->async_receive(buffer, boost::asio::deferred),
                                            std::forward<Handler>(handler));
        }
    };

    executor_type ex_;
    std::shared_ptr<state> state_;
};

/// The queue on `boost::asio::any_io_executor`.
using async_message_queue = basic_async_message_queue<>;

} // namespace PIPC_ASIO_MQ_PATH_NAMESPACE
} // namespace pipc
