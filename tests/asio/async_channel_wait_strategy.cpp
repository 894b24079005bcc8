// SPDX-License-Identifier: BSL-1.0
// Spinning waits of async_channel: an initiation that spins is served by a message (or room)
// that a peer thread provides while it spins, without announcing itself or touching a doorbell;
// one that spins in vain goes on to wait with every guarantee of a waiting operation
// (cancellation, nothing lost, no overtaking); adaptive stops spinning when it does not pay.
// Checked by outcomes, doorbell system calls and strategy state, not by timing.
#define BOOST_TEST_MODULE asio_async_channel_wait_strategy
#include <boost/test/unit_test.hpp>

#include <pipc/asio/async_channel.hpp>
#include <pipc/inspect.hpp>
#include <pipc/wait_strategy.hpp>

#include <pipc_test/asio_run.hpp>
#include <pipc_test/fault.hpp>
#include <pipc_test/support.hpp>

#include "async_channel_support.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <thread>

using namespace std::chrono_literals;
namespace asio = boost::asio;
using channel_test::bell_calls;
using channel_test::channel_name;
using channel_test::counting_bells;
using channel_test::g_rings;
using pipc::channel;
using pipc::error_code;
using pipc::wait_strategy;
using pipc_test::run_until;

namespace pipc {
// Lets BOOST_TEST print `ec == pipc::errc::...` comparisons.
inline std::ostream& boost_test_print_type(std::ostream& os, errc e) {
    return os << make_error_code(e).message();
}
} // namespace pipc

namespace {

channel::options create(std::uint32_t slots, wait_strategy w) {
    channel::options o;
    o.open = pipc::open_mode::create_exclusive;
    o.slot_count = slots;
    o.max_message_size = 64;
    o.wait = w;
    return o;
}

bool send_now(channel& tx, const std::string& s) {
    return tx.try_send(std::as_bytes(std::span(s.data(), s.size())));
}

std::string receive_now(channel& rx) {
    std::array<char, 64> buf{};
    auto n = rx.try_receive(std::as_writable_bytes(std::span(buf)));
    return n ? std::string(buf.data(), *n) : std::string("<none>");
}

/// Waits (bounded) until some process holds the consumer role of `name`: the first try of an
/// asynchronous receive claims it, so a message sent afterwards finds that try already failed.
bool wait_for_consumer(std::string_view name) {
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < until) {
        error_code ec;
        if (pipc::inspect_channel(name, ec).consumer_pid != 0 && !ec) return true;
        std::this_thread::yield();
    }
    return false;
}

} // namespace

// A receive (copying, then in place) whose first try found the ring empty spins and takes the
// message another thread publishes meanwhile: before any run(), no announce, no doorbell.
BOOST_AUTO_TEST_CASE(spinning_receive_is_served_by_a_message_sent_meanwhile,
                     *boost::unit_test::label("threaded")) {
    for (const bool view : {false, true}) {
        BOOST_TEST_CONTEXT("view " << view) {
            channel_name name{"acws"};
            asio::io_context ctx;
            // The largest budget (1 s), far above any wake-up: the message comes while it spins.
            pipc::async_channel rx(ctx, name, create(4, wait_strategy::spin(1s)));
            channel tx(name);
            counting_bells bells;
            std::atomic<bool> consumer_seen{false};
            std::thread sender([&] {
                consumer_seen = wait_for_consumer(name);
                send_now(tx, "hi");
            });
            std::optional<error_code> got;
            std::string text;
            const auto start = std::chrono::steady_clock::now();
            if (view) {
                rx.async_receive_view([&](error_code ec, pipc::channel_view v) {
                    got = ec;
                    if (v.valid())
                        text.assign(reinterpret_cast<const char*>(v.data().data()), v.size());
                });
            } else {
                static std::array<char, 64> buf;
                rx.async_receive(asio::buffer(buf), [&](error_code ec, std::size_t n) {
                    got = ec;
                    text.assign(buf.data(), n);
                });
            }
            const auto spent = std::chrono::steady_clock::now() - start;
            sender.join();
            BOOST_TEST(consumer_seen.load());
            // Served while spinning, not by the re-check after a spin that ran out: far less
            // than the 1 s budget (a bound, not a speed check).
            BOOST_TEST((spent < 500ms));
            BOOST_TEST(!got.has_value());                     // never inside the initiation
            BOOST_TEST(rx.core().fill() == (view ? 1u : 0u)); // taken while spinning
            BOOST_TEST(bell_calls() == 0);                    // no ring, no wait on the bell
            BOOST_TEST(run_until(ctx, [&] { return got.has_value(); }));
            BOOST_TEST(!*got);
            BOOST_TEST(text == "hi");
            BOOST_TEST(bell_calls() == 0);
        }
    }
}

