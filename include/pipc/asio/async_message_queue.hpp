// pipc/asio/async_message_queue.hpp - a POSIX message queue as a Boost.Asio I/O object.
#pragma once

#include <pipc/asio/detail/immediate_completion.hpp>
#include <pipc/asio/detail/mq_notify_socket.hpp>
#include <pipc/asio/detail/reactor_registration.hpp>
#include <pipc/error.hpp>
#include <pipc/message_queue.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/detail/bind_handler.hpp>
#include <boost/asio/detail/fenced_block.hpp>
#include <boost/asio/detail/handler_alloc_helpers.hpp>
#include <boost/asio/detail/handler_cont_helpers.hpp>
#include <boost/asio/detail/handler_work.hpp>
#include <boost/asio/detail/memory.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/wait_traits.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace pipc {

/// How an async_message_queue learns that it may proceed. Chosen per object.
enum class mq_backend {
    /// The default on Linux: the mqd_t itself is pollable, so receives wait for readability and
    /// sends for writability in the executor's reactor. No thread, no signal, no mq_notify.
    descriptor,
    /// For systems whose queue descriptor cannot be polled: receives wait for an mq_notify
    /// notification, which the kernel delivers as a cookie on a netlink socket that the reactor
    /// watches (the kernel protocol behind SIGEV_THREAD, without glibc's thread per event).
    /// The kernel allows one registered process per queue: another process's registration makes
    /// a receive that has to wait fail with EBUSY (condition::busy). Sends cannot be notified
    /// ("not full" has no notification): a send that finds the queue full retries on a timer
    /// with capped exponential back-off (50 us doubling to 5 ms).
    notify,
};

namespace detail {

template <class Executor>
struct async_mq_state {
    using timer_type = boost::asio::basic_waitable_timer<
        std::chrono::steady_clock, boost::asio::wait_traits<std::chrono::steady_clock>, Executor>;

    async_mq_state(const Executor& ex, mq_backend b)
        : executor(ex), backend(b),
          registration(boost::asio::query(ex, boost::asio::execution::context)) {}

    async_mq_state(const async_mq_state&) = delete;
    async_mq_state& operator=(const async_mq_state&) = delete;

    ~async_mq_state() { detach(); }

    // Declaration order is teardown order in reverse: the reactor lets go of the descriptor
    // (registration) before the notification socket and the queue are closed.
    message_queue queue;
    Executor executor;
    mq_backend backend;
    int notify_socket = -1; ///< notify backend: where the kernel queues notification cookies.
    reactor_registration registration; ///< of the mqd_t (descriptor) or notify_socket (notify).
    /// The last receive had to wait: the next one goes to the reactor at once instead of trying
    /// first (a ping-pong peer would otherwise pay two failed mq_receive calls per message).
    std::atomic<bool> receive_waited{false};
    /// Operations queued in the reactor, per direction (0: receives, 1: sends). A new operation
    /// does not try on its own while older ones of its direction wait, so it cannot overtake
    /// them (Asio's sockets keep the same order).
    std::atomic<int> queued[2] = {0, 0};
    /// notify: our registration is (believed) live. Touched only while performing an operation
    /// (under the reactor's descriptor lock) and in detach() after the reactor let go.
    bool armed = false;
    /// notify sends: bumped by cancel()/close() so that a back-off that just expired aborts.
    std::atomic<std::uint64_t> generation{0};
    std::mutex mutex;                     ///< Guards send_timers.
    std::vector<timer_type*> send_timers; ///< notify: back-off timers of waiting sends.

    int watched_descriptor() const noexcept {
        return backend == mq_backend::descriptor ? queue.native_handle() : notify_socket;
    }

    void cancel_waits() {
        registration.cancel();
        abort_send_backoffs();
    }

