// SPDX-License-Identifier: BSL-1.0
// pipc/asio/detail/reactor_registration.hpp - one descriptor's place in the executor's reactor.
#pragma once

#include <pipc/error.hpp>

// Asio's detail headers expect the public ones first (detail/reactor.hpp alone does not compile).
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/io_context.hpp>

#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>

namespace pipc::detail {

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
        : reactor_(&boost::asio::use_service<reactor>(ctx)) {
        // As Asio's I/O services do: makes sure the scheduler runs the reactor at all.
        reactor_->init_task();
    }

    reactor_registration(const reactor_registration&) = delete;
    reactor_registration& operator=(const reactor_registration&) = delete;

    /// Must run before `fd` is closed.
    ~reactor_registration() { reset(); }

    bool registered() const noexcept { return fd_ != -1; }

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
    reactor::per_descriptor_data data_ = nullptr;
    int fd_ = -1;
};

} // namespace pipc::detail