// A send (copying, then a loan) on a full ring spins and takes the slot a consumer thread frees
// meanwhile; it never announced itself, so the consumer rang no room bell.
BOOST_AUTO_TEST_CASE(spinning_send_is_served_by_room_made_meanwhile,
                     *boost::unit_test::label("threaded")) {
    for (const bool loan : {false, true}) {
        BOOST_TEST_CONTEXT("loan " << loan) {
            channel_name name{"acws"};
            asio::io_context ctx;
            pipc::async_channel tx(ctx, name, create(2, wait_strategy::spin(1s)));
            channel rx(name);
            BOOST_TEST_REQUIRE(send_now(tx.core(), "1"));
            BOOST_TEST_REQUIRE(send_now(tx.core(), "2"));
            counting_bells bells;
            pipc_test::handshake started;
            std::string first;
            std::thread consumer([&] {
                started.wait();
                first = receive_now(rx);
            });
            started.signal();
            std::optional<error_code> got;
            const auto start = std::chrono::steady_clock::now();
            if (loan) {
                tx.async_loan([&](error_code ec, pipc::channel_loan l) {
                    got = ec;
                    if (l.valid()) {
                        std::memcpy(l.buffer().data(), "3", 1);
                        l.publish(1);
                    }
                });
            } else {
                tx.async_send(asio::buffer("3", 1), [&](error_code ec) { got = ec; });
            }
            const auto spent = std::chrono::steady_clock::now() - start;
            consumer.join();
            BOOST_TEST(first == "1");
            BOOST_TEST((spent < 500ms)); // as for the receive above
            BOOST_TEST(!got.has_value());
            // Published while spinning (a copy) or claimed (a loan, published by its handler).
            BOOST_TEST(tx.core().fill() == 2u);
            BOOST_TEST(bell_calls() == 0);
            BOOST_TEST(run_until(ctx, [&] { return got.has_value(); }));
            BOOST_TEST(!*got);
            BOOST_TEST(receive_now(rx) == "2");
            BOOST_TEST(receive_now(rx) == "3");
            BOOST_TEST(bell_calls() == 0);
        }
    }
}

// Operations that spun in vain are waiting operations like any other: cancelled, they moved
// nothing.
BOOST_AUTO_TEST_CASE(spinning_operations_cancelled_lose_nothing) {
    channel_name name{"acws"};
    asio::io_context ctx;
    pipc::async_channel rx(ctx, name, create(2, wait_strategy::spin(100us)));
    channel tx(name);
    std::array<char, 64> buf{};
    for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial,
                      asio::cancellation_type::total}) {
        asio::cancellation_signal sig;
        std::optional<error_code> got;
        rx.async_receive(asio::buffer(buf),
                         asio::bind_cancellation_slot(
                             sig.slot(), [&](error_code ec, std::size_t) { got = ec; }));
        ctx.restart();
        ctx.poll();
        sig.emit(type);
        BOOST_TEST(run_until(ctx, [&] { return got.has_value(); }));
        BOOST_TEST(*got == asio::error::operation_aborted);
        BOOST_TEST(send_now(tx, "kept")); // the aborted receive consumed nothing
        BOOST_TEST(receive_now(rx.core()) == "kept");
    }
    // A view, then a send and a loan on a full ring, spinning in vain, then cancel(): nothing
    // taken, published or claimed.
    pipc::async_channel ptx(ctx, name, {.wait = wait_strategy::spin(100us)});
    BOOST_TEST(send_now(ptx.core(), "1"));
    BOOST_TEST(send_now(ptx.core(), "2"));
    std::optional<error_code> sent, loaned;
    ptx.async_send(asio::buffer("3", 1), [&](error_code ec) { sent = ec; });
    ptx.async_loan([&](error_code ec, pipc::channel_loan l) {
        loaned = ec;
        BOOST_TEST(!l.valid());
    });
    ptx.cancel();
    BOOST_TEST(run_until(ctx, [&] { return sent.has_value() && loaned.has_value(); }));
    BOOST_TEST(*sent == asio::error::operation_aborted);
    BOOST_TEST(*loaned == asio::error::operation_aborted);
    BOOST_TEST(receive_now(rx.core()) == "1");
    BOOST_TEST(receive_now(rx.core()) == "2");
    std::optional<error_code> viewed;
    rx.async_receive_view([&](error_code ec, pipc::channel_view v) {
        viewed = ec;
        BOOST_TEST(!v.valid());
    });
    rx.cancel();
    BOOST_TEST(run_until(ctx, [&] { return viewed.has_value(); }));
    BOOST_TEST(*viewed == asio::error::operation_aborted);
    BOOST_TEST(send_now(tx, "last"));
    BOOST_TEST(receive_now(rx.core()) == "last");
    BOOST_TEST(rx.core().fill() == 0u);
}