    // Stops waiting and leaves the queue open. Pending operations complete with
    // operation_aborted, having moved nothing.
    void detach() noexcept {
        registration.reset();
        abort_send_backoffs();
        if (backend == mq_backend::notify) {
            if (armed && queue.is_open()) disarm_mq_notify(queue.native_handle());
            armed = false;
            if (notify_socket != -1) ::close(notify_socket);
            notify_socket = -1;
        }
    }

    // notify sends waiting out a back-off: abort them, including one whose timer just fired.
    void abort_send_backoffs() noexcept {
        generation.fetch_add(1, std::memory_order_acq_rel);
        const std::lock_guard lock(mutex);
        for (auto* t : send_timers) t->cancel();
    }

    // One attempt at a receive, as the reactor performs it: true when the operation is done
    // (a message or an error in `ec`), false to wait for the next readiness edge.
    bool perform_receive(std::span<std::byte> buffer, received& out, error_code& ec) {
        if (backend == mq_backend::notify && armed && take_mq_notify_cookie(notify_socket))
            armed = false; // the registration fired (or was removed): it is gone
        for (;;) {
            const auto r = queue.try_receive(buffer, ec);
            if (ec) return true;
            if (r) {
                out = *r;
                return true;
            }
            if (backend == mq_backend::descriptor || armed) return false;
            // Register, then look again: a message that came before the registration made no
            // empty -> non-empty transition we could hear about.
            ec = arm_mq_notify(queue.native_handle(), notify_socket);
            if (ec) return true;
            armed = true;
        }
    }
};

template <class Executor>
using async_mq_state_ptr = std::shared_ptr<async_mq_state<Executor>>;

// Sets up a freshly filled state.
template <class Executor>
void attach(async_mq_state<Executor>& st, error_code& ec) {
    ec = {};
    if (st.backend == mq_backend::descriptor) return; // registered on the first wait
    if (!st.queue.can_read()) return;                 // write-only: nothing to be notified of
    st.notify_socket = open_mq_notify_socket(ec);
}

inline error_code aborted() noexcept {
    return boost::asio::error::operation_aborted;
}

// ---- reactor operations (both backends' receives, the descriptor backend's sends) ------------

// The three shapes of completion: (ec) for sends, (ec, size, priority) for receives into the
// caller's buffer, (ec, message) for owning receives.
enum class op_kind { send, receive, receive_message };

template <op_kind Kind>
struct op_payload;

template <>
struct op_payload<op_kind::send> {
    std::span<const std::byte> bytes;
    unsigned priority = 0;
};

template <>
struct op_payload<op_kind::receive> {
    std::span<std::byte> buffer;
    received result;
};

template <>
struct op_payload<op_kind::receive_message> {
    message msg;
    received result;
};

inline std::span<std::byte> receive_buffer(op_payload<op_kind::receive>& pl) noexcept {
    return pl.buffer;
}
inline std::span<std::byte> receive_buffer(op_payload<op_kind::receive_message>& pl) noexcept {
    return pl.msg.data;
}

// One non-blocking attempt: true when the operation is done (moved its message, or failed
// with `ec`).
inline bool try_once(message_queue& q, op_payload<op_kind::send>& pl, error_code& ec) {
    return q.try_send(pl.bytes, pl.priority, ec) || ec;
}
template <op_kind Kind>
bool try_once(message_queue& q, op_payload<Kind>& pl, error_code& ec) {
    const auto r = q.try_receive(receive_buffer(pl), ec);
    if (r) pl.result = *r;
    return r || ec;
}

// The owning receive's result: the buffer trimmed to the message, or nothing on error.
inline message take_message(const error_code& ec, op_payload<op_kind::receive_message>& pl) {
    message m;
    if (!ec) {
        m = std::move(pl.msg);
        m.data.resize(pl.result.size);
        m.priority = pl.result.priority;
    }
    return m;
}

template <class Executor, op_kind Kind>
struct mq_op_common : boost::asio::detail::reactor_op {
    // The payload is taken over (moved from, for an owning receive's buffer).
    mq_op_common(async_mq_state_ptr<Executor> s, op_payload<Kind>& p, func_type on_complete)
        : reactor_op(error_code(), &do_perform, on_complete), st(std::move(s)),
          payload(static_cast<op_payload<Kind>&&>(p)) {}

