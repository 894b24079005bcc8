// SPDX-License-Identifier: BSL-1.0
// pipc/asio/detail/mq_wait_op.hpp - the public path: posix::stream_descriptor::async_wait plus the
// non-blocking queue call, for every reactor Asio has (select, io_uring, epoll when forced).
#pragma once

#include <pipc/asio/detail/async_mq_state.hpp>

#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/posix/descriptor_base.hpp>

#include <fcntl.h>

#include <cerrno>
#include <cstdint>
#include <mutex>

namespace pipc::detail {
inline namespace PIPC_ASIO_MQ_PATH_NAMESPACE {

// How the guarantees of the reactor path are kept with public API only:
// - Nothing lost: an operation waits with async_wait, which moves nothing, and performs the queue
//   call only in its continuation, after checking the object's generation (bumped by cancel(),
//   close()) and its own cancellation state. Once the call moved the message the operation
//   completes with success whatever is requested afterwards.
// - No overtaking: every waiting operation holds a ticket of its direction; only the oldest may
//   perform the call. The others wait again when woken (async_wait is level-triggered, so a
//   readiness they skip is seen again). A new operation does not try at once while older ones
//   of its direction wait.
// - No inline completion: the first wait is started inside the initiation, after everything that
//   could fail at once was checked; every completion runs from a wait's handler.
// - notify backend: only the oldest receive registers with mq_notify. When it leaves with others
//   still waiting, it wakes them by cancelling the socket's waits (a "kick": an abort that
//   neither the object nor the operation asked for means "look again"), so the next one performs
//   the call and registers if the queue is empty.

/// Makes `st.watched` hold the waited-on descriptor; an error if Asio cannot take it.
template <class Executor>
error_code ensure_watched(async_mq_state<Executor>& st) {
    const std::lock_guard lock(st.watch_mutex);
    if (st.watched) return {};
    typename async_mq_state<Executor>::descriptor_type d(st.executor);
    const int fl = ::fcntl(st.watched_descriptor(), F_GETFL);
    st.watched_was_nonblocking = fl != -1 && (fl & O_NONBLOCK) != 0;
    error_code ec;
    d.assign(st.watched_descriptor(), ec);
    if (ec) return ec;
    st.watched.emplace(std::move(d));
    return {};
}

/// Asio's io_uring backend before 1.27 (Boost 1.81) can complete a wait with ENOENT: it reuses
/// submission entries without clearing their user data, so the result of its own
/// IORING_OP_ASYNC_CANCEL lands on another operation (chriskohlhoff/asio PR #1215). It says
/// nothing about the queue: the operation looks again (the queue call reports real errors).
/// That Asio can also lose a cancellation outright, which no caller can repair: the docs tell
/// users of io_uring to use Asio 1.27 or newer.
inline bool is_spurious_wait_error(const error_code& ec) noexcept {
    return ec == error_code(ENOENT, boost::system::system_category());
}

template <class Executor, op_kind Kind>
class mq_wait_op {
public:
    static constexpr int direction = Kind == op_kind::send ? 1 : 0;

    // Called with the direction's mutex held, after the ticket was queued and counted.
    mq_wait_op(async_mq_state_ptr<Executor> s, op_payload<Kind>& p, std::uint64_t ticket,
               std::uint64_t generation)
        : st_(std::move(s)), payload_(static_cast<op_payload<Kind>&&>(p)), ticket_(ticket),
          generation_(generation) {}
    mq_wait_op(mq_wait_op&&) noexcept = default;
    mq_wait_op& operator=(mq_wait_op&&) = delete;
    /// A pending operation destroyed without completing (its io_context shut down) gives up
    /// its place.
    ~mq_wait_op() {
        if (st_) leave(false);
    }

    template <class Self>
    void operator()(Self& self, error_code wait_ec = {}) {
        auto& s = *st_;
        if (!started_) {
            started_ = true;
            self.reset_cancellation_state(boost::asio::enable_total_cancellation());
            return wait(self);
        }
        error_code ec;
        if (self.cancelled() != boost::asio::cancellation_type::none) {
            ec = aborted();
        } else if (wait_ec && wait_ec != boost::asio::error::operation_aborted &&
                   !is_spurious_wait_error(wait_ec)) {
            ec = wait_ec;
        } else { // readiness, a kick, or a spurious wake: look (again)
            // The generation is checked under the direction's lock, which close() also takes
            // to close the queue: the call below never meets a queue closed under it.
            auto& w = s.order[direction];
            std::unique_lock lock(w.mutex);
            if (s.generation.load(std::memory_order_acquire) != generation_) {
                ec = aborted();
            } else if (w.tickets.front() != ticket_ || !perform_once(s, payload_, ec)) {
                lock.unlock();
                return wait(self);
            } else if constexpr (Kind != op_kind::send) {
                s.receive_waited.store(true, std::memory_order_relaxed);
            }
        }
        finish(self, ec);
    }

private:
    template <class Self>
    void wait(Self& self) {
        auto& s = *st_;
        {
            const std::lock_guard lock(s.watch_mutex);
            if (s.watched && s.generation.load(std::memory_order_acquire) == generation_) {
                using base = boost::asio::posix::descriptor_base;
                s.watched->async_wait(Kind == op_kind::send ? base::wait_write : base::wait_read,
                                      std::move(self));
                return;
            }
        }
        // close() or cancel() ran since this operation started: only reached from a wait's
        // continuation, never inside the initiation.
        finish(self, aborted());
    }

    template <class Self>
    void finish(Self& self, const error_code& ec) {
        leave(true); // before the upcall: the handler may destroy the object
        if constexpr (Kind == op_kind::send) {
            self.complete(ec);
        } else if constexpr (Kind == op_kind::receive) {
            self.complete(ec, ec ? std::size_t{0} : payload_.result.size,
                          ec ? 0u : payload_.result.priority);
        } else {
            self.complete(ec, take_message(ec, payload_));
        }
    }

    void leave(bool wake_next) noexcept {
        auto st = std::move(st_);
        auto& w = st->order[direction];
        bool kick = false;
        {
            const std::lock_guard lock(w.mutex);
            const bool was_head = !w.tickets.empty() && w.tickets.front() == ticket_;
            std::erase(w.tickets, ticket_);
            st->queued[direction].fetch_sub(1, std::memory_order_relaxed);
            kick = wake_next && was_head && !w.tickets.empty() && Kind != op_kind::send &&
                   st->backend == mq_backend::notify;
        }
        if (kick) {
            const std::lock_guard lock(st->watch_mutex);
            error_code ignored;
            if (st->watched) st->watched->cancel(ignored);
        }
    }

    async_mq_state_ptr<Executor> st_;
    op_payload<Kind> payload_;
    std::uint64_t ticket_;
    std::uint64_t generation_;
    bool started_ = false;
};

} // namespace PIPC_ASIO_MQ_PATH_NAMESPACE
} // namespace pipc::detail
