// SPDX-License-Identifier: BSL-1.0
// Spinning waits of async_semaphore and async_message_queue: an initiation that spins is served
// by a unit or message that arrives while it spins, and one that spins in vain goes on to wait
// with every guarantee of a waiting operation (deadlines, cancellation, nothing lost, no
// overtaking). Checked by outcomes and state, not by timing.
#define BOOST_TEST_MODULE pipc asio wait strategies
#include <boost/test/unit_test.hpp>

#include <pipc/asio/async_message_queue.hpp>
#include <pipc/asio/async_semaphore.hpp>
#include <pipc/wait_strategy.hpp>

#include <pipc_test/asio_run.hpp>
#include <pipc_test/fault.hpp>
#include <pipc_test/support.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <optional>
#include <ostream>
#include <string>
#include <thread>

using namespace std::chrono_literals;
namespace asio = boost::asio;
using pipc::error_code;
using pipc::wait_strategy;
using pipc_test::named;
using pipc_test::run_until;
using kind = pipc::object_kind;

namespace pipc {
// Lets BOOST_TEST print `ec == pipc::errc::...` comparisons.
inline std::ostream& boost_test_print_type(std::ostream& os, errc e) {
    return os << make_error_code(e).message();
}
} // namespace pipc

namespace {

pipc::semaphore::options sem_opts(wait_strategy w) {
    pipc::semaphore::options o;
    o.open = pipc::open_mode::create_exclusive;
    o.wait = w;
    return o;
}

pipc::message_queue::options mq_opts(wait_strategy w) {
    pipc::message_queue::options o;
    o.open = pipc::open_mode::create_exclusive;
    o.max_messages = 2;
    o.max_message_size = 16;
    o.wait = w;
    return o;
}

const error_code timed_out(ETIMEDOUT, boost::system::system_category());

} // namespace

// ---- async_semaphore -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(semaphore_unit_released_while_spinning_completes_the_acquire,
                     *boost::unit_test::label("threaded")) {
    asio::io_context ctx;
    named n(kind::semaphore);
    // adaptive(1 s) starts with a budget of 1 s; a spin rewarded after a moment lowers it (its
    // state tells that the initiation spun and was served).
    pipc::async_semaphore sem(ctx, n, sem_opts(wait_strategy::adaptive(1s, 2)));
    BOOST_TEST(sem.strategy().current_budget() == 1s);
    pipc::semaphore peer(n, {});
    pipc_test::handshake started;
    std::thread releaser([&] {
        started.wait();
        peer.release();
    });
    started.signal();
    std::optional<error_code> got;
    // The unit comes within the 2 s budget: the initiation takes it while spinning. Its handler
    // still runs only from the context, never inside the initiation.
    sem.async_acquire([&](error_code ec) { got = ec; });
    releaser.join();
    BOOST_TEST(!got.has_value());
    BOOST_TEST(peer.value() == 0); // taken while spinning, before any run()
    // A rewarded spin lowered the budget, unless this thread was descheduled while the releaser
    // ran (a loaded machine): adaptive then counts the spin as a miss. So a warning, not a check.
    BOOST_WARN(sem.strategy().current_budget() < 1s);
    BOOST_TEST(!sem.strategy().collapsed());
    BOOST_TEST(run_until(ctx, [&] { return got.has_value(); }));
    BOOST_TEST(!*got);
}

BOOST_AUTO_TEST_CASE(semaphore_spin_stops_at_the_deadline) {
    asio::io_context ctx;
    named n(kind::semaphore);
    pipc::async_semaphore sem(ctx, n, sem_opts(wait_strategy::spin(1s)));
    std::optional<error_code> got;
    const auto start = std::chrono::steady_clock::now();
    sem.async_acquire_for(20ms, [&](error_code ec) { got = ec; });
    // The initiation spun at most until the deadline, not its whole 1 s budget.
    BOOST_TEST((std::chrono::steady_clock::now() - start < 900ms));
    BOOST_TEST(run_until(ctx, [&] { return got.has_value(); }));
    BOOST_TEST(*got == timed_out);
    BOOST_TEST(sem.value() == 0);
}