    // Runs on whichever thread runs the reactor, under its lock for this descriptor, which also
    // serialises it against cancellation: an operation either moved its message here or is
    // still queued and can be aborted having moved nothing.
    static status do_perform(reactor_op* base) {
        auto* o = static_cast<mq_op_common*>(base);
        ++o->attempts;
        auto& s = *o->st;
        if constexpr (Kind == op_kind::send) {
            return try_once(s.queue, o->payload, o->ec_) ? done : not_done;
        } else {
            if (!s.perform_receive(receive_buffer(o->payload), o->payload.result, o->ec_))
                return not_done;
            s.receive_waited.store(o->attempts > 1, std::memory_order_relaxed);
            return done;
        }
    }

    static constexpr int direction = Kind == op_kind::send ? 1 : 0;

    async_mq_state_ptr<Executor> st;
    op_payload<Kind> payload;
    unsigned attempts = 0;
    bool counted = false; ///< Counted in st->queued while in the reactor.
};

template <class Executor, class Handler, op_kind Kind>
class mq_op : public mq_op_common<Executor, Kind> {
public:
    BOOST_ASIO_DEFINE_HANDLER_PTR(mq_op);

    mq_op(async_mq_state_ptr<Executor> s, op_payload<Kind>& p, Handler& h, const Executor& io_ex)
        : mq_op_common<Executor, Kind>(std::move(s), p, &mq_op::do_complete),
          handler_(std::move(h)), work_(handler_, io_ex) {}

    static void do_complete(void* owner, boost::asio::detail::operation* base,
                            const error_code& /*ec*/, std::size_t /*bytes*/) {
        namespace ad = boost::asio::detail;
        auto* o = static_cast<mq_op*>(base);
        if (o->counted) o->st->queued[o->direction].fetch_sub(1, std::memory_order_relaxed);
        ptr p = {ad::addressof(o->handler_), o, o};
        ad::handler_work<Handler, Executor> w(std::move(o->work_));
        // Move the handler and results out so that the memory (and our share of the state) is
        // released before the upcall: the handler may destroy the queue object.
        auto bound = bind_result(o->handler_, o->ec_, o->payload);
        p.h = ad::addressof(bound.handler_);
        p.reset();
        if (owner) {
            ad::fenced_block b(ad::fenced_block::half);
            w.complete(bound, bound.handler_);
        }
    }

private:
    static auto bind_result(Handler& h, const error_code& ec, op_payload<Kind>& pl) {
        namespace ad = boost::asio::detail;
        if constexpr (Kind == op_kind::send) {
            return ad::binder1<Handler, error_code>(0, std::move(h), ec);
        } else if constexpr (Kind == op_kind::receive) {
            return ad::binder3<Handler, error_code, std::size_t, unsigned>(
                0, std::move(h), ec, ec ? 0 : pl.result.size, ec ? 0u : pl.result.priority);
        } else {
            return ad::move_binder2<Handler, error_code, message>(0, std::move(h), ec,
                                                                  take_message(ec, pl));
        }
    }

    Handler handler_;
    boost::asio::detail::handler_work<Handler, Executor> work_;
};

// ---- notify backend sends: there is no "not full" notification, so back off on a timer ------

template <class Executor>
struct send_backoff_op {
    using state = async_mq_state<Executor>;
    using timer_type = typename state::timer_type;

    // Unregisters the back-off timer from the state whatever ends the operation (completion,
    // or destruction of a pending handler at io_context shutdown).
    struct timer_deleter {
        state* owner = nullptr;
        void operator()(timer_type* t) const {
            if (owner) {
                const std::lock_guard lock(owner->mutex);
                auto& v = owner->send_timers;
                v.erase(std::remove(v.begin(), v.end(), t), v.end());
            }
            delete t;
        }
    };

