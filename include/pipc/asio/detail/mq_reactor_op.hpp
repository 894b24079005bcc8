// SPDX-License-Identifier: BSL-1.0
// pipc/asio/detail/mq_reactor_op.hpp - the reactor path: reactor operations that perform the
// queue call themselves, as Asio's reactive_descriptor_service does for sockets (epoll only).
#pragma once

#include <pipc/asio/detail/async_mq_state.hpp>
#include <pipc/asio/detail/reactor_registration.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/detail/fenced_block.hpp>
#include <boost/asio/detail/handler_alloc_helpers.hpp>
#include <boost/asio/detail/handler_cont_helpers.hpp>
#include <boost/asio/detail/handler_work.hpp>
#include <boost/asio/detail/memory.hpp>

namespace pipc::detail {
inline namespace PIPC_ASIO_MQ_PATH_NAMESPACE {

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
        if (o->skip_speculative) return not_done; // see start_waiting_op
        auto& s = *o->st;
        if (!perform_once(s, o->payload, o->ec_)) return not_done;
        if constexpr (Kind != op_kind::send)
            s.receive_waited.store(o->attempts > 1, std::memory_order_relaxed);
        return done;
    }

    static constexpr int direction = Kind == op_kind::send ? 1 : 0;

    async_mq_state_ptr<Executor> st;
    op_payload<Kind> payload;
    unsigned attempts = 0;
    /// Set only around start() on the reactor's only thread, right after a failed attempt: the
    /// reactor's speculative perform would repeat that system call for nothing.
    bool skip_speculative = false;
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
        o->st->queued[o->direction].fetch_sub(1, std::memory_order_relaxed);
        ptr p = {ad::addressof(o->handler_), o, o};
        ad::handler_work<Handler, Executor> w(std::move(o->work_));
        // Move the handler and results out so that the memory (and our share of the state) is
        // released before the upcall: the handler may destroy the queue object.
        auto bound = bind_result<Kind>(std::move(o->handler_), o->ec_, o->payload);
        p.h = ad::addressof(bound.handler_);
        p.reset();
        if (owner) {
            ad::fenced_block b(ad::fenced_block::half);
            w.complete(bound, bound.handler_);
        }
    }

private:
    Handler handler_;
    boost::asio::detail::handler_work<Handler, Executor> work_;
};

// Starts an operation whose first attempt found nothing to do (or was skipped): it waits in the
// reactor, which performs it once at once under its descriptor lock, then on every readiness
// edge. Returns an error instead when the descriptor cannot be registered (the caller completes
// the operation with it, having moved nothing).
//
// `just_failed`: the initiation has just made the queue call and found the queue not ready, on
// the reactor's only thread (reactor_registration::on_only_thread). Then the speculative perform
// is skipped: nothing can have taken the readiness edge of a message that came after that
// attempt (only this thread runs epoll_wait, and it is here), so the edge is still pending in the
// kernel and performs the operation on the next reactor run. Asio's sockets cannot know this and
// try twice; with several threads (or from a foreign thread) pipc also lets the reactor try again.
template <op_kind Kind, class Executor, class Handler>
error_code start_waiting_op(const async_mq_state_ptr<Executor>& st, const Executor& io_ex,
                            op_payload<Kind>& payload, Handler& handler, bool just_failed) {
    namespace ad = boost::asio::detail;
    constexpr bool is_send = Kind == op_kind::send;
    using op = mq_op<Executor, Handler, Kind>;
    auto& s = *st;
    if (const auto ec = s.registration.ensure(s.watched_descriptor())) return ec;
    const bool is_continuation = boost_asio_handler_cont_helpers::is_continuation(handler);
    auto slot = boost::asio::get_associated_cancellation_slot(handler);
    typename op::ptr p = {ad::addressof(handler), op::ptr::allocate(handler), nullptr};
    p.p = new (p.v) op(st, payload, handler, io_ex);
    constexpr int op_type =
        is_send ? reactor_registration::reactor::write_op : reactor_registration::reactor::read_op;
    if (slot.is_connected())
        p.p->cancellation_key_ =
            &slot.template emplace<reactor_registration::op_cancellation>(s.registration, op_type);
    s.queued[op::direction].fetch_add(1, std::memory_order_relaxed);
    auto* started = p.p;
    started->skip_speculative = just_failed;
    s.registration.start(op_type, started, is_continuation);
    // Only this thread can perform, complete or free the operation (it runs the reactor and is
    // here), so the operation is still alive: every later perform is a real one.
    if (just_failed) started->skip_speculative = false;
    p.v = p.p = nullptr;
    return {};
}

} // namespace PIPC_ASIO_MQ_PATH_NAMESPACE
} // namespace pipc::detail
