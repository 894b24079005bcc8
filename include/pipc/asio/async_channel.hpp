// SPDX-License-Identifier: BSL-1.0
// pipc/asio/async_channel.hpp - a pipc::channel as a Boost.Asio I/O object, woken through
// pollable doorbells instead of helper threads.
#pragma once

#include <pipc/asio/detail/channel_bell_waiter.hpp>
#include <pipc/asio/detail/immediate_completion.hpp>
#include <pipc/asio/detail/mq_config.hpp>
#include <pipc/channel.hpp>
#include <pipc/detail/channel_async.hpp>
#include <pipc/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/detail/bind_handler.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/wait_traits.hpp>

#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace pipc {

namespace detail {

/// How a finished operation hands its result to its handler.
enum class channel_completion {
    immediate, ///< Inside the initiating function: complete_immediately (a post on Boost < 1.82).
    dispatch,  ///< From one of our own handlers on the I/O executor: dispatch.
    post,      ///< From a cancellation or close: post.
};

/// Result types: a send has none.
struct channel_no_result {};

/// Results that point into the object's channel handle: a view and a loan.
template <class Result>
inline constexpr bool holds_a_slot = std::is_same_v<std::decay_t<Result>, channel_view> ||
                                     std::is_same_v<std::decay_t<Result>, channel_loan>;

/// A handler that keeps the object's state (and so the channel handle a view or a loan points
/// into) alive while its completion is pending. Bound with its result by move_binder2, whose
/// result is destroyed before its handler: a completion destroyed unrun (its io_context
/// destroyed after the object) destroys its view or loan while the handle still exists (closed,
/// so they do nothing, as after close()). Transparent to Asio (associators below).
template <class Handler>
class state_holding_handler {
public:
    state_holding_handler(Handler&& h, std::shared_ptr<void> state)
        : handler_(std::move(h)), state_(std::move(state)) {}

    template <class... Args>
    void operator()(Args&&... args) {
        std::move(handler_)(std::forward<Args>(args)...);
    }

    const Handler& get() const noexcept { return handler_; }

private:
    Handler handler_;
    std::shared_ptr<void> state_;
};

/// `h` bound to `ec` and `r`; for a view or a loan, holding `state` while it is pending.
template <class Handler, class Result>
auto bind_channel_result(Handler&& h, error_code ec, Result&& r,
                         const std::shared_ptr<void>& state) {
    using handler_type = std::decay_t<Handler>;
    using R = std::decay_t<Result>;
    if constexpr (holds_a_slot<R>) {
        using holder = state_holding_handler<handler_type>;
        return boost::asio::detail::move_binder2<holder, error_code, R>(
            0, holder(handler_type(std::forward<Handler>(h)), state), ec,
            R(std::forward<Result>(r)));
    } else {
        return boost::asio::detail::move_binder2<handler_type, error_code, R>(
            0, handler_type(std::forward<Handler>(h)), ec, R(std::forward<Result>(r)));
    }
}

/// `state`: the object's state, which a pending view or loan needs (see state_holding_handler).
template <class IoExecutor, class Handler, class Result>
void deliver_channel_result(channel_completion how, const IoExecutor& ex, Handler&& h,
                            error_code ec, Result&& r, const std::shared_ptr<void>& state = {}) {
    namespace asio = boost::asio;
    auto run = [&](auto bound) {
        switch (how) {
        case channel_completion::immediate:
            complete_immediately(ex, std::move(bound));
            break;
        case channel_completion::dispatch:
            // We run in one of our own handlers on `ex`. A handler that belongs to `ex` too runs
            // here and now, which is what dispatch would do, minus its two type-erased
            // executions through an any_io_executor (Asio's own I/O objects skip them the same
            // way, in handler_work::complete).
            if (asio::get_associated_executor(bound, ex) == ex)
                std::move(bound)();
            else
                asio::dispatch(ex, std::move(bound));
            break;
        case channel_completion::post:
            asio::post(ex, std::move(bound));
            break;
        }
    };
    using R = std::decay_t<Result>;
    if constexpr (std::is_same_v<R, channel_no_result>)
        run(asio::detail::bind_handler(std::forward<Handler>(h), ec));
    else
        run(bind_channel_result(std::forward<Handler>(h), ec, std::forward<Result>(r), state));
}

/// One try of each operation: true when it is finished (with a result or an error in `ec`).
/// `ready`: whether a try is worth making, at the start and while spinning (a receive's failed
/// try costs the round trip a cache line: see channel_async_access::receive_worth_trying).
struct channel_receive_try {
    boost::asio::mutable_buffer buf;
    using result_type = std::size_t;
    static bool ready(channel& ch) noexcept {
        return channel_async_access::receive_worth_trying(ch);
    }
    bool operator()(channel& ch, error_code& ec, result_type& out) const {
        auto n = ch.try_receive(std::span(static_cast<std::byte*>(buf.data()), buf.size()), ec);
        if (n) out = *n;
        return ec || n.has_value();
    }
};
struct channel_view_try {
    using result_type = channel_view;
    static bool ready(channel& ch) noexcept {
        return channel_async_access::receive_worth_trying(ch);
    }
    bool operator()(channel& ch, error_code& ec, result_type& out) const {
        out = ch.try_receive_view(ec);
        return ec || out.valid();
    }
};
struct channel_send_try {
    boost::asio::const_buffer buf;
    using result_type = channel_no_result;
    static bool ready(channel&) noexcept { return true; } // a failed try is cheap
    bool operator()(channel& ch, error_code& ec, result_type&) const {
        const bool sent =
            ch.try_send(std::span(static_cast<const std::byte*>(buf.data()), buf.size()), ec);
        return ec || sent;
    }
};
struct channel_loan_try {
    using result_type = channel_loan;
    static bool ready(channel&) noexcept { return true; } // a failed try is cheap
    bool operator()(channel& ch, error_code& ec, result_type& out) const {
        out = ch.try_loan(ec);
        return ec || out.valid();
    }
};

// The state's definition depends on the reactor path (channel_bell_waiter.hpp): one inline
// namespace per path, as for async_message_queue.
inline namespace PIPC_ASIO_MQ_PATH_NAMESPACE {
template <class Executor>
class async_channel_state;
} // namespace PIPC_ASIO_MQ_PATH_NAMESPACE

/// A queued operation (type-erased over its handler and its try). It lives in memory from its
/// handler's associated allocator (by default Asio's recycling allocator, as Asio's own
/// operations do), and finish() and abort() give that memory back before the handler runs, so
/// the operation the handler starts next can reuse it.
struct channel_op_base {
    /// One try; true when finished (result or error stored).
    virtual bool attempt(channel& ch) = 0;
    /// Destroys this operation and delivers the stored result (after a successful attempt()).
    /// `state`: the object's state, which a pending view or loan holds.
    virtual void finish(channel_completion how, const std::shared_ptr<void>& state) = 0;
    /// Destroys this operation and delivers operation_aborted (or `ec`): nothing moved.
    virtual void abort(error_code ec) = 0;
    /// Destroys this operation without calling its handler.
    virtual void destroy() noexcept = 0;