    static constexpr std::chrono::microseconds first_backoff{50};
    static constexpr std::chrono::microseconds max_backoff{5000};

    async_mq_state_ptr<Executor> st;
    std::uint64_t generation = 0;
    std::span<const std::byte> bytes;
    unsigned priority;
    std::chrono::microseconds backoff = first_backoff;
    std::unique_ptr<timer_type, timer_deleter> timer; // declared after `st`: destroyed first
    bool waited = false;

    // Counted in st->queued[1] from construction until finish() or destruction (whichever
    // holds `st` last: moved-from copies hold none).
    send_backoff_op(async_mq_state_ptr<Executor> s, std::span<const std::byte> b, unsigned p)
        : st(std::move(s)), bytes(b), priority(p) {
        generation = st->generation.load(std::memory_order_acquire);
        st->queued[1].fetch_add(1, std::memory_order_relaxed);
    }
    send_backoff_op(send_backoff_op&&) noexcept = default;
    send_backoff_op& operator=(send_backoff_op&&) = delete;
    ~send_backoff_op() {
        if (st) st->queued[1].fetch_sub(1, std::memory_order_relaxed);
    }

    template <class Self>
    void operator()(Self& self, error_code wait_ec = {}) {
        if (!waited) {
            // The initiation found the queue full a moment ago: wait before looking again.
            self.reset_cancellation_state(boost::asio::enable_total_cancellation());
            return wait(self);
        }
        // Check for cancellation right before the irreversible call, under the lock close()
        // takes to close the queue (this step may run on another thread of the io_context).
        error_code ec;
        bool done = true;
        if (wait_ec || self.cancelled() != boost::asio::cancellation_type::none) {
            ec = wait_ec ? wait_ec : aborted();
        } else {
            const std::lock_guard lock(st->mutex);
            if (st->generation.load(std::memory_order_acquire) != generation ||
                !st->queue.is_open())
                ec = aborted();
            else
                done = st->queue.try_send(bytes, priority, ec) || ec;
        }
        if (done) return finish(self, ec);
        wait(self);
    }

    template <class Self>
    void wait(Self& self) {
        waited = true;
        auto& s = *st;
        if (!timer) {
            timer = std::unique_ptr<timer_type, timer_deleter>(new timer_type(s.executor),
                                                               timer_deleter{&s});
            const std::lock_guard lock(s.mutex);
            s.send_timers.push_back(timer.get());
        }
        const std::lock_guard lock(s.mutex); // cancel() may touch the timer from its thread
        timer->expires_after(backoff);
        backoff = std::min(backoff * 2, max_backoff);
        timer->async_wait(std::move(self));
    }