// An initiation with an older operation of its direction queued neither tries nor spins, so it
// cannot take the message that one is waiting for.
BOOST_AUTO_TEST_CASE(spinning_receive_does_not_overtake_a_queued_one) {
    channel_name name{"acws"};
    asio::io_context ctx;
    pipc::async_channel rx(ctx, name, create(4, wait_strategy::spin(100us)));
    channel tx(name);
    std::array<char, 64> b1{}, b2{};
    std::string first, second;
    rx.async_receive(asio::buffer(b1), [&](error_code ec, std::size_t n) {
        if (!ec) first.assign(b1.data(), n);
    }); // spins in vain, then queued
    BOOST_TEST(send_now(tx, "a"));
    rx.set_wait_strategy(wait_strategy::spin(2s)); // the second must not even try
    rx.async_receive(asio::buffer(b2), [&](error_code ec, std::size_t n) {
        if (!ec) second.assign(b2.data(), n);
    });
    BOOST_TEST(send_now(tx, "b"));
    BOOST_TEST(run_until(ctx, [&] { return !first.empty() && !second.empty(); }));
    BOOST_TEST(first == "a");
    BOOST_TEST(second == "b");
}

// adaptive learns from spins only: four spins in vain collapse it; a receive served by its
// first try (the message was already there) is no spin and does not reset the count.
BOOST_AUTO_TEST_CASE(adaptive_stops_spinning_when_it_does_not_pay) {
    channel_name name{"acws"};
    asio::io_context ctx;
    // Two CPUs given: spins even on a one-CPU machine, so the learning is what is checked.
    pipc::async_channel rx(ctx, name, create(4, wait_strategy::adaptive(20us, 2)));
    channel tx(name);
    std::array<char, 64> buf{};
    const auto spin_in_vain = [&] {
        std::optional<error_code> got;
        rx.async_receive(asio::buffer(buf), [&](error_code ec, std::size_t) { got = ec; });
        rx.cancel();
        BOOST_TEST(run_until(ctx, [&] { return got.has_value(); }));
        BOOST_TEST(*got == asio::error::operation_aborted);
    };
    BOOST_TEST(rx.strategy().current_budget() > 0ns);
    for (unsigned i = 1; i < wait_strategy::collapse_after; ++i) spin_in_vain();
    BOOST_TEST(!rx.strategy().collapsed());
    BOOST_TEST(send_now(tx, "there"));
    std::optional<error_code> got;
    rx.async_receive(asio::buffer(buf), [&](error_code ec, std::size_t) { got = ec; });
    BOOST_TEST(run_until(ctx, [&] { return got.has_value(); }));
    BOOST_TEST(!*got);
    spin_in_vain();
    BOOST_TEST(rx.strategy().collapsed());
    BOOST_TEST(rx.core().fill() == 0u);
}

// block() (the default) goes to the doorbell at once: the initiation announces itself, so the
// producer's next send rings; nothing spins or learns. A closed object has a block() strategy.
BOOST_AUTO_TEST_CASE(default_strategy_waits_on_the_doorbell_at_once) {
    channel_name name{"acws"};
    asio::io_context ctx;
    pipc::async_channel rx(ctx, name, create(4, {}));
    BOOST_TEST((rx.strategy().type() == wait_strategy::kind::block));
    BOOST_TEST(rx.strategy().current_budget() == 0ns);
    channel tx(name);
    counting_bells bells;
    std::array<char, 64> buf{};
    std::optional<error_code> got;
    rx.async_receive(asio::buffer(buf), [&](error_code ec, std::size_t) { got = ec; });
    BOOST_TEST(g_rings == 0);
    BOOST_TEST(send_now(tx, "x"));
    BOOST_TEST(g_rings == 1); // the receive had announced itself: one ring
    BOOST_TEST(run_until(ctx, [&] { return got.has_value(); }));
    BOOST_TEST(!*got);

    rx.set_wait_strategy(wait_strategy::spin(5us));
    BOOST_TEST((rx.strategy().type() == wait_strategy::kind::spin));
    BOOST_TEST((rx.core().strategy().max_budget() == 5us));

    pipc::async_channel closed(ctx);
    BOOST_TEST((closed.strategy().type() == wait_strategy::kind::block));
    error_code ec;
    closed.set_wait_strategy(wait_strategy::spin(), ec);
    BOOST_TEST(ec == pipc::errc::closed);
}