    /// Names the operation for its cancellation slot, which may outlive it (an operation aborted
    /// from its own slot's handler cannot clear that slot): a later emission must not reach a
    /// newer operation that reuses this one's memory.
    std::uint64_t id = 0;

protected:
    ~channel_op_base() = default;
};

/// Owns a queued operation until it is finished, aborted or dropped.
struct channel_op_deleter {
    void operator()(channel_op_base* op) const noexcept { op->destroy(); }
};
using channel_op_ptr = std::unique_ptr<channel_op_base, channel_op_deleter>;

template <class Executor, class Handler, class Try>
class channel_op final : public channel_op_base {
    using allocator_type = typename std::allocator_traits<boost::asio::associated_allocator_t<
        Handler, boost::asio::recycling_allocator<void>>>::template rebind_alloc<channel_op>;
    using allocator_traits = std::allocator_traits<allocator_type>;

public:
    using result_type = typename Try::result_type;

    /// A new operation in memory from `h`'s associated allocator.
    static channel_op_ptr make(Handler&& h, Try t, const Executor& ex) {
        allocator_type alloc(allocator_of(h));
        channel_op* p = allocator_traits::allocate(alloc, 1);
        try {
            ::new (static_cast<void*>(p)) channel_op(std::move(h), std::move(t), ex);
        } catch (...) {
            allocator_traits::deallocate(alloc, p, 1);
            throw;
        }
        return channel_op_ptr(p);
    }

    channel_op(Handler&& h, Try t, const Executor& ex)
        : handler_(std::move(h)), try_(std::move(t)), ex_(ex) {}

    /// Lets per-operation cancellation reach this operation through `state`.
    void connect(const std::shared_ptr<async_channel_state<Executor>>& state) {
        auto slot = boost::asio::get_associated_cancellation_slot(handler_);
        if (!slot.is_connected()) return;
        struct canceller {
            std::weak_ptr<async_channel_state<Executor>> state;
            std::uint64_t op;
            void operator()(boost::asio::cancellation_type type) const {
                if (type == boost::asio::cancellation_type::none) return;
                if (auto st = state.lock()) st->cancel_one(op);
            }
        };
        slot.template emplace<canceller>(canceller{state, id});
    }

    bool attempt(channel& ch) override { return try_(ch, ec_, result_); }

    void finish(channel_completion how, const std::shared_ptr<void>& state) override {
        disconnect();
        allocator_type alloc(allocator_of(handler_)); // before the handler is moved from
        Handler h(std::move(handler_));
        const error_code ec = ec_;
        result_type r(std::move(result_));
        Executor ex(std::move(ex_));
        free_with(alloc);
        deliver_channel_result(how, ex, std::move(h), ec, std::move(r), state);
    }

