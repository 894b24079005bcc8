// SPDX-License-Identifier: BSL-1.0
// pipc/asio/detail/reactor_registration.hpp - one descriptor's place in the executor's reactor.
#pragma once

#include <pipc/error.hpp>

// Asio's detail headers expect the public ones first (detail/reactor.hpp alone does not compile).
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/io_context.hpp>

#include <boost/asio/detail/concurrency_hint.hpp>
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/detail/scheduler.hpp>
#if __has_include(<boost/asio/config.hpp>)
#include <boost/asio/config.hpp> // Boost >= 1.87: the concurrency hint lives in the config
#endif

namespace pipc::detail {

// Whether the io_context was created for one thread (concurrency hint 1, or a hint without
// scheduler or reactor-I/O locking): the condition under which Asio's scheduler itself assumes a
// single thread (its one_thread_). Boost < 1.87 exposes the hint on the scheduler; later versions
// keep it in the context's config.
template <class Scheduler>
bool one_thread_hint(Scheduler& sched, [[maybe_unused]] boost::asio::execution_context& ctx) {
    if constexpr (requires { sched.concurrency_hint(); }) {
        const int hint = sched.concurrency_hint();
        return hint == 1 || !BOOST_ASIO_CONCURRENCY_HINT_IS_LOCKING(SCHEDULER, hint) ||
               !BOOST_ASIO_CONCURRENCY_HINT_IS_LOCKING(REACTOR_IO, hint);
    } else {
#if __has_include(<boost/asio/config.hpp>)
        return boost::asio::config(ctx).get("scheduler", "concurrency_hint", 0) == 1;
#else
        return false;
#endif
    }
}

// Why not posix::stream_descriptor::async_wait: Asio starts a wait op without a speculative
// attempt, which makes the reactor re-arm the descriptor with epoll_ctl(EPOLL_CTL_MOD) on every
// wait, and it registers a descriptor at assign() whether or not anything will ever wait on it
// (a write-only queue then wakes its reactor for every message its peer receives). This talks to
// the reactor the way Asio's own reactive_descriptor_service does, with operations that perform
// the queue call themselves: the first attempt runs under the reactor's descriptor lock, the
// descriptor stays registered edge-triggered with no re-arming, and registration waits for the
// first operation that has to wait.
class reactor_registration {
public:
    using reactor = boost::asio::detail::reactor;

    explicit reactor_registration(boost::asio::execution_context& ctx)
        : reactor_(&boost::asio::use_service<reactor>(ctx)),
          // The scheduler the reactor itself uses (epoll_reactor takes it the same way).
          scheduler_(&boost::asio::use_service<boost::asio::detail::scheduler>(ctx)),
          one_thread_(one_thread_hint(*scheduler_, ctx)) {
        // As Asio's I/O services do: makes sure the scheduler runs the reactor at all.
        reactor_->init_task();
    }

    reactor_registration(const reactor_registration&) = delete;
    reactor_registration& operator=(const reactor_registration&) = delete;

    /// Must run before `fd` is closed.
    ~reactor_registration() { reset(); }

    bool registered() const noexcept { return fd_ != -1; }

    /// True when the calling thread is the only one that runs the reactor: the io_context was
    /// created for one thread (see one_thread_hint) and this thread is inside its run(). Then no
    /// readiness edge can be taken from the reactor between a failed attempt made here and the
    /// start() of the operation that waits for the next one.
    bool on_only_thread() const noexcept { return one_thread_ && scheduler_->can_dispatch(); }

    /// Registers `fd` unless it is registered already.
    error_code ensure(int fd) noexcept {
        if (fd_ != -1) return {};
        if (const int err = reactor_->register_descriptor(fd, data_)) {
            reactor_->cleanup_descriptor_data(data_); // allocated before epoll_ctl failed
            return {err, boost::system::system_category()};
        }
        fd_ = fd;
        return {};
    }

    /// Queues `op` (ensure() first). The reactor performs it once at once, under its descriptor
    /// lock, then again on every readiness edge until it is done.
    void start(int op_type, boost::asio::detail::reactor_op* op, bool is_continuation) {
        reactor_->start_op(op_type, fd_, data_, op, is_continuation, true);
    }

    /// Hands an operation that is already complete to the scheduler.
    void post_completed(boost::asio::detail::reactor_op* op, bool is_continuation) {
        reactor_->post_immediate_completion(op, is_continuation);
    }

    /// Every queued operation completes with operation_aborted; none is performed again.
    void cancel() noexcept {
        if (fd_ != -1) reactor_->cancel_ops(fd_, data_);
    }

    /// Removes the descriptor from the reactor; queued operations complete with
    /// operation_aborted. After the io_context has shut down this only forgets the descriptor.
    void reset() noexcept {
        if (fd_ == -1) return;
        reactor_->deregister_descriptor(fd_, data_, false);
        reactor_->cleanup_descriptor_data(data_);
        fd_ = -1;
    }

    /// Installed in an operation's cancellation slot: removes that one operation from the
    /// reactor's queue if it has not been performed yet. Same shape and lifetime rules as
    /// Asio's reactive_descriptor_service::reactor_op_cancellation.
    class op_cancellation {
    public:
        op_cancellation(reactor_registration& owner, int op_type) noexcept
            : reactor_(owner.reactor_), data_(&owner.data_), fd_(owner.fd_), op_type_(op_type) {}

        void operator()(boost::asio::cancellation_type_t type) {
            using ct = boost::asio::cancellation_type;
            if (!!(type & (ct::terminal | ct::partial | ct::total)))
                reactor_->cancel_ops_by_key(fd_, *data_, op_type_, this);
        }

    private:
        reactor* reactor_;
        reactor::per_descriptor_data* data_;
        int fd_;
        int op_type_;
    };

private:
    reactor* reactor_;
    boost::asio::detail::scheduler* scheduler_;
    bool one_thread_;
    reactor::per_descriptor_data data_ = nullptr;
    int fd_ = -1;
};

} // namespace pipc::detail
