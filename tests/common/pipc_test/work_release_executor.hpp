// SPDX-License-Identifier: BSL-1.0
// tests/common/pipc_test/work_release_executor.hpp - an io_context executor that counts the
// outstanding work it carried being released on a thread other than the I/O thread.
//
// Asio's own background threads (the resolver's, for instance) hand the work of an operation
// over to the completion they queue, so it ends on the thread that runs the context. A helper
// thread that drops the last unit of work itself makes the scheduler stop() from that thread,
// at any later moment: even after the I/O thread's next restart(), so that run() returns with
// a completion still queued. This executor makes that visible without a race: every tracked
// copy that dies elsewhere is counted.
#pragma once

#include <boost/asio/execution.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>

#include <atomic>
#include <thread>
#include <utility>

namespace pipc_test {

/// Tracked work released away from `io_thread` (set it to the thread that runs the context).
inline std::atomic<int> work_released_elsewhere{0};
inline std::thread::id io_thread;

template <class Inner>
class work_release_executor {
    // First: the member functions' return types name it.
    Inner inner_;
    bool holds_;

public:
    explicit work_release_executor(const Inner& inner) noexcept
        : inner_(inner), holds_(tracked(inner_)) {}
    work_release_executor(const work_release_executor& o) noexcept
        : inner_(o.inner_), holds_(o.holds_) {}
    work_release_executor(work_release_executor&& o) noexcept
        : inner_(std::move(o.inner_)), holds_(std::exchange(o.holds_, false)) {}
    work_release_executor& operator=(const work_release_executor& o) noexcept {
        note_release();
        inner_ = o.inner_;
        holds_ = o.holds_;
        return *this;
    }
    work_release_executor& operator=(work_release_executor&& o) noexcept {
        note_release();
        inner_ = std::move(o.inner_);
        holds_ = std::exchange(o.holds_, false);
        return *this;
    }
    ~work_release_executor() { note_release(); }

    template <class F>
    void execute(F&& f) const {
        inner_.execute(std::forward<F>(f));
    }

    template <class Property>
    auto query(const Property& p) const noexcept(noexcept(boost::asio::query(inner_, p)))
        -> decltype(boost::asio::query(inner_, p)) {
        return boost::asio::query(inner_, p);
    }

    template <class Property>
    auto require(const Property& p) const
        -> work_release_executor<std::decay_t<decltype(boost::asio::require(inner_, p))>> {
        return work_release_executor<std::decay_t<decltype(boost::asio::require(inner_, p))>>(
            boost::asio::require(inner_, p));
    }

    friend bool operator==(const work_release_executor& a,
                           const work_release_executor& b) noexcept {
        return a.inner_ == b.inner_;
    }
    friend bool operator!=(const work_release_executor& a,
                           const work_release_executor& b) noexcept {
        return !(a == b);
    }

private:
    static bool tracked(const Inner& e) noexcept {
        return boost::asio::query(e, boost::asio::execution::outstanding_work) ==
               boost::asio::execution::outstanding_work.tracked;
    }
    void note_release() noexcept {
        if (holds_ && std::this_thread::get_id() != io_thread) ++work_released_elsewhere;
        holds_ = false;
    }
};

/// The executor of `ctx`, wrapped.
inline work_release_executor<boost::asio::io_context::executor_type>
work_release_executor_of(boost::asio::io_context& ctx) {
    return work_release_executor<boost::asio::io_context::executor_type>(ctx.get_executor());
}

} // namespace pipc_test
