// pipc/asio/async_message_queue.hpp - a POSIX message queue as a Boost.Asio I/O object.
#pragma once

#include <pipc/asio/detail/mq_notify_socket.hpp>
#include <pipc/error.hpp>
#include <pipc/message_queue.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/posix/basic_stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/wait_traits.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
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
    using descriptor_type = boost::asio::posix::basic_stream_descriptor<Executor>;
    using timer_type = boost::asio::basic_waitable_timer<
        std::chrono::steady_clock, boost::asio::wait_traits<std::chrono::steady_clock>, Executor>;

    async_mq_state(const Executor& ex, mq_backend b) : waiter(ex), backend(b) {}

    message_queue queue;
    /// descriptor: the mqd_t (released, never closed: the core owns it), used only for
    /// async_wait since read() on an mqd_t returns a status line. notify: the netlink socket.
    descriptor_type waiter;
    mq_backend backend;
    /// Bumped by cancel()/close(): an operation whose wait completed just before still aborts.
    std::atomic<std::uint64_t> generation{0};
    std::mutex mutex;                     ///< Guards `armed` and `send_timers`.
    bool armed = false;                   ///< notify: our registration is (believed) live.
    std::vector<timer_type*> send_timers; ///< notify: back-off timers of waiting sends.

    void cancel_waits() {
        generation.fetch_add(1, std::memory_order_acq_rel);
        error_code ignored;
        waiter.cancel(ignored);
        const std::lock_guard lock(mutex);
        for (auto* t : send_timers) t->cancel();
    }

    // Stops waiting and hands the queue back open. Pending operations complete with
    // operation_aborted (they see the generation change or their cancelled wait).
    void detach() {
        cancel_waits();
        error_code ignored;
        if (backend == mq_backend::descriptor) {
            if (waiter.is_open()) waiter.release();
        } else {
            const std::lock_guard lock(mutex);
            if (armed && queue.is_open()) disarm_mq_notify(queue.native_handle());
            armed = false;
            waiter.close(ignored);
        }
    }
};

template <class Executor>
using async_mq_state_ptr = std::shared_ptr<async_mq_state<Executor>>;

// Sets up the waiter of a freshly filled state.
template <class Executor>
void attach(async_mq_state<Executor>& st, error_code& ec) {
    ec = {};
    if (st.backend == mq_backend::descriptor) {
        const bool was_blocking = st.queue.blocking(ec);
        if (ec) return;
        st.waiter.assign(st.queue.native_handle(), ec);
        if (ec) return;
        // Asio's first async_wait would otherwise set O_NONBLOCK on the open file description,
        // which every dup and forked child shares. Let Asio set it now and record that, then put
        // the user's choice back: wait operations never depend on it, and the core's try_*
        // calls work either way.
        st.waiter.non_blocking(true, ec);
        if (!ec && was_blocking) st.queue.set_blocking(true, ec);
        if (ec) st.waiter.release();
        return;
    }
    if (!st.queue.can_read()) return; // write-only: nothing to be notified of
    const int sock = open_mq_notify_socket(ec);
    if (ec) return;
    st.waiter.assign(sock, ec);
    if (ec) ::close(sock);
}

inline error_code aborted() noexcept {
    return boost::asio::error::operation_aborted;
}

// ---- operations ---------------------------------------------------------------------------

template <class Executor>
struct mq_op_base {
    async_mq_state_ptr<Executor> st;
    std::uint64_t generation = 0;
    error_code ec;
    enum class step : unsigned char { start, waited, deliver } at = step::start;

    explicit mq_op_base(async_mq_state_ptr<Executor> s) : st(std::move(s)) {
        if (st) generation = st->generation.load(std::memory_order_acquire);
    }

    // After a wait: was anything asked to stop us? Checked right before the irreversible call.
    template <class Self>
    bool stop_requested(Self& self, const error_code& wait_ec) {
        if (wait_ec) {
            ec = wait_ec;
            return true;
        }
        if (self.cancelled() != boost::asio::cancellation_type::none ||
            st->generation.load(std::memory_order_acquire) != generation || !st->queue.is_open()) {
            ec = aborted();
            return true;
        }
        return false;
    }
};