BOOST_AUTO_TEST_CASE(semaphore_spinning_acquire_cancelled_holds_nothing) {
    asio::io_context ctx;
    named n(kind::semaphore);
    pipc::async_semaphore sem(ctx, n, sem_opts(wait_strategy::spin(100us)));
    for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial}) {
        asio::cancellation_signal sig;
        std::optional<error_code> got;
        sem.async_acquire(
            asio::bind_cancellation_slot(sig.slot(), [&](error_code ec) { got = ec; }));
        ctx.restart();
        ctx.poll();
        sig.emit(type);
        BOOST_TEST(run_until(ctx, [&] { return got.has_value(); }));
        BOOST_TEST(*got == asio::error::operation_aborted);
        sem.release(); // nothing held by the aborted acquire: the unit stays free
        BOOST_TEST(sem.value() == 1);
        BOOST_TEST(sem.try_acquire());
    }
    // cancel() as well
    std::optional<error_code> got;
    sem.async_acquire([&](error_code ec) { got = ec; });
    sem.cancel();
    BOOST_TEST(run_until(ctx, [&] { return got.has_value(); }));
    BOOST_TEST(*got == asio::error::operation_aborted);
    BOOST_TEST(sem.value() == 0);
}

BOOST_AUTO_TEST_CASE(semaphore_spinning_acquire_does_not_overtake_a_queued_one) {
    asio::io_context ctx;
    named n(kind::semaphore);
    pipc::async_semaphore sem(ctx, n, sem_opts(wait_strategy::spin(100us)));
    std::optional<error_code> first, second;
    sem.async_acquire([&](error_code ec) { first = ec; }); // spins in vain, then queued
    // The second finds the first queued: it neither tries nor spins, so the unit released next
    // goes to the first.
    sem.set_wait_strategy(wait_strategy::spin(2s));
    sem.async_acquire([&](error_code ec) { second = ec; });
    sem.release();
    BOOST_TEST(run_until(ctx, [&] { return first.has_value(); }));
    BOOST_TEST(!*first);
    BOOST_TEST(!second.has_value());
    sem.cancel();
    BOOST_TEST(run_until(ctx, [&] { return second.has_value(); }));
    BOOST_TEST(*second == asio::error::operation_aborted);
    BOOST_TEST(sem.value() == 0);
}

BOOST_AUTO_TEST_CASE(semaphore_strategy_of_a_closed_object) {
    asio::io_context ctx;
    pipc::async_semaphore sem(ctx);
    BOOST_TEST((sem.strategy().type() == wait_strategy::kind::block));
    error_code ec;
    sem.set_wait_strategy(wait_strategy::spin(), ec);
    BOOST_TEST(ec == pipc::errc::closed);
}

// ---- async_message_queue -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(queue_message_sent_while_spinning_completes_the_receive,
                     *boost::unit_test::label("threaded")) {
    asio::io_context ctx;
    named n(kind::message_queue);
    pipc::async_message_queue q(ctx, n, mq_opts(wait_strategy::adaptive(1s, 2)));
    pipc::message_queue peer(n, {});
    pipc_test::handshake started;
    std::thread sender([&] {
        started.wait();
        peer.send("hi");
    });
    started.signal();
    std::byte buf[16];
    std::optional<error_code> got;
    std::size_t size = 0;
    q.async_receive(asio::buffer(buf), [&](error_code ec, std::size_t len, unsigned) {
        got = ec;
        size = len;
    });
    sender.join();
    BOOST_TEST(!got.has_value());                          // not inside the initiation
    BOOST_TEST(peer.current_messages() == 0);              // taken while spinning
    BOOST_WARN(q.core().strategy().current_budget() < 1s); // as for the semaphore above
    BOOST_TEST(run_until(ctx, [&] { return got.has_value(); }));
    BOOST_TEST(!*got);
    BOOST_TEST(size == 2u);
}

BOOST_AUTO_TEST_CASE(queue_spin_stops_at_the_deadline) {
    asio::io_context ctx;
    named n(kind::message_queue);
    pipc::async_message_queue q(ctx, n, mq_opts(wait_strategy::spin(1s)));
    std::byte buf[16];
    std::optional<error_code> got;
    const auto start = std::chrono::steady_clock::now();
    q.async_receive_for(asio::buffer(buf), 20ms,
                        [&](error_code ec, std::size_t, unsigned) { got = ec; });
    BOOST_TEST(run_until(ctx, [&] { return got.has_value(); }));
    BOOST_TEST(*got == timed_out);
    // The timed receive raced a 20 ms timer; its spin took at most one budget (1 s) and the
    // timer then fired at once. Far below the budget twice over.
    BOOST_TEST((std::chrono::steady_clock::now() - start < 1900ms));
}