    void abort(error_code ec) override {
        // No disconnect: this may run inside the slot's own handler (an emitted cancellation);
        // the next operation's emplace replaces it.
        allocator_type alloc(allocator_of(handler_));
        Handler h(std::move(handler_));
        Executor ex(std::move(ex_));
        free_with(alloc);
        deliver_channel_result(channel_completion::post, ex, std::move(h), ec, result_type{});
    }

    void destroy() noexcept override {
        allocator_type alloc(allocator_of(handler_));
        free_with(alloc);
    }

private:
    static auto allocator_of(const Handler& h) noexcept {
        return boost::asio::get_associated_allocator(h, boost::asio::recycling_allocator<void>());
    }

    void free_with(allocator_type& alloc) noexcept {
        this->~channel_op();
        allocator_traits::deallocate(alloc, this, 1);
    }

    void disconnect() {
        auto slot = boost::asio::get_associated_cancellation_slot(handler_);
        if (slot.is_connected()) slot.clear();
    }

    Handler handler_;
    Try try_;
    Executor ex_;
    error_code ec_;
    result_type result_{};
};

inline namespace PIPC_ASIO_MQ_PATH_NAMESPACE {

/// The shared state of a basic_async_channel: the core channel, its two doorbells and the
/// queues of pending receives (data bell) and sends (room bell). Every function runs on the
/// object's executor (one thread or strand), so nothing here is locked.
template <class Executor>
class async_channel_state : public std::enable_shared_from_this<async_channel_state<Executor>> {
public:
    using bell_waiter = channel_bell_waiter<Executor>;
    using timer = boost::asio::basic_waitable_timer<
        std::chrono::steady_clock, boost::asio::wait_traits<std::chrono::steady_clock>, Executor>;
    static constexpr int data = static_cast<int>(channel_bell::data);
    static constexpr int room = static_cast<int>(channel_bell::room);
    /// Completions delivered by dispatch in one go before the rest is posted (fairness).
    static constexpr int max_dispatched = 16;
    /// How often a waiting receive looks whether the writer of an unpublished slot died.
    static constexpr std::chrono::milliseconds writer_check{10};

    async_channel_state(const Executor& ex, channel&& ch)
        : ex_(ex), ch_(std::move(ch)), bells_{bell_waiter(ex), bell_waiter(ex)}, recheck_(ex) {
        bells_[data].defer_drain(ch_);
    }

    /// Opens both doorbells. On failure the state stays unusable (`ec` set).
    void attach(error_code& ec) {
        for (int b = 0; b < 2; ++b) {
            const int fd = channel_async_access::open_bell(ch_, static_cast<channel_bell>(b), ec);
            if (ec) return;
            bells_[b].assign(fd, ec);
            if (ec) {
                ::close(fd);
                return;
            }
        }
    }

    channel& core() noexcept { return ch_; }
    const Executor& executor() const noexcept { return ex_; }
    bool closed() const noexcept { return closed_; }

    /// Starts an operation: one try at once if nothing is queued in its direction (and the try
    /// is worth making: Try::ready; a receive on an empty ring goes straight to the spin or
    /// the queue, whose first attempt makes the full try), then (with a spinning wait strategy)
    /// at most one budget of retries, otherwise (or if neither can finish) queued behind the
    /// others.
    template <direct_resumption Direct, class Handler, class Try>
    void start(int dir, Handler&& handler, Try t) {
        using handler_type = std::decay_t<Handler>;
        constexpr direct_resumption resumption = resumption_for<Direct, handler_type>;
        if (closed_) {
            deliver_channel_result(channel_completion::immediate, ex_,
                                   std::forward<Handler>(handler), make_error_code(errc::closed),
                                   typename Try::result_type{});
            return;
        }
        if (queue_[dir].empty()) {
            error_code ec;
            typename Try::result_type r{};
            if ((Try::ready(ch_) && t(ch_, ec, r)) || spin_once(t, ec, r)) {
                using result_type = typename Try::result_type;
                if (detail::may_resume_directly<resumption>()) {
                    if constexpr (std::is_same_v<result_type, channel_no_result>) {
                        return detail::resume_directly<resumption>(ex_, handler, ec);
                    } else if constexpr (resumption == direct_resumption::after &&
                                         holds_a_slot<result_type>) {
                        // Perhaps posted: the view or loan keeps its channel handle alive.
                        auto bound = bind_channel_result(std::forward<Handler>(handler), ec,
                                                         std::move(r), this->shared_from_this());
                        return detail::resume_directly<resumption>(ex_, bound);
                    } else {
                        return detail::resume_directly<resumption>(ex_, handler, ec, std::move(r));
                    }
                }
                std::shared_ptr<void> keep;
                if constexpr (holds_a_slot<result_type>) keep = this->shared_from_this();
                deliver_channel_result(channel_completion::immediate, ex_,
                                       std::forward<Handler>(handler), ec, std::move(r), keep);
                return;
            }
        }
        using op_type = channel_op<Executor, handler_type, Try>;
        channel_op_ptr op =
            op_type::make(handler_type(std::forward<Handler>(handler)), std::move(t), ex_);
        op->id = ++last_op_id_;
        static_cast<op_type*>(op.get())->connect(this->shared_from_this());
        queue_[dir].push_back(std::move(op));
        if (queue_[dir].size() == 1) pump(dir, channel_completion::immediate);
    }

    /// Per-operation cancellation: removes operation `op` (its id) if still queued, aborts it.
    void cancel_one(std::uint64_t op) {
        for (int dir = 0; dir < 2; ++dir) {
            auto& q = queue_[dir];
            for (auto it = q.begin(); it != q.end(); ++it) {
                if ((*it)->id != op) continue;
                channel_op_base* victim = it->release();
                q.erase(it);
                victim->abort(make_error_code(boost::asio::error::operation_aborted));
                if (q.empty() && !pumping_[dir]) stop_waiting(dir);
                return;
            }
        }
    }

    /// Aborts every queued operation with `ec`.
    void cancel_all(error_code ec) {
        for (int dir = 0; dir < 2; ++dir) {
            auto q = std::move(queue_[dir]);
            queue_[dir].clear();
            for (auto& op : q) op.release()->abort(ec);
            if (!pumping_[dir]) stop_waiting(dir);
        }
    }

    void close() {
        if (closed_) return;
        cancel_all(make_error_code(boost::asio::error::operation_aborted));
        closed_ = true;
        for (int dir = 0; dir < 2; ++dir) {
            if (announced_[dir])
                channel_async_access::withdraw(ch_, static_cast<channel_bell>(dir));
            announced_[dir] = false;
            error_code ignored;
            bells_[dir].close(ignored);
        }
        recheck_.cancel();
        ch_.close();
    }

private:
    /// The spinning step of an initiation whose first try failed, with nothing older queued in
    /// its direction (so it never overtakes one): retries for at most one budget of the
    /// handle's wait strategy. Nothing at all with block(), not even a clock read. The first
    /// try came before and is not fed back: a wait it served says nothing about spinning.
    template <class Try>
    bool spin_once(Try& t, error_code& ec, typename Try::result_type& r) {
        auto& w = ch_.strategy();
        if (w.type() == wait_strategy::kind::block) return false;
        return w.spin_until([&] { return Try::ready(ch_) && t(ch_, ec, r); });
    }

    /// Serves the queue of `dir` in order until an operation cannot proceed; then announces
    /// the wait (once) and re-checks before waiting for the bell.
    /// `woke`: called by the bell's wait, which emptied the bell (or, for the data bell rung
    /// from another CPU, left its byte for drain_left() below, before the next announce).
    void pump(int dir, channel_completion how = channel_completion::dispatch, bool woke = false) {
        if (pumping_[dir] || closed_) return;
        pumping_[dir] = true;
        auto keep = this->shared_from_this();     // a handler may destroy the I/O object
        const std::shared_ptr<void> state = keep; // for the views and loans it delivers
        auto& q = queue_[dir];
        int served = 0;
        for (;;) {
            while (!q.empty() && q.front()->attempt(ch_)) {
                channel_op_base* op = q.front().release();
                q.pop_front();
                ++served;
                op->finish(how, state);
                if (closed_) {
                    pumping_[dir] = false;
                    return;
                }
                if (how == channel_completion::dispatch && served >= max_dispatched && !q.empty()) {
                    pumping_[dir] = false;
                    boost::asio::post(ex_, [self = std::move(keep), dir] { self->pump(dir); });
                    return;
                }
            }
            if (q.empty()) {
                stop_waiting(dir);
                break;
            }
            if (announced_[dir]) {
                wait_bell(dir);
                break;
            }
            // A wake-up from another CPU may have left the data bell's byte (see wait_bell):
            // empty it now, after the handlers ran, before a ring can be meant for this wait.
            if (dir == data) bells_[data].drain_left();
            channel_async_access::announce(ch_, static_cast<channel_bell>(dir));
            announced_[dir] = true; // and try once more before sleeping: no lost wake-up
        }
        // A ring takes the armed flag (once per sleep), so a handle that emptied the room bell
        // passes it on to the other waiting handles when it used the room, and also when it no
        // longer waits (its sends were cancelled meanwhile): its byte was theirs as well.
        if (dir == room && (served > 0 || (woke && q.empty())))
            pass_on_room(announced_[room] ? 1 : 0);
        pumping_[dir] = false;
    }

    /// The room bell is one byte for any number of waiting handles: whoever drained it and
    /// found room rings it again when other handles still wait, so none misses the room.
    void pass_on_room(std::uint32_t mine) {
        if (channel_async_access::room_waiters(ch_) > mine)
            channel_async_access::ring(ch_, channel_bell::room);
    }

    void stop_waiting(int dir) {
        if (closed_) return;
        if (announced_[dir]) {
            channel_async_access::withdraw(ch_, static_cast<channel_bell>(dir));
            announced_[dir] = false;
        }
        if (waiting_[dir]) {
            error_code ignored;
            bells_[dir].cancel(ignored);
        }
        if (dir == data && rechecking_) recheck_.cancel();
    }

    void wait_bell(int dir) {
        if (!waiting_[dir]) {
            waiting_[dir] = true;
            // The epoll path empties the bell when it wakes (and, only after an edge it has
            // not drained yet, once at once, so a bell rung while nobody waited is seen: see
            // channel_bell_waiter.hpp), except the data bell rung from another CPU, whose byte
            // pump() empties before it announces again (the consumer is the only one that
            // empties that bell); the public path re-arms the descriptor on every wait.
            bells_[dir].async_wait([self = this->shared_from_this(), dir](error_code ec) {
                self->waiting_[dir] = false;
                if (self->closed_) return;
                if (ec) {
                    if (ec == boost::asio::error::operation_aborted) {
                        if (!self->queue_[dir].empty()) self->pump(dir); // a stray cancel
                    } else {
                        self->cancel_all(ec); // the reactor refused the bell: nothing moved
                    }
                    return;
                }
                // Awake: withdraw so that peers stop ringing while we run handlers (pump
                // announces again before it waits), then empty the bell (if the wait did not).
                if (self->announced_[dir]) {
                    channel_async_access::withdraw(self->ch_, static_cast<channel_bell>(dir));
                    self->announced_[dir] = false;
                }
                if constexpr (!bell_waiter::drains_itself)
                    channel_async_access::drain(self->bells_[dir].native_handle());
                self->pump(dir, channel_completion::dispatch, true);
            });
        }
        if (dir == data && !rechecking_ && channel_async_access::write_in_progress(ch_)) {
            rechecking_ = true;
            recheck_.expires_after(writer_check);
            recheck_.async_wait([self = this->shared_from_this()](error_code ec) {
                self->rechecking_ = false;
                if (!ec && !self->closed_) self->pump(data);
            });
        }
    }

    Executor ex_;
    channel ch_;
    bell_waiter bells_[2];
    timer recheck_;
    std::deque<channel_op_ptr> queue_[2];
    bool announced_[2] = {false, false};
    bool waiting_[2] = {false, false};
    bool pumping_[2] = {false, false};
    bool rechecking_ = false;
    bool closed_ = false;
    std::uint64_t last_op_id_ = 0; ///< The id of the newest queued operation.
};

} // namespace PIPC_ASIO_MQ_PATH_NAMESPACE
} // namespace detail

