// SPDX-License-Identifier: BSL-1.0
// pipc/asio/detail/start_mq_op.hpp - the initiation shared by async_send, async_receive and
// async_receive_message: one attempt at once, then a completion at once or a wait.
#pragma once

#include <pipc/asio/detail/async_mq_state.hpp>
#include <pipc/asio/detail/immediate_completion.hpp>
#include <pipc/asio/detail/mq_send_backoff_op.hpp>

#if defined(PIPC_ASIO_PUBLIC_REACTOR_PATH)
#include <pipc/asio/detail/mq_wait_op.hpp>
#else
#include <pipc/asio/detail/mq_reactor_op.hpp>
#endif

#include <boost/asio/compose.hpp>

#include <mutex>

namespace pipc::detail {
inline namespace PIPC_ASIO_MQ_PATH_NAMESPACE {

template <op_kind Kind>
struct op_signature;
template <>
struct op_signature<op_kind::send> {
    using type = void(error_code);
};
template <>
struct op_signature<op_kind::receive> {
    using type = void(error_code, std::size_t, unsigned);
};
template <>
struct op_signature<op_kind::receive_message> {
    using type = void(error_code, message);
};

// An operation that is over inside its initiation: a coroutine suspended on it resumes directly
// (bounded, see immediate_completion.hpp); any other handler goes to its immediate executor.
template <op_kind Kind, direct_resumption DirectToken, class Executor, class Handler>
void complete_at_once(const Executor& io_ex, Handler& handler, const error_code& ec,
                      op_payload<Kind>& payload) {
    constexpr direct_resumption resumption = resumption_for<DirectToken, Handler>;
    if (may_resume_directly<resumption>()) {
        auto bound = bind_result<Kind>(std::move(handler), ec, payload);
        return resume_directly<resumption>(io_ex, bound);
    }
    complete_immediately(io_ex, bind_result<Kind>(std::move(handler), ec, payload));
}

// The spinning step of an initiation that found the queue not ready: polls for at most one
// budget of the queue's wait strategy (nothing at all, not even a clock read, with block()).
// Only while no older operation of the direction waits, so it never overtakes one.
// `tried`: the initiation already made its plain attempt. If not (a receive after one that
// had to wait), one comes first: a wait served by its first try teaches adaptive nothing.
template <class Executor, op_kind Kind>
bool spin_once(async_mq_state<Executor>& s, op_payload<Kind>& payload, error_code& ec, bool tried) {
    auto& w = s.queue.strategy();
    if (w.type() == wait_strategy::kind::block) return false;
    const auto poll = [&] { return try_once(s.queue, payload, ec); };
    return (!tried && w.current_budget().count() > 0 && poll()) || w.spin_until(poll);
}

// The initiation shared by the three operations: one attempt on the calling thread (unless
// older operations of its direction wait, or the last receive had to wait), then either a
// completion at once or a waiting operation.
template <op_kind Kind, direct_resumption DirectToken, class Executor, class Handler>
void start_mq_op(const async_mq_state_ptr<Executor>& st, const Executor& io_ex,
                 op_payload<Kind>& payload, Handler& handler) {
    constexpr bool is_send = Kind == op_kind::send;
    constexpr int direction = is_send ? 1 : 0;
    auto& s = *st;
    error_code ec;
    bool finished = false;
#if defined(PIPC_ASIO_PUBLIC_REACTOR_PATH)
    // Under the direction's lock, so that the attempt cannot overtake the oldest waiter's.
    std::unique_lock lock(s.order[direction].mutex);
    if (s.queued[direction].load(std::memory_order_relaxed) == 0) {
        // The notify backend's receive must register before it waits (a wait alone would never
        // hear of a message), so it always makes the full attempt.
        const bool notify_receive = !is_send && s.backend == mq_backend::notify;
        const bool tried =
            is_send || notify_receive || !s.receive_waited.load(std::memory_order_relaxed);
        if (tried) finished = perform_once(s, payload, ec);
        if (!finished) finished = spin_once(s, payload, ec, tried);
        if (!is_send && finished) s.receive_waited.store(false, std::memory_order_relaxed);
    }
#else
    // On the reactor's only thread a failed attempt here replaces the reactor's speculative one
    // (start_waiting_op), so the attempt costs nothing extra and a receive always makes it: a
    // message already there then completes at once instead of through the scheduler. The
    // notify backend's receive must register in the reactor's attempt, so it keeps that one.
    const bool alone = s.backend == mq_backend::descriptor && s.registration.on_only_thread();
    bool just_failed = false;
    if (s.queued[direction].load(std::memory_order_relaxed) == 0) {
        const bool tried = is_send || alone || !s.receive_waited.load(std::memory_order_relaxed);
        if (tried) finished = try_once(s.queue, payload, ec);
        if (!finished) finished = spin_once(s, payload, ec, tried);
        just_failed = alone && tried && !finished;
    }
#endif
    if constexpr (is_send) {
        if (!finished && s.backend == mq_backend::notify) {
#if defined(PIPC_ASIO_PUBLIC_REACTOR_PATH)
            lock.unlock();
#endif
            boost::asio::async_compose<Handler, void(error_code)>(
                send_backoff_op<Executor>(st, payload.bytes, payload.priority), handler, io_ex);
            return;
        }
    }
    if (!finished && !is_send && s.backend == mq_backend::notify && s.notify_socket == -1) {
        ec = make_error_code(errc::not_readable);
        finished = true;
    }
#if defined(PIPC_ASIO_PUBLIC_REACTOR_PATH)
    if (!finished) {
        ec = ensure_watched(s);
        finished = bool(ec);
    }
    if (!finished) {
        auto& w = s.order[direction];
        const auto ticket = w.next++;
        w.tickets.push_back(ticket);
        s.queued[direction].fetch_add(1, std::memory_order_relaxed);
        mq_wait_op<Executor, Kind> op(st, payload, ticket,
                                      s.generation.load(std::memory_order_acquire));
        lock.unlock();
        boost::asio::async_compose<Handler, typename op_signature<Kind>::type>(std::move(op),
                                                                               handler, io_ex);
        return;
    }
    lock.unlock();
#else
    if (!finished) {
        ec = start_waiting_op<Kind>(st, io_ex, payload, handler, just_failed);
        if (!ec) return;
    }
#endif
    complete_at_once<Kind, DirectToken>(io_ex, handler, ec, payload);
}

} // namespace PIPC_ASIO_MQ_PATH_NAMESPACE
} // namespace pipc::detail
