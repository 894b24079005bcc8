// SPDX-License-Identifier: BSL-1.0
// pipc/asio/async_semaphore.hpp on a multi-threaded io_context (runs under ThreadSanitizer).
#define BOOST_TEST_MODULE asio_async_semaphore_threaded
#include <boost/test/unit_test.hpp>

#include "async_semaphore_support.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <thread>
#include <vector>

using namespace sem_test;
using pipc::object_kind;

namespace {

/// Runs `ctx` on `n` threads until it runs out of work (bounded by a watchdog stop).
void run_threads(asio::io_context& ctx, int n) {
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i)
        threads.emplace_back([&] { ctx.run_for(std::chrono::seconds(60)); });
    for (auto& t : threads) t.join();
}

} // namespace

BOOST_AUTO_TEST_CASE(coroutines_on_four_threads_share_one_semaphore) {
    pipc_test::named name(object_kind::semaphore);
    asio::io_context ctx(4);
    constexpr int limit = 3, coroutines = 24, rounds = 20;
    pipc::async_semaphore s(ctx, name, create_opts(limit));
    std::atomic<int> holders{0}, max_holders{0}, done{0}, timeouts{0};
    for (int c = 0; c < coroutines; ++c)
        asio::co_spawn(
            ctx,
            [&, c]() -> asio::awaitable<void> {
                for (int r = 0; r < rounds; ++r) {
                    if ((c + r) % 3 == 0) {
                        auto [ec] = co_await s.async_acquire_for(
                            std::chrono::microseconds(200), asio::as_tuple(asio::use_awaitable));
                        if (ec) {
                            ++timeouts;
                            continue;
                        }
                    } else {
                        co_await s.async_acquire(asio::use_awaitable);
                    }
                    const int now = ++holders;
                    int seen = max_holders.load();
                    while (now > seen && !max_holders.compare_exchange_weak(seen, now)) {
                    }
                    co_await asio::post(ctx, asio::use_awaitable); // hold it across a hop
                    --holders;
                    s.release();
                }
                ++done;
            },
            asio::detached);
    run_threads(ctx, 4);
    BOOST_TEST(done.load() == coroutines);
    BOOST_TEST(max_holders.load() <= limit);
    BOOST_TEST(s.value() == limit); // every acquire was matched by a release
}

BOOST_AUTO_TEST_CASE(cancellation_emitted_on_strands_while_another_thread_posts) {
    pipc_test::named name(object_kind::semaphore);
    asio::io_context ctx(4);
    pipc::async_semaphore s(ctx, name, create_opts(0));
    pipc::semaphore poster_handle(name);
    constexpr int ops = 200;
    std::atomic<int> successes{0}, completed{0};
    std::vector<std::unique_ptr<asio::cancellation_signal>> signals;
    for (int i = 0; i < ops; ++i) signals.push_back(std::make_unique<asio::cancellation_signal>());
    std::vector<asio::strand<asio::io_context::executor_type>> strands;
    for (int i = 0; i < ops; ++i) strands.push_back(asio::make_strand(ctx));

    for (int i = 0; i < ops; ++i)
        asio::post(strands[i], [&, i] {
            s.async_acquire(asio::bind_cancellation_slot(
                signals[i]->slot(), asio::bind_executor(strands[i], [&](error_code ec) {
                    if (!ec) ++successes;
                    ++completed;
                })));
            // The emit goes through the same strand as the operation, as Asio requires.
            asio::post(strands[i], [&, i] {
                const auto type = i % 3 == 0   ? asio::cancellation_type::terminal
                                  : i % 3 == 1 ? asio::cancellation_type::partial
                                               : asio::cancellation_type::total;
                signals[i]->emit(type);
            });
        });
    constexpr int posts = ops / 2;
    std::thread poster([&] {
        for (int i = 0; i < posts; ++i) poster_handle.release();
    });
    run_threads(ctx, 4);
    poster.join();
    BOOST_TEST(completed.load() == ops);
    BOOST_TEST(s.value() == posts - successes.load());
}