inline namespace PIPC_ASIO_MQ_PATH_NAMESPACE {

/// A pipc::channel as a Boost.Asio I/O object: `co_await ch.async_receive(buf)` next to sockets
/// and timers, without helper threads.
///
/// An operation first tries the ring without waiting (no system call on a busy stream). When it
/// cannot proceed it announces itself in the channel's shared header, re-checks the ring, and
/// waits with the reactor on a *doorbell*: a FIFO next to the channel's shared-memory object
/// (`/dev/shm/<name>.bell-data` for the consumer, `.bell-room` for producers waiting for room).
/// Every peer, blocking pipc::channel or asynchronous, rings it (a one-byte non-blocking write)
/// only when the header says someone waits on it, with the same seq_cst
/// announce-then-recheck handshake as the futex path, so no wake-up is lost and a stream that
/// keeps up makes no system call. The object creates the doorbells when it opens the channel;
/// pipc::unlink_channel removes them with it. See docs/channel.md ("Asio").
///
/// @par Nothing lost
/// An operation that completes with an error (operation_aborted included) moved nothing: a
/// cancelled or failed receive consumed no message (it stays first in the ring), a cancelled
/// send published none, a cancelled loan holds no slot. Once the message has moved, the
/// operation completes with success even if cancellation was requested meanwhile. As with
/// every Asio object, a completion whose execution context is destroyed before it runs is
/// destroyed with its result (a received message, a view, a loan: the view and loan give their
/// slot back as their destructors do). A pending view or loan keeps the object's channel handle
/// in memory, so the io_context may also be destroyed after the object (the usual order of
/// declaration); the handle is closed by then, so the view and loan do nothing, as after
/// close(): the viewed message stays first for the next receive.
///
/// @par Completion at once
/// An operation that can finish at once (a message is there, a slot is free, an argument is
/// bad) completes as async_message_queue's do: through the handler's immediate executor on
/// Boost >= 1.82 (a post by default), a post before; a coroutine suspended on it with a plain
/// `use_awaitable` is resumed directly (at most 64 times in a row per thread), and one that
/// awaits the operation itself (`co_await ch.async_receive(buf, deferred)`, or with no token
/// where deferred is the default) right after the initiating function returned, from the same
/// trampoline (see async_message_queue's "Completion at once"). Operations that waited complete
/// with a dispatch from the object's own reactor handler.
///
/// @par Spinning
/// With a spinning wait strategy (channel::options::wait at open, or set_wait_strategy), an
/// operation that cannot finish at its first try, and has no older operation of its direction
/// queued on this object, retries the ring (no system call) on the initiating thread for at
/// most the strategy's budget (per initiation, 20 us by default; adaptive() learns a smaller
/// one, or none) before it announces itself and waits on the doorbell. The budget bounds how
/// long one initiation keeps the thread from the io_context's other work; an operation that
/// completes at its first try never spins. An operation served while spinning completes as one
/// that completes at once (above), so the guarantees stay: nothing lost, no overtaking, no
/// handler called inside the initiation except as described above. The default block() makes
/// no extra try and reads no clock.
///
/// @par Thread safety
/// Distinct objects: safe. Shared objects: unsafe, as for Asio's own I/O objects: start
/// operations, cancel, close and emit cancellation signals for one object from one thread or
/// strand. Unlike a socket's, this object's own doorbell handlers run on its executor next to
/// your operations, outside your chain of completions: on an io_context run by several threads,
/// give the object a strand (`make_strand(ctx)`), even for a single chain of operations. Other
/// processes and threads may use the same channel through their own handles (blocking or
/// asynchronous) at the same time.
///
/// @par Lifetimes
/// Buffers passed to async_send/async_receive must stay valid until the operation completes.
/// Loans and views handed out must be released or destroyed before the object is closed or
/// destroyed (they point into its channel handle; after close() they do nothing).
///
/// @par Fork
/// A forked child must not use an object inherited from its parent; open its own.
template <class Executor = boost::asio::any_io_executor>
class basic_async_channel {
    using state = detail::async_channel_state<Executor>;

public:
    /// The type of the executor the object's operations complete on by default.
    using executor_type = Executor;

    /// Rebinds the type to another executor (`use_awaitable_t<>::as_default_on_t<...>`).
    template <class Executor1>
    struct rebind_executor {
        using other = basic_async_channel<Executor1>; ///< The rebound type.
    };

    /// @{
    /// A closed object on `ex` (or on `ctx`'s executor); open() or assign() it later.
    explicit basic_async_channel(const executor_type& ex) : ex_(ex) {}
    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
    explicit basic_async_channel(ExecutionContext& ctx) : ex_(ctx.get_executor()) {}
    /// @}

    /// @{
    /// Opens or creates the channel `name` as open() does. @throws pipc::error
    basic_async_channel(const executor_type& ex, std::string_view name,
                        const channel::options& opts = {})
        : ex_(ex) {
        open(name, opts);
    }
    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
    basic_async_channel(ExecutionContext& ctx, std::string_view name,
                        const channel::options& opts = {})
        : ex_(ctx.get_executor()) {
        open(name, opts);
    }
    /// @}

    /// Takes over `other`'s channel and pending operations, which keep running; `other` is
    /// left closed.
    basic_async_channel(basic_async_channel&& other) noexcept
        : ex_(other.ex_), state_(std::move(other.state_)) {}

    /// Closes this object (its pending operations complete with operation_aborted), then
    /// takes over `other`'s channel and pending operations; `other` is left closed.
    basic_async_channel& operator=(basic_async_channel&& other) noexcept {
        if (this != &other) {
            close();
            ex_ = other.ex_;
            state_ = std::move(other.state_);
        }
        return *this;
    }

    /// Closes the object: pending operations complete with operation_aborted (posted, never
    /// inside the destructor), having moved nothing. Never unlinks.
    ~basic_async_channel() { close(); }

    /// The executor the object's operations complete on by default.
    executor_type get_executor() const noexcept { return ex_; }

    /// @{
    /// Opens or creates `name` as `opts` says (see pipc::channel::open) and opens (creating
    /// them if needed) its two doorbells with the channel's permissions. On success an open
    /// object is closed first; on failure `ec` says why and the object is left as it was (a
    /// channel this call created stays, as with pipc::channel::open: others may have opened it).
    /// A doorbell name (`name` + ".bell-data") longer than NAME_MAX: errc::name_too_long;
    /// a file other than a FIFO (or a symbolic link) under a doorbell's name:
    /// errc::not_a_channel.
    /// @par Thread safety
    /// Not with any other call on this object.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    void open(std::string_view name, const channel::options& opts, error_code& ec) {
        channel ch;
        ch.open(name, opts, ec);
        if (!ec) assign(std::move(ch), ec);
    }
    void open(std::string_view name, const channel::options& opts = {}) {
        error_code ec;
        open(name, opts, ec);
        if (ec) throw_error(ec, "async_channel::open \"" + std::string(name) + "\"");
    }
    /// @}

    /// @{
    /// Adopts an open core channel (it must have no loan or view outstanding) and opens its
    /// doorbells. A closed `ch`: errc::closed. On failure `ch` is closed, never unlinked, and
    /// this object is left as it was. @throws pipc::error (the `ec` form sets `ec` instead).
    void assign(channel&& ch, error_code& ec) {
        if (!ch.is_open()) {
            ec = make_error_code(errc::closed);
            return;
        }
        auto st = std::make_shared<state>(ex_, std::move(ch));
        ec = {};
        st->attach(ec);
        if (ec) {
            st->close();
            return;
        }
        close();
        state_ = std::move(st);
    }
    void assign(channel&& ch) {
        error_code ec;
        assign(std::move(ch), ec);
        if (ec) throw_error(ec, "async_channel::assign");
    }
    /// @}

    /// True between a successful open or assign and close or a move away.
    bool is_open() const noexcept { return state_ != nullptr; }

    /// The core channel, for its accessors and blocking calls (name(), slot_count(), fill(),
    /// unlink(), ...). Its blocking receives must not overlap asynchronous ones (one consumer).
    /// Close this object rather than the core: a core closed through this reference makes the
    /// pending operations complete with errc::closed, and every later one too.
    /// @throws pipc::error (errc::closed) on a closed object.
    channel& core() const {
        if (!state_) throw_error(make_error_code(errc::closed), "async_channel::core");
        return state_->core();
    }

    /// The wait strategy of the core channel handle (channel::options::wait at open), with what
    /// `adaptive` learned; a closed object gives a block() strategy.
    const wait_strategy& strategy() const noexcept {
        static const wait_strategy closed_strategy;
        return state_ ? state_->core().strategy() : closed_strategy;
    }

    /// @{
    /// Replaces the wait strategy of the core channel handle, which channel::options::wait sets
    /// at open. It rules the blocking calls on core() and the asynchronous operations alike: an
    /// operation that cannot finish at its first try (and has no older operation of its
    /// direction queued) retries the ring on the initiating thread for at most one budget of
    /// the strategy before it waits on the doorbell (see "Spinning" above). Not while an
    /// operation is being initiated or a blocking call waits on core(). A closed object reports
    /// errc::closed. @throws pipc::error (the `ec` form sets `ec` instead).
    void set_wait_strategy(const wait_strategy& w, error_code& ec) {
        ec = state_ ? error_code{} : make_error_code(errc::closed);
        if (state_) state_->core().strategy() = w;
    }
    void set_wait_strategy(const wait_strategy& w) {
        error_code ec;
        set_wait_strategy(w, ec);
        if (ec) throw_error(ec, "async_channel::set_wait_strategy");
    }
    /// @}

    /// Makes every pending operation complete with operation_aborted (posted); none of them
    /// moved anything. The object stays usable. Nothing happens on a closed object.
    void cancel() {
        if (state_) state_->cancel_all(make_error_code(boost::asio::error::operation_aborted));
    }

    /// Cancels pending operations (operation_aborted, posted), withdraws this handle from the
    /// doorbells and closes the channel handle (never unlinks). Closing twice does nothing.
    void close() noexcept {
        if (!state_) return;
        state_->close();
        state_.reset();
    }

    /// Copies `buffer` into the next slot, waiting asynchronously while the ring is full.
    ///
    /// @param buffer The message; it must stay valid until the operation completes.
    /// @param token The completion token (callback, use_awaitable, use_future, deferred, ...).
    ///
    /// @par Completion Signature
    /// @code void(pipc::error_code ec) @endcode
    ///
    /// @par Errors
    /// errc::closed; errc::message_too_long (longer than core().max_message_size(), nothing
    /// sent); operation_aborted after cancellation, cancel(), close() or destruction.
    ///
    /// @par Per-Operation Cancellation
    /// Supports @c terminal, @c partial and @c total: the operation completes with
    /// operation_aborted at once (posted) and published nothing; sends queued behind it on
    /// this object move up. A send that already published completes with success.
    ///
    /// @par Thread safety
    /// As the class: one thread or strand per object.
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code))
                  Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_send(boost::asio::const_buffer buffer, Token&& token = Token()) {
        return boost::asio::async_initiate<Token, void(error_code)>(
            initiate<detail::direct_resumption_token<Token>, detail::channel_send_try>{this}, token,
            detail::channel_send_try{buffer});
    }

    /// Claims the next slot for writing in place, waiting asynchronously while the ring is
    /// full. Write into `loan.buffer()`, then `loan.publish(n)`; a loan destroyed unpublished
    /// is skipped by the consumer. Keep it short: messages claimed after it wait for it.
    ///
    /// @par Completion Signature
    /// @code void(pipc::error_code ec, pipc::channel_loan loan) @endcode
    /// (an invalid loan with an error).
    ///
    /// @par Errors
    /// errc::closed; operation_aborted.
    ///
    /// @par Per-Operation Cancellation
    /// Supports @c terminal, @c partial and @c total, as async_send: an aborted loan claimed
    /// no slot.
    ///
    /// @par Thread safety
    /// As the class.
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, channel_loan))
                  Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_loan(Token&& token = Token()) {
        return boost::asio::async_initiate<Token, void(error_code, channel_loan)>(
            initiate<detail::direct_resumption_token<Token>, detail::channel_loan_try>{this}, token,
            detail::channel_loan_try{});
    }

    /// Copies the next message into `buffer` and releases its slot, waiting asynchronously for
    /// a message. The first receive claims the consumer role (one consumer per channel).
    ///
    /// @param buffer Where the message goes; it must stay valid until the operation completes.
    /// @param token The completion token.
    ///
    /// @par Completion Signature
    /// @code void(pipc::error_code ec, std::size_t n) @endcode
    ///
    /// @par Errors
    /// errc::closed; errc::consumer_busy (another live process is the consumer);
    /// errc::view_outstanding while this object's view is held; errc::buffer_too_small (the
    /// message stays first in the ring); operation_aborted.
    ///
    /// @par Per-Operation Cancellation
    /// Supports @c terminal, @c partial and @c total: the operation completes with
    /// operation_aborted at once (posted) and consumed no message. A receive that already
    /// took its message completes with success.
    ///
    /// @par Thread safety
    /// As the class; blocking receives on core() must not overlap it.
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, std::size_t))
                  Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_receive(boost::asio::mutable_buffer buffer, Token&& token = Token()) {
        return boost::asio::async_initiate<Token, void(error_code, std::size_t)>(
            initiate<detail::direct_resumption_token<Token>, detail::channel_receive_try>{this},
            token, detail::channel_receive_try{buffer});
    }

    /// The next message in place, waiting asynchronously for one. The slot stays taken until
    /// the view is released (one view at a time per object).
    ///
    /// @par Completion Signature
    /// @code void(pipc::error_code ec, pipc::channel_view view) @endcode
    /// (an invalid view with an error).
    ///
    /// @par Errors
    /// As async_receive, except errc::buffer_too_small.
    ///
    /// @par Per-Operation Cancellation
    /// Supports @c terminal, @c partial and @c total, as async_receive: an aborted view took
    /// no message.
    ///
    /// @par Thread safety
    /// As async_receive.
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, channel_view))
                  Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_receive_view(Token&& token = Token()) {
        return boost::asio::async_initiate<Token, void(error_code, channel_view)>(
            initiate<detail::direct_resumption_token<Token>, detail::channel_view_try>{this}, token,
            detail::channel_view_try{});
    }