BOOST_AUTO_TEST_CASE(queue_spinning_operations_cancelled_move_nothing) {
    asio::io_context ctx;
    named n(kind::message_queue);
    pipc::async_message_queue q(ctx, n, mq_opts(wait_strategy::spin(100us)));
    pipc::message_queue peer(n, {});
    std::byte buf[16];
    for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial,
                      asio::cancellation_type::total}) {
        asio::cancellation_signal sig;
        std::optional<error_code> got;
        q.async_receive(asio::buffer(buf),
                        asio::bind_cancellation_slot(
                            sig.slot(), [&](error_code ec, std::size_t, unsigned) { got = ec; }));
        ctx.restart();
        ctx.poll();
        sig.emit(type);
        BOOST_TEST(run_until(ctx, [&] { return got.has_value(); }));
        BOOST_TEST(*got == asio::error::operation_aborted);
        peer.send("kept"); // the aborted receive consumes nothing
        BOOST_TEST(peer.current_messages() == 1);
        BOOST_TEST(q.receive().text() == "kept");
    }
    // A send that spins in vain on a full queue, then is cancelled, queued nothing.
    q.send("1");
    q.send("2");
    std::optional<error_code> sent;
    q.async_send(asio::buffer("3", 1), 0, [&](error_code ec) { sent = ec; });
    q.cancel();
    BOOST_TEST(run_until(ctx, [&] { return sent.has_value(); }));
    BOOST_TEST(*sent == asio::error::operation_aborted);
    BOOST_TEST(q.receive().text() == "1");
    BOOST_TEST(q.receive().text() == "2");
    BOOST_TEST(peer.current_messages() == 0);
}

BOOST_AUTO_TEST_CASE(queue_spinning_receive_does_not_overtake_a_waiting_one) {
    asio::io_context ctx;
    named n(kind::message_queue);
    pipc::async_message_queue q(ctx, n, mq_opts(wait_strategy::spin(100us)));
    pipc::message_queue peer(n, {});
    std::byte b1[16], b2[16];
    std::string first, second;
    q.async_receive(asio::buffer(b1), [&](error_code ec, std::size_t len, unsigned) {
        if (!ec) first.assign(reinterpret_cast<char*>(b1), len);
    });
    q.set_wait_strategy(wait_strategy::spin(2s)); // the second must not even spin
    q.async_receive(asio::buffer(b2), [&](error_code ec, std::size_t len, unsigned) {
        if (!ec) second.assign(reinterpret_cast<char*>(b2), len);
    });
    peer.send("a");
    peer.send("b");
    BOOST_TEST(run_until(ctx, [&] { return !first.empty() && !second.empty(); }));
    BOOST_TEST(first == "a");
    BOOST_TEST(second == "b");
}

// The descriptor backend opens the queue's O_NONBLOCK poll descriptor at once, for its tries
// (message_queue::keep_poll_descriptor), whatever the strategy; a spinning strategy then needs
// no other.
BOOST_AUTO_TEST_CASE(default_queue_opens_its_poll_descriptor_and_never_spins) {
    asio::io_context ctx;
    named n(kind::message_queue);
    pipc_test::fault_scope faults;
    static std::atomic<int> opens{0};
    opens = 0;
    faults.table().mq_open = [](const char* nm, int f, ::mode_t m, ::mq_attr* a) {
        ++opens;
        return pipc::detail::real_sys().mq_open(nm, f, m, a);
    };
    pipc::async_message_queue q(ctx, n, mq_opts({}));
    BOOST_TEST(opens == 2); // the queue and its poll descriptor
    BOOST_TEST((q.core().strategy().type() == wait_strategy::kind::block));
    BOOST_TEST(q.core().keeps_poll_descriptor());
    q.set_wait_strategy(wait_strategy::adaptive(20us, 2));
    BOOST_TEST(opens == 2); // already open
    pipc::async_message_queue closed(ctx);
    error_code ec;
    closed.set_wait_strategy(wait_strategy::spin(), ec);
    BOOST_TEST(ec == pipc::errc::closed);
}
