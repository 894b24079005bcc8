// SPDX-License-Identifier: BSL-1.0
// pipc/asio/detail/mq_timed_op.hpp - async_send_for/until and async_receive_for/until: the
// operation raced against a timer in a parallel group, which keeps both results.
#pragma once

#include <pipc/asio/detail/async_mq_state.hpp>
#include <pipc/error.hpp>
#include <pipc/message_queue.hpp>

#include <boost/asio/associator.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>

#include <array>
#include <cerrno>
#include <cstddef>
#include <memory>
#include <utility>

namespace pipc::detail {
inline namespace PIPC_ASIO_MQ_PATH_NAMESPACE {

// Why a parallel group and not awaitable operators: wait_for_one cancels the loser and still
// hands back every branch's result, so a message that moved just as the timer fired is reported
// (as a success), never dropped. The operation's own cancellation rule then gives the timed one
// its guarantee: a timeout (ETIMEDOUT, condition::busy) or operation_aborted means nothing moved.

/// The timeout an operation reports: ETIMEDOUT in the system category, as
/// async_semaphore::async_acquire_for does (`ec == pipc::condition::busy`).
inline error_code timed_out() noexcept {
    return {ETIMEDOUT, boost::system::system_category()};
}

/// The operation was aborted because the timer won: a timeout. Aborted otherwise (the caller's
/// cancellation, cancel(), close()): operation_aborted.
inline error_code map_timeout(const std::array<std::size_t, 2>& order, const error_code& ec,
                              const error_code& timer_ec) noexcept {
    if (ec == boost::asio::error::operation_aborted && order[0] == 1 && !timer_ec)
        return timed_out();
    return ec;
}

/// The parallel group's handler: maps the results to the operation's signature and keeps the
/// timer alive until both branches completed. Transparent to Asio's associators (executor,
/// allocator, cancellation slot, immediate executor of the wrapped handler).
template <class Handler, class Timer>
class timeout_mapper {
public:
    timeout_mapper(Handler h, std::shared_ptr<Timer> t)
        : handler_(std::move(h)), timer_(std::move(t)) {}

    void operator()(std::array<std::size_t, 2> order, error_code ec, error_code timer_ec) {
        timer_.reset();
        std::move(handler_)(map_timeout(order, ec, timer_ec));
    }
    void operator()(std::array<std::size_t, 2> order, error_code ec, std::size_t size,
                    unsigned priority, error_code timer_ec) {
        timer_.reset();
        std::move(handler_)(map_timeout(order, ec, timer_ec), size, priority);
    }
    void operator()(std::array<std::size_t, 2> order, error_code ec, message msg,
                    error_code timer_ec) {
        timer_.reset();
        std::move(handler_)(map_timeout(order, ec, timer_ec), std::move(msg));
    }

    const Handler& get() const noexcept { return handler_; }

private:
    Handler handler_;
    std::shared_ptr<Timer> timer_;
};

/// Starts `deferred_op` (an operation of the queue with the `deferred` token) against a timer
/// that expires at `when`.
template <class Timer, class Executor, class DeferredOp, class Handler>
void start_timed(const Executor& ex, std::chrono::steady_clock::time_point when,
                 DeferredOp&& deferred_op, Handler&& handler) {
    auto timer = std::make_shared<Timer>(ex, when);
    auto& t = *timer;
    boost::asio::experimental::make_parallel_group(std::forward<DeferredOp>(deferred_op),
                                                   t.async_wait(boost::asio::deferred))
        .async_wait(boost::asio::experimental::wait_for_one(),
                    timeout_mapper<std::decay_t<Handler>, Timer>(std::forward<Handler>(handler),
                                                                 std::move(timer)));
}

} // namespace PIPC_ASIO_MQ_PATH_NAMESPACE
} // namespace pipc::detail

template <template <class, class> class Associator, class Handler, class Timer,
          class DefaultCandidate>
struct boost::asio::associator<
    Associator, pipc::detail::PIPC_ASIO_MQ_PATH_NAMESPACE::timeout_mapper<Handler, Timer>,
    DefaultCandidate> : Associator<Handler, DefaultCandidate> {
    static typename Associator<Handler, DefaultCandidate>::type
    get(const pipc::detail::PIPC_ASIO_MQ_PATH_NAMESPACE::timeout_mapper<Handler, Timer>& h,
        const DefaultCandidate& c = DefaultCandidate()) noexcept {
        return Associator<Handler, DefaultCandidate>::get(h.get(), c);
    }
};
