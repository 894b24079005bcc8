// SPDX-License-Identifier: BSL-1.0
// async_message_queue on an io_context made for one thread (concurrency hint 1), the shape of a
// single-threaded Asio service: on the reactor's only thread a failed attempt in the initiation
// replaces the reactor's speculative one, and a receive after a wait still tries first. Checked
// by counting the queue calls through the syscall table and by the order of handlers, never by
// timing: nothing lost, no overtaking, cancellation moves nothing, and a callback is never called
// inside the initiating function.
#define BOOST_TEST_MODULE pipc async_message_queue on_a_one_thread_io_context
#include <boost/test/unit_test.hpp>

#include "async_message_queue_support.hpp"

#include <pipc_test/fault.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <string>
#include <vector>

#include <fcntl.h>

using namespace mq_test;

namespace {

std::atomic<int> g_receives{0}, g_sends{0};

// Counts the queue calls and passes them on to the real table.
struct counting_scope {
    pipc_test::fault_scope faults;
    counting_scope() {
        g_receives = 0;
        g_sends = 0;
        faults.table().mq_timedreceive = [](::mqd_t q, char* b, std::size_t n, unsigned* p,
                                            const ::timespec* to) {
            ++g_receives;
            return pipc::detail::real_sys().mq_timedreceive(q, b, n, p, to);
        };
        faults.table().mq_timedsend = [](::mqd_t q, const char* b, std::size_t n, unsigned p,
                                         const ::timespec* to) {
            ++g_sends;
            return pipc::detail::real_sys().mq_timedsend(q, b, n, p, to);
        };
    }
};

struct fixture {
    pipc_test::named name{pipc::object_kind::message_queue, "one-thread"};
    asio::io_context ctx{1}; // the concurrency hint of a single-threaded service
    pipc::message_queue peer{name.str(), create_opts(2, 64)};
    pipc::async_message_queue q{ctx, name.str(), create_opts(2, 64)};
    std::vector<char> received_buf = std::vector<char>(64);
    std::string received;

    /// Starts a receive that expects success and leaves the message's text in `received`.
    void receive_text() {
        q.async_receive(asio::buffer(received_buf), [this](error_code ec, std::size_t n, unsigned) {
            BOOST_TEST(!ec);
            received = std::string(received_buf.data(), n);
        });
    }
};

std::string text(const std::vector<char>& buf, std::size_t n) {
    return std::string(buf.data(), n);
}

} // namespace

// A receive that has to wait makes one failed call, then the one that takes the message: the
// reactor does not repeat the failed call. Then, with a message already waiting, the next receive
// (after one that waited) takes it in its initiation and resumes the coroutine at once, ahead of
// a handler posted before it.
BOOST_FIXTURE_TEST_CASE(a_wait_costs_one_failed_call_and_the_next_receive_tries_first, fixture) {
    counting_scope counting;
    std::vector<char> buf(64);
    std::vector<std::string> got;
    bool posted_ran_first = false, done = false;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            auto n = co_await q.async_receive(asio::buffer(buf), asio::use_awaitable);
            got.push_back(text(buf, std::get<0>(n)));
            BOOST_TEST(g_receives.load() == 2); // one EAGAIN, one message
            peer.send(bytes("second"));
            bool posted_ran = false;
            asio::post(ctx, [&] { posted_ran = true; });
            n = co_await q.async_receive(asio::buffer(buf), asio::use_awaitable);
            got.push_back(text(buf, std::get<0>(n)));
            posted_ran_first = posted_ran;
            BOOST_TEST(g_receives.load() == 3);
            done = true;
        },
        asio::detached);
    ctx.poll(); // the receive tried, failed and now waits in the reactor
    BOOST_TEST(g_receives.load() == 1);
    BOOST_TEST(!done);
    peer.send(bytes("first"));
    BOOST_REQUIRE(run_until(ctx, [&] { return done; }));
    BOOST_TEST(got == (std::vector<std::string>{"first", "second"}),
               boost::test_tools::per_element());
#if !defined(PIPC_ASIO_PUBLIC_REACTOR_PATH)
    BOOST_TEST(!posted_ran_first); // the public path posts a receive after a wait
#endif
}

// A send that finds the queue full makes one failed call, then the one that queues its message
// once the peer made room.
BOOST_FIXTURE_TEST_CASE(a_full_queue_costs_one_failed_send, fixture) {
    peer.send(bytes("a"));
    peer.send(bytes("b")); // full (2 messages)
    counting_scope counting;
    bool done = false;
    error_code result = make_error_code(pipc::errc::closed);
    bool returned = false; // initiated on the context's thread, as a service does
    asio::post(ctx, [&] {
        q.async_send(cbuf("c"), 0, [&](error_code ec) {
            BOOST_TEST(returned); // never inside the initiating function
            result = ec;
            done = true;
        });
        returned = true;
    });
    ctx.poll();
    BOOST_TEST(g_sends.load() == 1);
    BOOST_TEST(!done);
    std::vector<std::byte> in(64);
    BOOST_TEST(peer.receive(in).size == 1u);
    BOOST_REQUIRE(run_until(ctx, [&] { return done; }));
    BOOST_TEST(!result);
    BOOST_TEST(g_sends.load() == 2);
    for (const char* want : {"b", "c"}) {
        const auto r = peer.receive(in);
        BOOST_TEST(std::string(reinterpret_cast<const char*>(in.data()), r.size) == want);
    }
}

