// SPDX-License-Identifier: BSL-1.0
// Tests of async_message_queue's timed operations (async_send_for/until,
// async_receive_for/until): every completion token, timeouts reported as condition::busy like
// async_semaphore's, and cancellation or a timeout that moves no message.
#define BOOST_TEST_MODULE asio_async_message_queue_timed
#include <boost/test/unit_test.hpp>

#include "async_message_queue_support.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_future.hpp>

#include <array>
#include <chrono>
#include <cmath>
#include <future>
#include <limits>
#include <thread>

using namespace mq_test;
using namespace std::chrono_literals;
using pipc::object_kind;
using pipc_test::named;

namespace {

long depth(const pipc::async_message_queue& q) {
    return q.core().current_messages();
}

} // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(a_timeout_is_busy_and_moves_nothing, B, backends) {
    named n(object_kind::message_queue, "timed");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n.str(), create_opts(1, 128), B::value);
    std::array<char, 128> buf{};

    // An empty queue: the receive times out.
    std::optional<error_code> rec;
    q.async_receive_for(asio::buffer(buf), 20ms, [&](error_code ec, std::size_t size, unsigned) {
        rec = ec;
        BOOST_TEST(size == 0u);
    });
    BOOST_TEST(run_until(ctx, [&] { return rec.has_value(); }));
    BOOST_TEST((*rec == pipc::condition::busy));
    BOOST_TEST((*rec == error_code(ETIMEDOUT, boost::system::system_category())));

    // A full queue: the send times out and queues nothing.
    q.send(bytes("fills it"));
    std::optional<error_code> sent;
    q.async_send_until(cbuf("no room"), 0u, std::chrono::steady_clock::now() + 20ms,
                       [&](error_code ec) { sent = ec; });
    BOOST_TEST(run_until(ctx, [&] { return sent.has_value(); }));
    BOOST_TEST((*sent == pipc::condition::busy));
    BOOST_TEST(depth(q) == 1);
    BOOST_TEST(q.receive().text() == "fills it");
    BOOST_TEST(depth(q) == 0);

    // The object stays usable, and a later message is not lost to the timed-out receive.
    q.send(bytes("after"));
    std::optional<error_code> rec2;
    std::size_t got = 0;
    q.async_receive_until(asio::buffer(buf), std::chrono::system_clock::now() + 10s,
                          [&](error_code ec, std::size_t size, unsigned) {
                              rec2 = ec;
                              got = size;
                          });
    BOOST_TEST(run_until(ctx, [&] { return rec2.has_value(); }));
    BOOST_TEST(!*rec2);
    BOOST_TEST(std::string_view(buf.data(), got) == "after");
    pipc::message_queue::unlink(n.str());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_message_that_comes_in_time_is_delivered, B, backends) {
    named n(object_kind::message_queue, "timed");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n.str(), create_opts(1, 128), B::value);
    pipc::message_queue peer(n.str(), create_opts(1, 128));
    std::array<char, 128> buf{};
    std::optional<error_code> rec;
    std::size_t got = 0;
    q.async_receive_for(asio::buffer(buf), 20s, [&](error_code ec, std::size_t size, unsigned) {
        rec = ec;
        got = size;
    });
    ctx.poll();
    BOOST_TEST(!rec.has_value());
    peer.send(bytes("in time"));
    BOOST_TEST(run_until(ctx, [&] { return rec.has_value(); }));
    BOOST_TEST(!*rec);
    BOOST_TEST(std::string_view(buf.data(), got) == "in time");

    // A send that finds room once the peer takes the message.
    q.send(bytes("full"));
    std::optional<error_code> sent;
    q.async_send_for(cbuf("second"), 3u, 20s, [&](error_code ec) { sent = ec; });
    ctx.poll();
    BOOST_TEST(!sent.has_value());
    BOOST_TEST(peer.receive().text() == "full");
    BOOST_TEST(run_until(ctx, [&] { return sent.has_value(); }));
    BOOST_TEST(!*sent);
    BOOST_TEST(peer.receive().text() == "second");
    pipc::message_queue::unlink(n.str());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(zero_and_bad_timeouts, B, backends) {
    named n(object_kind::message_queue, "timed");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n.str(), create_opts(1, 128), B::value);
    std::array<char, 128> buf{};

    // Zero: a single try. A waiting message is taken, an empty queue times out.
    q.send(bytes("there"));
    std::optional<error_code> rec;
    q.async_receive_for(asio::buffer(buf), 0s,
                        [&](error_code ec, std::size_t, unsigned) { rec = ec; });
    BOOST_TEST(run_until(ctx, [&] { return rec.has_value(); }));
    BOOST_TEST(!*rec);
    rec.reset();
    q.async_receive_for(asio::buffer(buf), -1s,
                        [&](error_code ec, std::size_t, unsigned) { rec = ec; });
    BOOST_TEST(run_until(ctx, [&] { return rec.has_value(); }));
    BOOST_TEST((*rec == pipc::condition::busy));

    // NaN: invalid_timeout, nothing moves.
    q.send(bytes("stays"));
    rec.reset();
    q.async_receive_for(asio::buffer(buf),
                        std::chrono::duration<double>(std::numeric_limits<double>::quiet_NaN()),
                        [&](error_code ec, std::size_t, unsigned) { rec = ec; });
    BOOST_TEST(run_until(ctx, [&] { return rec.has_value(); }));
    BOOST_TEST(*rec == pipc::errc::invalid_timeout);
    BOOST_TEST(depth(q) == 1);
    std::optional<error_code> sent;
    q.async_send_for(cbuf("x"), 0u,
                     std::chrono::duration<double>(std::numeric_limits<double>::quiet_NaN()),
                     [&](error_code ec) { sent = ec; });
    BOOST_TEST(run_until(ctx, [&] { return sent.has_value(); }));
    BOOST_TEST(*sent == pipc::errc::invalid_timeout);
    BOOST_TEST(depth(q) == 1);

    // A closed object: errc::closed.
    pipc::async_message_queue closed(ctx);
    rec.reset();
    closed.async_receive_for(asio::buffer(buf), 1s,
                             [&](error_code ec, std::size_t, unsigned) { rec = ec; });
    BOOST_TEST(run_until(ctx, [&] { return rec.has_value(); }));
    BOOST_TEST(*rec == pipc::errc::closed);
    pipc::message_queue::unlink(n.str());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(every_completion_token_works, B, backends) {
    named n(object_kind::message_queue, "timed");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n.str(), create_opts(2, 128), B::value);
    std::array<char, 128> buf{};

    // deferred: nothing starts until it is invoked.
    auto op = q.async_send_for(cbuf("deferred"), 1u, 10s, asio::deferred);
    BOOST_TEST(depth(q) == 0);
    bool done = false;
    std::move(op)([&](error_code ec) {
        BOOST_TEST(!ec);
        done = true;
    });
    BOOST_TEST(run_until(ctx, [&] { return done; }));
    BOOST_TEST(depth(q) == 1);

    // use_awaitable (throwing the timeout), as_tuple and redirect_error in a coroutine.
    done = false;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            const auto [size, prio] =
                co_await q.async_receive_for(asio::buffer(buf), 10s, asio::use_awaitable);
            BOOST_TEST(std::string_view(buf.data(), size) == "deferred");
            BOOST_TEST(prio == 1u);
            try {
                co_await q.async_receive_for(asio::buffer(buf), 1ms, asio::use_awaitable);
                BOOST_TEST(false);
            } catch (const boost::system::system_error& e) {
                BOOST_TEST((e.code() == pipc::condition::busy));
            }
            auto [ec, s2, p2] = co_await q.async_receive_until(
                asio::buffer(buf), std::chrono::steady_clock::now() + 1ms,
                asio::as_tuple(asio::use_awaitable));
            BOOST_TEST((ec == pipc::condition::busy));
            BOOST_TEST(s2 == 0u);
            error_code ec2;
            co_await q.async_send_for(cbuf("redirected"), 0u, 10s,
                                      asio::redirect_error(asio::use_awaitable, ec2));
            BOOST_TEST(!ec2);
            done = true;
        },
        asio::detached);
    BOOST_TEST(run_until(ctx, [&] { return done; }));
    BOOST_TEST(q.receive().text() == "redirected");

    // use_future with the context on another thread.
    {
        auto work = asio::make_work_guard(ctx);
        ctx.restart();
        std::thread runner([&] { ctx.run_for(std::chrono::seconds(60)); });
        auto sent = q.async_send_for(cbuf("future"), 0u, 10s, asio::use_future);
        BOOST_TEST((sent.wait_for(20s) == std::future_status::ready));
        sent.get();
        auto got = q.async_receive_for(asio::buffer(buf), 10s, asio::use_future);
        BOOST_TEST((got.wait_for(20s) == std::future_status::ready));
        BOOST_TEST(std::get<0>(got.get()) == 6u);
        auto late = q.async_receive_for(asio::buffer(buf), 1ms, asio::use_future);
        BOOST_TEST((late.wait_for(20s) == std::future_status::ready));
        BOOST_CHECK_THROW(late.get(), boost::system::system_error);
        work.reset();
        runner.join();
    }
    BOOST_TEST(depth(q) == 0);
    pipc::message_queue::unlink(n.str());
}