template <class Executor, bool Owning>
struct receive_op : mq_op_base<Executor> {
    using base = mq_op_base<Executor>;
    using step = typename base::step;
    boost::asio::mutable_buffer buffer;
    message msg;
    received result;

    receive_op(async_mq_state_ptr<Executor> s, boost::asio::mutable_buffer b)
        : base(std::move(s)), buffer(b) {}

    template <class Self>
    void operator()(Self& self, error_code wait_ec = {}) {
        switch (this->at) {
        case step::start:
            self.reset_cancellation_state(boost::asio::enable_total_cancellation());
            if (!this->st || !this->st->queue.is_open()) {
                this->ec = make_error_code(errc::closed);
                return deliver_later(self);
            }
            if constexpr (Owning) {
                if (this->st->queue.can_read())
                    msg.data.resize(static_cast<std::size_t>(this->st->queue.max_message_size()));
                buffer = boost::asio::buffer(msg.data);
            }
            return attempt(self, true);
        case step::waited:
            if (this->stop_requested(self, wait_ec)) return deliver(self);
            if (this->st->backend == mq_backend::notify) {
                const std::lock_guard lock(this->st->mutex);
                if (detail::drain_mq_notify_socket(this->st->waiter.native_handle()) > 0)
                    this->st->armed = false;
            }
            return attempt(self, false);
        case step::deliver:
            return deliver(self);
        }
    }

    template <class Self>
    void attempt(Self& self, bool initiating) {
        auto& s = *this->st;
        const std::span<std::byte> span(static_cast<std::byte*>(buffer.data()), buffer.size());
        for (;;) {
            error_code e;
            const auto r = s.queue.try_receive(span, e);
            if (e || r) {
                this->ec = e;
                if (r) result = *r;
                return initiating ? deliver_later(self) : deliver(self);
            }
            if (s.backend == mq_backend::notify) {
                const std::lock_guard lock(s.mutex);
                if (!s.armed) {
                    // Register, then look again: a message that came before the registration
                    // made no empty -> non-empty transition we could hear about.
                    if (auto arm_ec =
                            arm_mq_notify(s.queue.native_handle(), s.waiter.native_handle())) {
                        this->ec = arm_ec;
                        return initiating ? deliver_later(self) : deliver(self);
                    }
                    s.armed = true;
                    continue;
                }
            }
            this->at = step::waited;
            return s.waiter.async_wait(boost::asio::posix::descriptor_base::wait_read,
                                       std::move(self));
        }
    }

    template <class Self>
    void deliver_later(Self& self) {
        this->at = step::deliver;
        auto io_ex = self.get_io_executor();
        boost::asio::post(io_ex, std::move(self));
    }

    template <class Self>
    void deliver(Self& self) {
        // Drop our share of the state before the upcall: the handler may destroy the object.
        this->st.reset();
        if constexpr (Owning) {
            if (this->ec) {
                self.complete(this->ec, message{});
            } else {
                msg.data.resize(result.size);
                msg.priority = result.priority;
                self.complete(this->ec, std::move(msg));
            }
        } else {
            self.complete(this->ec, result.size, result.priority);
        }
    }
};

template <class Executor>
struct send_op : mq_op_base<Executor> {
    using base = mq_op_base<Executor>;
    using step = typename base::step;
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

    boost::asio::const_buffer buffer;
    unsigned priority;
    std::chrono::microseconds backoff = first_backoff;
    std::unique_ptr<timer_type, timer_deleter> timer; // declared after `st`: destroyed first

    send_op(async_mq_state_ptr<Executor> s, boost::asio::const_buffer b, unsigned p)
        : base(std::move(s)), buffer(b), priority(p) {}

