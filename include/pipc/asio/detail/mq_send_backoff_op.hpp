// SPDX-License-Identifier: BSL-1.0
// pipc/asio/detail/mq_send_backoff_op.hpp - notify-backend sends: there is no "not full"
// notification, so a send that finds the queue full retries on a timer with capped back-off.
#pragma once

#include <pipc/asio/detail/async_mq_state.hpp>

#include <boost/asio/cancellation_state.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>

namespace pipc::detail {
inline namespace PIPC_ASIO_MQ_PATH_NAMESPACE {

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

} // namespace PIPC_ASIO_MQ_PATH_NAMESPACE
} // namespace pipc::detail