// Per-operation cancellation of a timed operation (each type) reports operation_aborted, not a
// timeout, and moves nothing; cancel() too.
BOOST_AUTO_TEST_CASE_TEMPLATE(cancellation_moves_nothing, B, backends) {
    named n(object_kind::message_queue, "timed");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n.str(), create_opts(1, 128), B::value);
    pipc::message_queue peer(n.str(), create_opts(1, 128));
    std::array<char, 128> buf{};
    for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial,
                      asio::cancellation_type::total}) {
        asio::cancellation_signal sig;
        std::optional<error_code> rec;
        q.async_receive_for(asio::buffer(buf), 20s,
                            asio::bind_cancellation_slot(sig.slot(), [&](error_code ec, std::size_t,
                                                                         unsigned) { rec = ec; }));
        ctx.poll();
        BOOST_TEST(!rec.has_value());
        sig.emit(type);
        BOOST_TEST(run_until(ctx, [&] { return rec.has_value(); }));
        BOOST_TEST(*rec == asio::error::operation_aborted);
    }
    peer.send(bytes("kept"));
    BOOST_TEST(depth(q) == 1); // no cancelled receive took it

    // A full queue: a cancelled timed send queues nothing.
    asio::cancellation_signal sig;
    std::optional<error_code> sent;
    q.async_send_for(cbuf("never"), 0u, 20s,
                     asio::bind_cancellation_slot(sig.slot(), [&](error_code ec) { sent = ec; }));
    ctx.poll();
    BOOST_TEST(!sent.has_value());
    sig.emit(asio::cancellation_type::total);
    BOOST_TEST(run_until(ctx, [&] { return sent.has_value(); }));
    BOOST_TEST(*sent == asio::error::operation_aborted);

    // cancel() aborts a pending timed send as well.
    sent.reset();
    q.async_send_for(cbuf("never"), 0u, 20s, [&](error_code ec) { sent = ec; });
    ctx.poll();
    q.cancel();
    BOOST_TEST(run_until(ctx, [&] { return sent.has_value(); }));
    BOOST_TEST(*sent == asio::error::operation_aborted);
    BOOST_TEST(peer.receive().text() == "kept");
    BOOST_TEST(depth(q) == 0);
    pipc::message_queue::unlink(n.str());
}