// A waiting receive that is cancelled moves nothing; a message sent after the cancellation goes to
// the next receive, and receives started together complete in their order.
BOOST_FIXTURE_TEST_CASE(cancellation_and_order_after_a_skipped_attempt, fixture) {
    std::vector<char> b1(64), b2(64), b3(64);
    asio::cancellation_signal sig;
    error_code e1;
    bool d1 = false;
    asio::post(ctx, [&] {
        q.async_receive(
            asio::buffer(b1),
            asio::bind_cancellation_slot(sig.slot(), [&](error_code ec, std::size_t, unsigned) {
                e1 = ec;
                d1 = true;
            }));
    });
    std::vector<std::string> order;
    auto collect = [&](std::vector<char>& b) {
        return [&order, p = &b](error_code ec, std::size_t n, unsigned) {
            BOOST_TEST(!ec);
            order.push_back(std::string(p->data(), n));
        };
    };
    ctx.poll();
    sig.emit(asio::cancellation_type::terminal);
    BOOST_REQUIRE(run_until(ctx, [&] { return d1; }));
    BOOST_TEST(e1 == asio::error::operation_aborted);
    asio::post(ctx, [&] {
        q.async_receive(asio::buffer(b2), collect(b2));
        q.async_receive(asio::buffer(b3), collect(b3));
    });
    ctx.poll();
    peer.send(bytes("x"));
    peer.send(bytes("y"));
    BOOST_REQUIRE(run_until(ctx, [&] { return order.size() == 2; }));
    BOOST_TEST(order == (std::vector<std::string>{"x", "y"}), boost::test_tools::per_element());
}

// Initiated outside run() (no thread of the context is in it), a wait still gets its message.
BOOST_FIXTURE_TEST_CASE(outside_run_a_wait_still_gets_its_message, fixture) {
    receive_text();
    ctx.poll();
    peer.send(bytes("late"));
    BOOST_REQUIRE(run_until(ctx, [&] { return !received.empty(); }));
    BOOST_TEST(received == "late");
}

namespace {
std::atomic<int> g_plain_tries{0}, g_main_calls{0};
std::atomic<::mqd_t> g_main_mqd{-1};
} // namespace

// The descriptor backend makes its tries on the queue's O_NONBLOCK poll descriptor (a plain call
// without a timeout, which fails for half the cost) and leaves the main descriptor blocking;
// release() hands the queue back as it found it. The notify backend opens no second descriptor
// (closing one would drop its mq_notify registration).
BOOST_FIXTURE_TEST_CASE(tries_use_a_nonblocking_descriptor_that_release_gives_back, fixture) {
    pipc_test::fault_scope faults;
    g_plain_tries = 0;
    g_main_calls = 0;
    g_main_mqd = q.native_handle();
    faults.table().mq_timedreceive = [](::mqd_t d, char* b, std::size_t n, unsigned* p,
                                        const ::timespec* to) {
        if (d == g_main_mqd) ++g_main_calls;
        if (d != g_main_mqd && to == nullptr) ++g_plain_tries;
        return pipc::detail::real_sys().mq_timedreceive(d, b, n, p, to);
    };
    BOOST_TEST(q.core().keeps_poll_descriptor());
    BOOST_TEST((::fcntl(q.native_handle(), F_GETFL) & O_NONBLOCK) == 0);
    receive_text();
    ctx.poll();
    const int failed = g_plain_tries.load(); // the initiation's try (and the reactor's)
    BOOST_TEST(failed >= 1);
    peer.send(bytes("m"));
    BOOST_REQUIRE(run_until(ctx, [&] { return !received.empty(); }));
    BOOST_TEST(received == "m");
    BOOST_TEST(g_plain_tries.load() == failed + 1); // the reactor's attempt that took it
    BOOST_TEST(g_main_calls.load() == 0);
#if !defined(PIPC_ASIO_PUBLIC_REACTOR_PATH) // there Asio sets it while the object waits
    BOOST_TEST((::fcntl(q.native_handle(), F_GETFL) & O_NONBLOCK) == 0);
#endif

    pipc::message_queue core = q.release();
    BOOST_TEST(!core.keeps_poll_descriptor());
    std::byte b[64];
    BOOST_TEST(!core.try_receive(b)); // on the main descriptor again
    BOOST_TEST(g_plain_tries.load() == failed + 1);
    BOOST_TEST(g_main_calls.load() == 1);

    pipc::async_message_queue notify{ctx, name.str(), pipc::message_queue::options{},
                                     pipc::mq_backend::notify};
    BOOST_TEST(!notify.core().keeps_poll_descriptor());
}
