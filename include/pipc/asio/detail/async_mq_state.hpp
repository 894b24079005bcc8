// SPDX-License-Identifier: BSL-1.0
// pipc/asio/detail/async_mq_state.hpp - what an async_message_queue and its pending operations
// share: the core queue, the backend's wait machinery, and the operation payloads.
#pragma once

#include <pipc/asio/detail/mq_config.hpp>
#include <pipc/asio/detail/mq_notify_socket.hpp>
#include <pipc/asio/mq_backend.hpp>
#include <pipc/error.hpp>
#include <pipc/message_queue.hpp>

#if defined(PIPC_ASIO_PUBLIC_REACTOR_PATH)
#include <boost/asio/posix/basic_stream_descriptor.hpp>
#include <deque>
#include <fcntl.h>
#include <optional>
#else
#include <pipc/asio/detail/reactor_registration.hpp>
#endif

#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/detail/bind_handler.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/context.hpp>
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
#include <utility>
#include <vector>

namespace pipc::detail {
inline namespace PIPC_ASIO_MQ_PATH_NAMESPACE {

template <class Executor>
struct async_mq_state {
    using timer_type = boost::asio::basic_waitable_timer<
        std::chrono::steady_clock, boost::asio::wait_traits<std::chrono::steady_clock>, Executor>;

#if defined(PIPC_ASIO_PUBLIC_REACTOR_PATH)
    using descriptor_type = boost::asio::posix::basic_stream_descriptor<Executor>;

    async_mq_state(const Executor& ex, mq_backend b) : executor(ex), backend(b) {}
#else
    async_mq_state(const Executor& ex, mq_backend b)
        : executor(ex), backend(b),
          registration(boost::asio::query(ex, boost::asio::execution::context)) {}
#endif

    async_mq_state(const async_mq_state&) = delete;
    async_mq_state& operator=(const async_mq_state&) = delete;

    ~async_mq_state() {
        detach();
    }

    // Declaration order is teardown order in reverse: the reactor lets go of the descriptor
    // (registration / watched) before the notification socket and the queue are closed.
    message_queue queue;
    Executor executor;
    mq_backend backend;
    int notify_socket = -1; ///< notify backend: where the kernel queues notification cookies.
#if defined(PIPC_ASIO_PUBLIC_REACTOR_PATH)
    /// The public path: the mqd_t (descriptor) or notify_socket (notify) as an Asio descriptor,
    /// assigned by the first operation that has to wait (a queue that never waits is never
    /// registered) and released, never closed, by detach().
    std::optional<descriptor_type> watched;
    std::mutex watch_mutex; ///< Guards `watched` (assignment, waits, cancel, release).
    bool watched_was_nonblocking = false; ///< O_NONBLOCK as found when `watched` was assigned.
    /// Waiting operations of one direction, in the order they started. Only the oldest may
    /// perform the queue call; the others wait again (no overtaking).
    struct waiters {
        std::mutex mutex; ///< Also serialises the queue calls of this direction's operations.
        std::deque<std::uint64_t> tickets;
        std::uint64_t next = 0;
    } order[2];
#else
    reactor_registration registration;     ///< of the mqd_t (descriptor) or notify_socket (notify).
#endif
    /// descriptor: whether the queue kept its O_NONBLOCK poll descriptor before attach()
    /// asked it to (take_queue() hands it back as it was).
    bool poll_descriptor_was_kept = false;
    /// The last receive had to wait: the next one goes to the reactor at once instead of trying
    /// first (a ping-pong peer would otherwise pay two failed mq_receive calls per message).
    std::atomic<bool> receive_waited{false};
    /// Operations waiting, per direction (0: receives, 1: sends). A new operation does not try
    /// on its own while older ones of its direction wait, so it cannot overtake them (Asio's
    /// sockets keep the same order).
    std::atomic<int> queued[2] = {0, 0};
    /// notify: our registration is (believed) live. Touched only while performing a receive
    /// (under the reactor's descriptor lock, or the receive direction's mutex on the public
    /// path) and in detach() after the reactor let go.
    bool armed = false;
    /// Bumped by cancel()/close(): an operation started before that and still waiting aborts,
    /// including one whose wait (or back-off) just completed.
    std::atomic<std::uint64_t> generation{0};
    std::mutex mutex;                     ///< Guards send_timers.
    std::vector<timer_type*> send_timers; ///< notify: back-off timers of waiting sends.

    /// Closes the queue after detach(), once no waiting operation's step is checking it.
    void close_queue(error_code& ec) {
#if defined(PIPC_ASIO_PUBLIC_REACTOR_PATH)
        const std::scoped_lock lock(mutex, order[0].mutex, order[1].mutex);
#else
        const std::lock_guard lock(mutex); // a notify send's back-off step may be checking
#endif
        queue.close(ec);
    }

    /// Hands the queue out after detach(), under the same locks as close_queue().
    message_queue take_queue() {
#if defined(PIPC_ASIO_PUBLIC_REACTOR_PATH)
        const std::scoped_lock lock(mutex, order[0].mutex, order[1].mutex);
#else
        const std::lock_guard lock(mutex);
#endif
        if (!poll_descriptor_was_kept) queue.keep_poll_descriptor(false); // as attach() found it
        return std::move(queue);
    }

    int watched_descriptor() const noexcept {
        return backend == mq_backend::descriptor ? queue.native_handle() : notify_socket;
    }

    void cancel_waits() {
        abort_send_backoffs(); // bumps the generation first
#if defined(PIPC_ASIO_PUBLIC_REACTOR_PATH)
        const std::lock_guard lock(watch_mutex);
        if (watched) {
            error_code ignored;
            watched->cancel(ignored);
        }
#else
        registration.cancel();
#endif
    }

    // Stops waiting and leaves the queue open. Pending operations complete with
    // operation_aborted, having moved nothing.
    void detach() noexcept {
        abort_send_backoffs();
#if defined(PIPC_ASIO_PUBLIC_REACTOR_PATH)
        {
            const std::lock_guard lock(watch_mutex);
            if (watched) {
                if (watched->is_open()) {
                    const int fd = watched->release(); // cancels its waits
                    // Asio put the description in O_NONBLOCK for its waits; give it back as it
                    // was (pipc's own calls do not depend on the flag either way).
                    if (!watched_was_nonblocking) {
                        const int fl = ::fcntl(fd, F_GETFL);
                        if (fl != -1 && (fl & O_NONBLOCK)) ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
                    }
                }
                watched.reset();
            }
        }
#else
        registration.reset();
#endif
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

    // One attempt at a receive, as a waiting operation performs it: true when the operation is
    // done (a message or an error in `ec`), false to wait for the next readiness.
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
    if (st.backend == mq_backend::descriptor) {
        // Every attempt is a try: on an O_NONBLOCK descriptor of the queue a failing one (one
        // per wait) costs about half of one with an expired timeout on the main descriptor, which
        // the object must leave blocking. (Not for the notify backend: closing a second
        // descriptor would drop the process's mq_notify registration.)
        st.poll_descriptor_was_kept = st.queue.keeps_poll_descriptor();
        st.queue.keep_poll_descriptor(true);
        return; // registered on the first wait
    }
    if (!st.queue.can_read()) return; // write-only: nothing to be notified of
    st.notify_socket = open_mq_notify_socket(ec);
}

inline error_code aborted() noexcept {
    return boost::asio::error::operation_aborted;
}

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

// The attempt a waiting operation makes when it may proceed (the notify backend's receive also
// takes the cookie and re-registers).
template <class Executor>
bool perform_once(async_mq_state<Executor>& s, op_payload<op_kind::send>& pl, error_code& ec) {
    return try_once(s.queue, pl, ec);
}
template <class Executor, op_kind Kind>
bool perform_once(async_mq_state<Executor>& s, op_payload<Kind>& pl, error_code& ec) {
    return s.perform_receive(receive_buffer(pl), pl.result, ec);
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

// The handler with the operation's outcome bound, as Asio's binders (they forward the handler's
// associated executor, allocator, cancellation slot and immediate executor).
template <op_kind Kind, class Handler>
auto bind_result(Handler&& h, const error_code& ec, op_payload<Kind>& pl) {
    namespace ad = boost::asio::detail;
    using H = std::decay_t<Handler>;
    if constexpr (Kind == op_kind::send) {
        return ad::binder1<H, error_code>(0, std::forward<Handler>(h), ec);
    } else if constexpr (Kind == op_kind::receive) {
        return ad::binder3<H, error_code, std::size_t, unsigned>(
            0, std::forward<Handler>(h), ec, ec ? 0 : pl.result.size, ec ? 0u : pl.result.priority);
    } else {
        return ad::move_binder2<H, error_code, message>(0, std::forward<Handler>(h), ec,
                                                        take_message(ec, pl));
    }
}

} // namespace PIPC_ASIO_MQ_PATH_NAMESPACE
} // namespace pipc::detail