    template <class Self>
    void operator()(Self& self, error_code wait_ec = {}) {
        switch (this->at) {
        case step::start:
            self.reset_cancellation_state(boost::asio::enable_total_cancellation());
            if (!this->st || !this->st->queue.is_open()) {
                this->ec = make_error_code(errc::closed);
                return deliver_later(self);
            }
            return attempt(self, true);
        case step::waited:
            if (this->stop_requested(self, wait_ec)) return deliver(self);
            return attempt(self, false);
        case step::deliver:
            return deliver(self);
        }
    }

    template <class Self>
    void attempt(Self& self, bool initiating) {
        auto& s = *this->st;
        error_code e;
        const std::span<const std::byte> span(static_cast<const std::byte*>(buffer.data()),
                                              buffer.size());
        const bool sent = s.queue.try_send(span, priority, e);
        if (e || sent) {
            this->ec = e;
            return initiating ? deliver_later(self) : deliver(self);
        }
        this->at = step::waited;
        if (s.backend == mq_backend::descriptor)
            return s.waiter.async_wait(boost::asio::posix::descriptor_base::wait_write,
                                       std::move(self));
        if (!timer) {
            timer = std::unique_ptr<timer_type, timer_deleter>(
                new timer_type(s.waiter.get_executor()), timer_deleter{&s});
            const std::lock_guard lock(s.mutex);
            s.send_timers.push_back(timer.get());
        }
        const std::lock_guard lock(s.mutex); // cancel() may touch the timer from its thread
        timer->expires_after(backoff);
        backoff = std::min(backoff * 2, max_backoff);
        timer->async_wait(std::move(self));
    }

    template <class Self>
    void deliver_later(Self& self) {
        this->at = step::deliver;
        auto io_ex = self.get_io_executor();
        boost::asio::post(io_ex, std::move(self));
    }

    template <class Self>
    void deliver(Self& self) {
        timer.reset();
        this->st.reset();
        self.complete(this->ec);
    }
};

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
        assign(std::move(q), backend);
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
        if (!ec) assign(std::move(q), backend, ec);
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
    /// in the reactor; notify backend: a back-off timer) and tries again. Never completes
    /// inside this call, not even with an immediate error.
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
        return boost::asio::async_initiate<CompletionToken, void(error_code)>(initiate_send{this},
                                                                              token, msg, priority);
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
    /// and tries again. Never completes inside this call.
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
            initiate_receive{this}, token, buffer);
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
            initiate_receive_message{this}, token);
    }

private:
    template <class>
    friend class basic_async_message_queue;

    static message_queue& closed_core() noexcept {
        static message_queue closed; // every call on it reports errc::closed and changes nothing
        return closed;
    }
    message_queue& core_ref() noexcept { return state_ ? state_->queue : closed_core(); }

    struct initiate_send {
        basic_async_message_queue* self;
        using executor_type = Executor;
        executor_type get_executor() const noexcept { return self->get_executor(); }
        template <class Handler>
        void operator()(Handler&& handler, boost::asio::const_buffer msg, unsigned prio) const {
            boost::asio::async_compose<Handler, void(error_code)>(
                detail::send_op<Executor>(self->state_, msg, prio), handler, self->ex_);
        }
    };
    struct initiate_receive {
        basic_async_message_queue* self;
        using executor_type = Executor;
        executor_type get_executor() const noexcept { return self->get_executor(); }
        template <class Handler>
        void operator()(Handler&& handler, boost::asio::mutable_buffer buffer) const {
            boost::asio::async_compose<Handler, void(error_code, std::size_t, unsigned)>(
                detail::receive_op<Executor, false>(self->state_, buffer), handler, self->ex_);
        }
    };
    struct initiate_receive_message {
        basic_async_message_queue* self;
        using executor_type = Executor;
        executor_type get_executor() const noexcept { return self->get_executor(); }
        template <class Handler>
        void operator()(Handler&& handler) const {
            boost::asio::async_compose<Handler, void(error_code, message)>(
                detail::receive_op<Executor, true>(self->state_, {}), handler, self->ex_);
        }
    };

    executor_type ex_;
    std::shared_ptr<state> state_;
};

/// The queue on `boost::asio::any_io_executor`.
using async_message_queue = basic_async_message_queue<>;

} // namespace pipc