    template <class Self>
    void finish(Self& self, const error_code& ec) {
        timer.reset();
        st->queued[1].fetch_sub(1, std::memory_order_relaxed);
        st.reset(); // before the upcall: the handler may destroy the object
        self.complete(ec);
    }
};

// Calls the handler with the outcome of an operation that finished inside its initiation.
template <op_kind Kind, class Handler>
void complete_directly(Handler& h, const error_code& ec, op_payload<Kind>& pl) {
    if constexpr (Kind == op_kind::send) {
        resume_directly(h, ec);
    } else if constexpr (Kind == op_kind::receive) {
        resume_directly(h, ec, ec ? std::size_t{0} : pl.result.size, ec ? 0u : pl.result.priority);
    } else {
        resume_directly(h, ec, take_message(ec, pl));
    }
}

// The initiation shared by the three operations: one attempt on the calling thread (unless the
// last receive had to wait), then either a completion at once or a reactor operation.
template <op_kind Kind, bool DirectToken, class Executor, class Handler>
void start_mq_op(const async_mq_state_ptr<Executor>& st, const Executor& io_ex,
                 op_payload<Kind>& payload, Handler& handler) {
    namespace ad = boost::asio::detail;
    constexpr bool is_send = Kind == op_kind::send;
    auto& s = *st;
    using op = mq_op<Executor, Handler, Kind>;
    error_code ec;
    bool finished = false;
    if (s.queued[op::direction].load(std::memory_order_relaxed) == 0 &&
        (is_send || !s.receive_waited.load(std::memory_order_relaxed))) {
        finished = try_once(s.queue, payload, ec);
        if (finished && may_resume_directly<DirectToken>())
            return complete_directly<Kind>(handler, ec, payload);
    }

    if constexpr (is_send) {
        if (!finished && s.backend == mq_backend::notify) {
            boost::asio::async_compose<Handler, void(error_code)>(
                send_backoff_op<Executor>(st, payload.bytes, payload.priority), handler, io_ex);
            return;
        }
    }

    const bool is_continuation = boost_asio_handler_cont_helpers::is_continuation(handler);
    auto slot = boost::asio::get_associated_cancellation_slot(handler);
    typename op::ptr p = {ad::addressof(handler), op::ptr::allocate(handler), nullptr};
    p.p = new (p.v) op(st, payload, handler, io_ex);
    if (!finished) { // it has to wait: in the reactor, once the descriptor is registered
        if (!is_send && s.backend == mq_backend::notify && s.notify_socket == -1)
            ec = make_error_code(errc::not_readable);
        else
            ec = s.registration.ensure(s.watched_descriptor());
        finished = bool(ec);
    }
    if (finished) {
        p.p->ec_ = ec;
        s.registration.post_completed(p.p, is_continuation);
        p.v = p.p = nullptr;
        return;
    }
    constexpr int op_type =
        is_send ? reactor_registration::reactor::write_op : reactor_registration::reactor::read_op;
    if (slot.is_connected())
        p.p->cancellation_key_ =
            &slot.template emplace<reactor_registration::op_cancellation>(s.registration, op_type);
    p.p->counted = true;
    s.queued[op::direction].fetch_add(1, std::memory_order_relaxed);
    s.registration.start(op_type, p.p, is_continuation);
    p.v = p.p = nullptr;
}

} // namespace detail

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
/// A handler is never called inside the initiating function: an operation that can complete at
/// once (a message is waiting, there is room, or an argument is bad) posts its completion. The
/// exception is a coroutine suspended on the operation through `use_awaitable` (also under
/// `as_tuple` or `redirect_error`): it is resumed directly, which is indistinguishable for the
/// coroutine and saves a scheduler pass, at most 16 times in a row on a thread; the next such
/// completion is posted, so other handlers still get their turn.
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
    using executor_type = Executor;
    using native_handle_type = ::mqd_t;

    /// Rebinds the queue type to another executor (`use_awaitable_t<>::as_default_on_t<...>`).
    template <class Executor1>
    struct rebind_executor {
        using other = basic_async_message_queue<Executor1>;
    };

    /// A closed queue; open() or assign() it later.
    explicit basic_async_message_queue(const executor_type& ex) : ex_(ex) {}

    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
    explicit basic_async_message_queue(ExecutionContext& ctx) : ex_(ctx.get_executor()) {}

    /// Opens or creates the queue `name` as `opts` says (throws pipc::error).
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

    /// Creates a queue with a generated, unused name (see name()).
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

    /// Takes over an open core queue (its notification registration, if any, must be free
    /// for the notify backend to use it).
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

    /// Pending operations keep running and complete on the new object's state.
    basic_async_message_queue(basic_async_message_queue&& other) noexcept
        : ex_(other.ex_), state_(std::move(other.state_)) {}

    basic_async_message_queue& operator=(basic_async_message_queue&& other) noexcept {
        if (this != &other) {
            error_code ignored;
            close(ignored);
            ex_ = other.ex_;
            state_ = std::move(other.state_);
        }
        return *this;
    }

    /// Converting move. The source must have no pending operations.
    template <class Executor1>
    requires std::is_convertible_v<Executor1, Executor>
    basic_async_message_queue(basic_async_message_queue<Executor1>&& other)
        : ex_(other.get_executor()) {
        if (other.is_open()) {
            const auto backend = other.backend();
            assign(other.release(), backend);
        }
    }

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

    executor_type get_executor() const noexcept { return ex_; }

    // --- open / close ----------------------------------------------------------------------

    /// Opens or creates `name`; an open object is closed first.
    void open(std::string_view name, const message_queue::options& opts, mq_backend backend,
              error_code& ec) {
        message_queue q;
        q.open(name, opts, ec);
        if (!ec) assign_or_remove(std::move(q), backend, ec);
    }
    void open(std::string_view name, const message_queue::options& opts = {},
              mq_backend backend = mq_backend::descriptor) {
        error_code ec;
        open(name, opts, backend, ec);
        if (ec) throw_error(ec, "async_message_queue::open \"" + std::string(name) + "\"");
    }

    /// Adopts an open core queue; an open object is closed first. On failure `queue` is closed.
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

    bool is_open() const noexcept { return state_ && state_->queue.is_open(); }
    mq_backend backend() const noexcept {
        return state_ ? state_->backend : mq_backend::descriptor;
    }
    /// The mqd_t (-1 when closed).
    native_handle_type native_handle() const noexcept {
        return state_ ? state_->queue.native_handle() : -1;
    }
    /// The core queue, for its accessors (name(), max_message_size(), attributes(), ...).
    const message_queue& core() const noexcept { return state_ ? state_->queue : closed_core(); }

    /// Makes every pending operation complete with operation_aborted; none moves a message.
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

    /// Cancels pending operations and closes the descriptor (never unlinks). Closing a closed
    /// object does nothing.
    void close(error_code& ec) {
        ec = {};
        if (!state_) return;
        auto st = std::move(state_);
        st->detach();
        const std::lock_guard lock(st->mutex); // a notify send's back-off step may be checking
        st->queue.close(ec);
    }
    void close() {
        error_code ec;
        const std::string name = core().name();
        close(ec);
        if (ec) throw_error(ec, "async_message_queue::close \"" + name + "\"");
    }

    /// Cancels pending operations and hands back the open core queue; the object is closed.
    message_queue release() {
        if (!state_) return {};
        auto st = std::move(state_);
        st->detach();
        const std::lock_guard lock(st->mutex); // a notify send's back-off step may be checking
        return std::move(st->queue);
    }

    // --- blocking calls (forwarded to pipc::message_queue, same overloads and errors) -------

    template <class... Args>
    auto send(Args&&... args)
        -> decltype(std::declval<message_queue&>().send(std::forward<Args>(args)...)) {
        return core_ref().send(std::forward<Args>(args)...);
    }
    template <class... Args>
    auto try_send(Args&&... args)
        -> decltype(std::declval<message_queue&>().try_send(std::forward<Args>(args)...)) {
        return core_ref().try_send(std::forward<Args>(args)...);
    }
    template <class... Args>
    auto send_for(Args&&... args)
        -> decltype(std::declval<message_queue&>().send_for(std::forward<Args>(args)...)) {
        return core_ref().send_for(std::forward<Args>(args)...);
    }
    template <class... Args>
    auto send_until(Args&&... args)
        -> decltype(std::declval<message_queue&>().send_until(std::forward<Args>(args)...)) {
        return core_ref().send_until(std::forward<Args>(args)...);
    }
    template <class... Args>
    auto receive(Args&&... args)
        -> decltype(std::declval<message_queue&>().receive(std::forward<Args>(args)...)) {
        return core_ref().receive(std::forward<Args>(args)...);
    }
    template <class... Args>
    auto try_receive(Args&&... args)
        -> decltype(std::declval<message_queue&>().try_receive(std::forward<Args>(args)...)) {
        return core_ref().try_receive(std::forward<Args>(args)...);
    }
    template <class... Args>
    auto receive_for(Args&&... args)
        -> decltype(std::declval<message_queue&>().receive_for(std::forward<Args>(args)...)) {
        return core_ref().receive_for(std::forward<Args>(args)...);
    }
    template <class... Args>
    auto receive_until(Args&&... args)
        -> decltype(std::declval<message_queue&>().receive_until(std::forward<Args>(args)...)) {
        return core_ref().receive_until(std::forward<Args>(args)...);
    }
    template <class... Args>
    auto attributes(Args&&... args) const
        -> decltype(std::declval<const message_queue&>().attributes(std::forward<Args>(args)...)) {
        return core().attributes(std::forward<Args>(args)...);
    }
    template <class... Args>
    auto current_messages(Args&&... args) const
        -> decltype(std::declval<const message_queue&>().current_messages(
            std::forward<Args>(args)...)) {
        return core().current_messages(std::forward<Args>(args)...);
    }
    /// Removes the queue's name (mq_unlink); the object stays usable.
    void unlink() { core_ref().unlink(); }
    void unlink(error_code& ec) { core_ref().unlink(ec); }

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
    ///
    /// @par Completion Signature
    /// @code void(pipc::error_code ec) @endcode
    /// Errors: operation_aborted; pipc::errc::closed, not_writable, message_too_long,
    /// invalid_priority; system errors from mq_timedsend.
    ///
    /// @par Per-Operation Cancellation
    /// Supports terminal, partial and total cancellation. `operation_aborted` means the message
    /// was not queued; a message already queued completes with success.
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code))
                  CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto
    async_send(boost::asio::const_buffer msg, unsigned priority,
               CompletionToken&& token = boost::asio::default_completion_token_t<executor_type>()) {
        return boost::asio::async_initiate<CompletionToken, void(error_code)>(
            initiate_send<detail::direct_resumption_token<CompletionToken>>{this}, token, msg,
            priority);
    }
    /// async_send with priority 0.
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
    ///
    /// @par Completion Signature
    /// @code void(pipc::error_code ec, std::size_t size, unsigned priority) @endcode
    /// Errors: operation_aborted; pipc::errc::closed, not_readable, buffer_too_small;
    /// EBUSY (condition::busy) on the notify backend when another process holds the queue's
    /// notification registration; system errors from mq_timedreceive.
    ///
    /// @par Per-Operation Cancellation
    /// Supports terminal, partial and total cancellation. `operation_aborted` means no message
    /// was consumed; a message already taken completes with success.
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

    /// Receives one message into a buffer it allocates (max_message_size() bytes, trimmed).
    ///
    /// @par Completion Signature
    /// @code void(pipc::error_code ec, pipc::message msg) @endcode
    /// On error `msg` is empty. Errors as async_receive, except buffer_too_small.
    ///
    /// @par Per-Operation Cancellation
    /// Supports terminal, partial and total cancellation, with the guarantees of async_receive.
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code, message))
                  CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_receive_message(
        CompletionToken&& token = boost::asio::default_completion_token_t<executor_type>()) {
        return boost::asio::async_initiate<CompletionToken, void(error_code, message)>(
            initiate_receive_message<detail::direct_resumption_token<CompletionToken>>{this},
            token);
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
    template <class Handler, class... Values>
    static void complete_closed(const executor_type& ex, Handler& handler, Values... values) {
        boost::asio::post(ex, boost::asio::detail::bind_handler(
                                  std::move(handler), make_error_code(errc::closed), values...));
    }

    template <bool DirectToken>
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
    template <bool DirectToken>
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
    template <bool DirectToken>
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

    executor_type ex_;
    std::shared_ptr<state> state_;
};

/// The queue on `boost::asio::any_io_executor`.
using async_message_queue = basic_async_message_queue<>;

} // namespace pipc