private:
    template <detail::direct_resumption Direct, class Try>
    struct initiate {
        basic_async_channel* self;

        using executor_type = Executor;
        executor_type get_executor() const noexcept { return self->ex_; }

        template <class Handler>
        void operator()(Handler&& handler, Try t) const {
            constexpr int dir = std::is_same_v<Try, detail::channel_send_try> ||
                                        std::is_same_v<Try, detail::channel_loan_try>
                                    ? state::room
                                    : state::data;
            if (!self->state_) {
                detail::deliver_channel_result(detail::channel_completion::immediate, self->ex_,
                                               std::forward<Handler>(handler),
                                               make_error_code(errc::closed),
                                               typename Try::result_type{});
                return;
            }
            self->state_->template start<Direct>(dir, std::forward<Handler>(handler), std::move(t));
        }
    };

    Executor ex_;
    std::shared_ptr<state> state_;
};

} // namespace PIPC_ASIO_MQ_PATH_NAMESPACE

/// basic_async_channel on boost::asio::any_io_executor.
using async_channel = basic_async_channel<>;

} // namespace pipc

/// @cond PIPC_INTERNAL
/// The state-holding wrapper is transparent to Asio: executor, allocator, cancellation slot and
/// immediate executor of the wrapped handler are its own.
template <template <class, class> class Associator, class Handler, class DefaultCandidate>
struct boost::asio::associator<Associator, pipc::detail::state_holding_handler<Handler>,
                               DefaultCandidate> : Associator<Handler, DefaultCandidate> {
    static typename Associator<Handler, DefaultCandidate>::type
    get(const pipc::detail::state_holding_handler<Handler>& h,
        const DefaultCandidate& c = DefaultCandidate()) noexcept {
        return Associator<Handler, DefaultCandidate>::get(h.get(), c);
    }
};
/// @endcond
