// SPDX-License-Identifier: BSL-1.0
// Tests of pipc/asio/async_message_queue.hpp on a multi-threaded io_context (run under
// ThreadSanitizer in CI): objects on strands, many coroutines, cancellation, use_future.
#define BOOST_TEST_MODULE asio_async_message_queue_threaded
#include <boost/test/unit_test.hpp>

#include "async_message_queue_support.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

using namespace mq_test;
using pipc::object_kind;
using pipc_test::named;
using namespace std::chrono_literals;

namespace {

using strand_t = asio::strand<asio::io_context::executor_type>;
using strand_queue = pipc::basic_async_message_queue<strand_t>;

/// Runs `ctx` on `n` threads until it runs out of work, or for at most a minute: an operation
/// that never completes then fails the test's checks instead of hanging it.
struct thread_pool {
    std::vector<std::thread> threads;
    thread_pool(asio::io_context& ctx, int n) {
        for (int i = 0; i < n; ++i) threads.emplace_back([&ctx] { ctx.run_for(60s); });
    }
    ~thread_pool() {
        for (auto& t : threads) t.join();
    }
};

} // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(strands_on_four_threads_deliver_every_message_once, B, backends) {
    named n(object_kind::message_queue, "mt");
    constexpr int senders = 3, per_sender = 2000, receivers_per_object = 4;
    // The notify backend allows one registration per queue (per process too): one receiving
    // object there, several with the descriptor backend.
    const int receiver_objects = B::value == mq_backend::notify ? 1 : 3;
    asio::io_context ctx;
    std::vector<std::unique_ptr<strand_queue>> rx, tx;
    for (int i = 0; i < receiver_objects; ++i)
        rx.push_back(std::make_unique<strand_queue>(asio::make_strand(ctx), n, create_opts(10, 16),
                                                    B::value));
    for (int i = 0; i < senders; ++i)
        tx.push_back(std::make_unique<strand_queue>(asio::make_strand(ctx), n, create_opts(10, 16),
                                                    B::value));

    std::mutex m;
    std::vector<int> seen(senders * per_sender, 0);
    std::atomic<int> received{0};
    std::atomic<int> finished_receivers{0};
    std::atomic<bool> done{false};
    for (auto& q : rx) {
        for (int r = 0; r < receivers_per_object; ++r) {
            asio::co_spawn(
                q->get_executor(),
                [&, qp = q.get()]() -> asio::awaitable<void> {
                    std::array<char, 16> buf{};
                    while (!done) {
                        auto [ec, size, prio] = co_await qp->async_receive(
                            asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
                        if (ec) break;
                        const int seq = std::stoi(std::string(buf.data(), size));
                        {
                            const std::lock_guard lock(m);
                            ++seen.at(static_cast<std::size_t>(seq));
                        }
                        if (++received == senders * per_sender) {
                            done = true;
                            for (auto& other : rx)
                                asio::post(other->get_executor(),
                                           [o = other.get()] { o->cancel(); });
                        }
                    }
                    ++finished_receivers;
                },
                asio::detached);
        }
    }
    for (int s = 0; s < senders; ++s) {
        asio::co_spawn(
            tx[static_cast<std::size_t>(s)]->get_executor(),
            [&, s]() -> asio::awaitable<void> {
                for (int i = 0; i < per_sender; ++i) {
                    const std::string text = std::to_string(s * per_sender + i);
                    co_await tx[static_cast<std::size_t>(s)]->async_send(cbuf(text), 0,
                                                                         asio::use_awaitable);
                }
            },
            asio::detached);
    }
    { thread_pool pool(ctx, 4); } // returns when every coroutine has finished
    BOOST_TEST(received.load() == senders * per_sender);
    BOOST_TEST(finished_receivers.load() == receiver_objects * receivers_per_object);
    for (int v : seen) BOOST_TEST(v == 1);
    BOOST_TEST(rx.front()->current_messages() == 0);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(cancellation_from_other_handlers_on_many_threads, B, backends) {
    named n(object_kind::message_queue, "mtc");
    asio::io_context ctx;
    strand_queue q(asio::make_strand(ctx), n, create_opts(10, 16), B::value);
    pipc::message_queue sender(n.str());
    constexpr int rounds = 2000;
    std::atomic<int> aborted{0}, got{0};
    auto work = asio::make_work_guard(ctx);
    asio::co_spawn(
        q.get_executor(),
        [&]() -> asio::awaitable<void> {
            asio::cancellation_signal sig;
            std::array<char, 16> buf{};
            for (int i = 0; i < rounds; ++i) {
                if (i % 2 == 0) sender.send(bytes("m"));
                // The emit runs on another handler of the strand, possibly on another thread.
                asio::post(q.get_executor(), [&sig, i] {
                    sig.emit(i % 3 == 0 ? asio::cancellation_type::total
                                        : asio::cancellation_type::terminal);
                });
                auto [ec, size, prio] = co_await q.async_receive(
                    asio::buffer(buf),
                    asio::bind_cancellation_slot(sig.slot(), asio::as_tuple(asio::use_awaitable)));
                if (ec == asio::error::operation_aborted)
                    ++aborted;
                else if (!ec)
                    ++got;
            }
            work.reset(); // only this coroutine touches the guard after construction
        },
        asio::detached);
    { thread_pool pool(ctx, 4); }
    // Every message sent was either received or is still queued: none lost to a cancellation.
    BOOST_TEST(got.load() + q.current_messages() == rounds / 2);
    BOOST_TEST(got.load() + aborted.load() == rounds);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(use_future_from_a_foreign_thread, B, backends) {
    named n(object_kind::message_queue, "fut");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n, create_opts(10, 64), B::value);
    auto work = asio::make_work_guard(ctx);
    thread_pool pool(ctx, 2);
    for (int i = 0; i < 200; ++i) {
        // Receive first (it waits on an empty queue), then send from this thread.
        auto f = asio::post(q.get_executor(), asio::use_future([&q] {
                                return q.async_receive_message(asio::use_future);
                            }));
        BOOST_REQUIRE((f.wait_for(20s) == std::future_status::ready));
        auto got = f.get();
        q.send(bytes("hello " + std::to_string(i)), 0);
        BOOST_REQUIRE((got.wait_for(20s) == std::future_status::ready));
        BOOST_TEST(got.get().text() == "hello " + std::to_string(i));
    }
    work.reset();
}
