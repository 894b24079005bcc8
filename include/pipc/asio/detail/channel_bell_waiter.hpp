// SPDX-License-Identifier: BSL-1.0
// pipc/asio/detail/channel_bell_waiter.hpp - how an async_channel waits in the reactor for one
// of its doorbells (a FIFO, see docs/channel.md, "Asio").
#pragma once

#include <pipc/asio/detail/mq_config.hpp>
#include <pipc/detail/channel_async.hpp>
#include <pipc/error.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#if defined(PIPC_ASIO_PUBLIC_REACTOR_PATH)
#include <boost/asio/posix/basic_stream_descriptor.hpp>
#else
#include <pipc/asio/detail/reactor_registration.hpp>

#include <boost/asio/detail/bind_handler.hpp>
#include <boost/asio/detail/fenced_block.hpp>
#include <boost/asio/detail/handler_alloc_helpers.hpp>
#include <boost/asio/detail/handler_work.hpp>
#include <boost/asio/detail/memory.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>
#endif

#include <unistd.h>

#include <cstddef>
#include <utility>

namespace pipc::detail {
inline namespace PIPC_ASIO_MQ_PATH_NAMESPACE {

#if !defined(PIPC_ASIO_PUBLIC_REACTOR_PATH)

/// The reactor operation of a bell wait: performing it is emptying the bell. A drain that took
/// the bell's bytes is "done and exhausted" (it reads until the FIFO is empty), which tells the
/// epoll reactor to skip the speculative drain of the next wait until the descriptor reports a
/// new edge: a wait then costs no system call before epoll_wait, and no epoll_ctl re-arm.
template <class Handler, class IoExecutor>
class channel_bell_op : public boost::asio::detail::reactor_op {
public:
    BOOST_ASIO_DEFINE_HANDLER_PTR(channel_bell_op);

    channel_bell_op(int fd, const channel* defer, bool* left, Handler& h, const IoExecutor& io_ex)
        : reactor_op(error_code(), &do_perform, &do_complete), fd_(fd), defer_(defer), left_(left),
          handler_(std::move(h)), work_(handler_, io_ex) {}

    // Runs under the reactor's lock for the descriptor, on whichever thread runs the reactor:
    // it touches nothing but the bell (and, for a deferring wait, the header's hint and the
    // waiter's flag, which the handler reads after the scheduler handed it over).
    // A deferring wait woken by a ring from another CPU completes on the edge without emptying
    // the bell: its owner, the only one that empties it, does so before it announces its next
    // wait (drain_left), off the path of the wake-up, while the peer runs.
    static status do_perform(reactor_op* base) {
        auto* o = static_cast<channel_bell_op*>(base);
        if (o->defer_ != nullptr && channel_async_access::rung_from_other_cpu(*o->defer_)) {
            *o->left_ = true;
            return done_and_exhausted;
        }
        return channel_async_access::drain(o->fd_) ? done_and_exhausted : not_done;
    }

    static void do_complete(void* owner, boost::asio::detail::operation* base,
                            const error_code& /*ec*/, std::size_t /*bytes*/) {
        namespace ad = boost::asio::detail;
        auto* o = static_cast<channel_bell_op*>(base);
        ptr p = {ad::addressof(o->handler_), o, o};
        ad::handler_work<Handler, IoExecutor> w(std::move(o->work_));
        ad::binder1<Handler, error_code> bound(o->handler_, o->ec_);
        p.h = ad::addressof(bound.handler_);
        p.reset();
        if (owner) {
            ad::fenced_block b(ad::fenced_block::half);
            w.complete(bound, bound.handler_);
        }
    }

private:
    int fd_;
    const channel* defer_;
    bool* left_;
    Handler handler_;
    boost::asio::detail::handler_work<Handler, IoExecutor> work_;
};

/// One bell descriptor, registered with the executor's epoll reactor at its first wait and kept
/// registered (edge-triggered) until close(). Owns the descriptor.
template <class Executor>
class channel_bell_waiter {
public:
    /// The wait's handler runs with the bell already emptied, except a deferring wait woken
    /// from another CPU (see defer_drain), whose byte drain_left() empties.
    static constexpr bool drains_itself = true;

    explicit channel_bell_waiter(const Executor& ex)
        : ex_(ex), reg_(boost::asio::query(ex, boost::asio::execution::context)) {}
    channel_bell_waiter(const channel_bell_waiter&) = delete;
    channel_bell_waiter& operator=(const channel_bell_waiter&) = delete;
    ~channel_bell_waiter() { close(); }

    void assign(int fd, error_code& ec) noexcept {
        fd_ = fd;
        ec = {};
    }
    int native_handle() const noexcept { return fd_; }
    /// True once the descriptor is in the reactor (for tests).
    bool registered() const noexcept { return reg_.registered(); }

    /// Completes `h(ec)` once the bell rang, with the bell emptied. The first drain is tried at
    /// once only when the reactor saw an edge since the last successful drain.
    /// After defer_drain(), a wait woken by a ring from another CPU completes on the reactor's
    /// edge and leaves the byte in the bell for drain_left() (the first wait after
    /// registration always drains: its edge may predate the owner's last drain).
    template <class Handler>
    void async_wait(Handler h) {
        namespace ad = boost::asio::detail;
        const bool fresh = !reg_.registered();
        if (const auto ec = reg_.ensure(fd_)) {
            boost::asio::post(ex_, ad::bind_handler(std::move(h), ec));
            return;
        }
        using op = channel_bell_op<Handler, Executor>;
        typename op::ptr p = {ad::addressof(h), op::ptr::allocate(h), nullptr};
        p.p = new (p.v) op(fd_, fresh ? nullptr : defer_, &left_, h, ex_);
        reg_.start(reactor_registration::reactor::read_op, p.p, false);
        p.v = p.p = nullptr;
    }

    /// The owner, the only one that empties this bell (the data bell: one consumer), lets a
    /// wait woken from another CPU (the hint in `ch`'s header) leave the byte, and empties the
    /// bell itself with drain_left() before it announces its next wait.
    void defer_drain(const channel& ch) noexcept { defer_ = &ch; }

    /// Empties the bell if the last wait left its byte. Must run before the owner announces
    /// its next wait: the next ring must find the bell empty, or the edge-triggered reactor
    /// would see no new edge for it. @return true if it did.
    bool drain_left() noexcept {
        if (!left_) return false;
        left_ = false;
        channel_async_access::drain(fd_);
        return true;
    }

    /// A queued wait completes with operation_aborted.
    void cancel(error_code& ec) noexcept {
        reg_.cancel();
        ec = {};
    }

    /// Leaves the reactor (a queued wait completes with operation_aborted), closes the bell.
    void close(error_code& ec) noexcept {
        reg_.reset();
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        left_ = false;
        ec = {};
    }

private:
    void close() noexcept {
        error_code ignored;
        close(ignored);
    }

    Executor ex_;
    reactor_registration reg_;
    int fd_ = -1;
    const channel* defer_ = nullptr;
    bool left_ = false; ///< The last wait left its byte (see defer_drain).
};

#else

/// The public path (any reactor): posix::stream_descriptor::async_wait, which re-arms the
/// descriptor on every wait; the handler empties the bell itself.
template <class Executor>
class channel_bell_waiter {
public:
    static constexpr bool drains_itself = false;

    explicit channel_bell_waiter(const Executor& ex) : d_(ex) {}

    void assign(int fd, error_code& ec) { d_.assign(fd, ec); }
    int native_handle() noexcept { return d_.native_handle(); }
    bool registered() const noexcept { return d_.is_open(); }

    /// The public path empties every bell in the handler: nothing is deferred.
    void defer_drain(const channel& /*ch*/) noexcept {}
    bool drain_left() noexcept { return false; }

    template <class Handler>
    void async_wait(Handler h) {
        // No wake-up is lost between the drain and this wait: a non-speculative reactor wait
        // re-arms the descriptor (epoll: EPOLL_CTL_MOD, which reports a bell that is already
        // readable; select and io_uring poll the current state).
        d_.async_wait(descriptor::wait_read, std::move(h));
    }
    void cancel(error_code& ec) { d_.cancel(ec); }
    void close(error_code& ec) { d_.close(ec); }

private:
    using descriptor = boost::asio::posix::basic_stream_descriptor<Executor>;
    descriptor d_;
};

#endif

} // namespace PIPC_ASIO_MQ_PATH_NAMESPACE
} // namespace pipc::detail
