// SPDX-License-Identifier: BSL-1.0
// Tests of pipc/asio/async_channel.hpp: asynchronous sides against blocking and asynchronous
// peers in other processes, doorbell wake-ups both ways, cancellation that loses nothing, every
// completion token, destruction with pending operations, MPSC from several processes.
#define BOOST_TEST_MODULE asio_async_channel
#include <boost/test/unit_test.hpp>

#include <pipc/asio/async_channel.hpp>

#include <pipc_test/fault.hpp>
#include <pipc_test/support.hpp>

#include "async_channel_support.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using channel_test::channel_name;
using channel_test::counting_bells;
using channel_test::g_rings;
using pipc::channel;
using pipc::channel_mode;
using pipc::error_code;
using namespace std::chrono_literals;

namespace {

channel::options create(std::uint32_t slots, channel_mode mode = channel_mode::spsc) {
    return {.open = pipc::open_mode::create_exclusive,
            .slot_count = slots,
            .max_message_size = 64,
            .mode = mode};
}

/// Message k of producer p: "p:k".
std::string numbered(int p, std::uint64_t k) {
    return std::to_string(p) + ":" + std::to_string(k);
}
std::pair<int, std::uint64_t> parse(std::string_view s) {
    const auto colon = s.find(':');
    if (colon == std::string_view::npos) return {-1, 0};
    return {std::stoi(std::string(s.substr(0, colon))),
            std::stoull(std::string(s.substr(colon + 1)))};
}

/// Stops `ctx` and fails the test if it is still running after `d`.
struct watchdog {
    asio::steady_timer timer;
    bool fired = false;
    watchdog(asio::io_context& ctx, std::chrono::seconds d) : timer(ctx, d) {
        timer.async_wait([this, &ctx](error_code ec) {
            if (ec) return;
            fired = true;
            ctx.stop();
        });
    }
    void done() { timer.cancel(); }
};

/// Sends without blocking (the ring must have room): a broken wake-up fails the test instead
/// of blocking it.
void send_now(channel& tx, const std::string& s) {
    BOOST_TEST_REQUIRE(tx.try_send(std::as_bytes(std::span(s.data(), s.size()))));
}

/// FIFOs in /dev/shm whose names contain `part`.
int bell_fifos(const std::string& part) {
    int n = 0;
    if (DIR* d = ::opendir("/dev/shm")) {
        while (dirent* e = ::readdir(d)) {
            struct ::stat st {};
            if (std::string(e->d_name).find(part) != std::string::npos &&
                ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISFIFO(st.st_mode))
                ++n;
        }
        ::closedir(d);
    }
    return n;
}

/// The doorbell `suffix` (".bell-data", ".bell-room") of channel `name`.
std::string bell_path(const std::string& name, const char* suffix) {
    return "/dev/shm" + name + suffix;
}

} // namespace

BOOST_AUTO_TEST_CASE(doorbells_live_and_die_with_the_channel) {
    channel_name name;
    const std::string base = name.name.substr(1);
    {
        asio::io_context ctx;
        pipc::async_channel ch(ctx, name, create(4));
        BOOST_TEST(ch.is_open());
        BOOST_TEST(bell_fifos(base + ".bell-") == 2);
    }
    pipc::unlink_channel(name.name);
    BOOST_TEST(bell_fifos(base) == 0);
    BOOST_TEST(!pipc_test::exists(pipc::object_kind::shared_memory, name.name));
}

// The bells carry the channel's mode bits exactly, whatever the umask: a peer that may use the
// channel may ring them, nobody else may.
BOOST_AUTO_TEST_CASE(doorbells_have_the_channels_permissions) {
    channel_name name;
    const ::mode_t old_umask = ::umask(077);
    {
        asio::io_context ctx;
        auto opts = create(4);
        opts.permissions = 0640;
        pipc::async_channel ch(ctx, name, opts);
        BOOST_TEST_REQUIRE(ch.is_open());
        for (const char* suffix : {".bell-data", ".bell-room"}) {
            struct ::stat st {};
            BOOST_TEST_REQUIRE(::lstat(bell_path(name.name, suffix).c_str(), &st) == 0);
            BOOST_TEST(S_ISFIFO(st.st_mode));
            BOOST_TEST((st.st_mode & 07777) == 0640U);
        }
    }
    ::umask(old_umask);
    pipc::unlink_channel(name.name);
}

// Something else under a bell's name (a regular file, a symbolic link) is not a bell: opening
// the channel asynchronously fails with errc::not_a_channel and writes nothing into it, and
// removing the channel leaves it alone.
BOOST_AUTO_TEST_CASE(foreign_file_under_a_bells_name_is_refused_and_left_alone) {
    for (const bool link : {false, true}) {
        BOOST_TEST_CONTEXT((link ? "a symbolic link" : "a regular file")) {
            channel_name name;
            const std::string bell = bell_path(name.name, ".bell-data");
            const std::string target = bell + ".target";
            { std::ofstream(link ? target : bell) << "foreign"; }
            if (link) BOOST_TEST_REQUIRE(::symlink(target.c_str(), bell.c_str()) == 0);
            channel tx(name, create(4));
            asio::io_context ctx;
            pipc::async_channel rx(ctx);
            error_code ec;
            rx.open(name.name, {}, ec);
            BOOST_TEST(ec == make_error_code(pipc::errc::not_a_channel));
            BOOST_TEST(!rx.is_open());
            // A peer announced as asynchronous consumer makes the next send ring: it must
            // find no bell to ring, and write nothing into the file.
            channel rx_core(name);
            pipc::detail::channel_async_access::announce(rx_core, pipc::detail::channel_bell::data);
            channel tx2(name);
            send_now(tx2, "m");
            pipc::detail::channel_async_access::withdraw(rx_core, pipc::detail::channel_bell::data);
            pipc::unlink_channel(name.name);
            struct ::stat st {};
            BOOST_TEST_REQUIRE(::lstat(bell.c_str(), &st) == 0); // left alone
            BOOST_TEST((link ? S_ISLNK(st.st_mode) : S_ISREG(st.st_mode)));
            std::ifstream in(link ? target : bell);
            std::string content((std::istreambuf_iterator<char>(in)), {});
            BOOST_TEST(content == "foreign");
            ::unlink(bell.c_str());
            if (link) ::unlink(target.c_str());
        }
    }
}

BOOST_AUTO_TEST_CASE(async_receive_from_blocking_producer_process) {
    channel_name name;
    asio::io_context ctx;
    pipc::async_channel rx(ctx, name, create(4));
    constexpr std::uint64_t count = 20000;
    pipc_test::child_process producer([&] {
        channel tx(name);
        for (std::uint64_t i = 0; i < count; ++i) tx.send(numbered(0, i));
        return true;
    });
    std::array<char, 64> buf{};
    std::uint64_t next = 0;
    bool bad = false;
    watchdog dog(ctx, 30s);
    std::function<void(error_code, std::size_t)> on_receive = [&](error_code ec, std::size_t n) {
        if (ec || parse(std::string_view(buf.data(), n)) != std::pair{0, next}) {
            bad = true;
            return dog.done();
        }
        if (++next == count) return dog.done();
        rx.async_receive(asio::buffer(buf), on_receive);
    };
    rx.async_receive(asio::buffer(buf), on_receive);
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    BOOST_TEST(!dog.fired);
    BOOST_TEST(!bad);
    BOOST_TEST(next == count);
    BOOST_TEST(producer.succeeded());
}

BOOST_AUTO_TEST_CASE(async_send_to_full_ring_blocking_consumer_process) {
    channel_name name;
    asio::io_context ctx;
    pipc::async_channel tx(ctx, name, create(2));
    constexpr std::uint64_t count = 20000;
    pipc_test::child_process consumer([&] {
        channel rx(name);
        std::array<char, 64> buf{};
        for (std::uint64_t i = 0; i < count; ++i) {
            const auto n = rx.receive_for(std::as_writable_bytes(std::span(buf)), 20s);
            if (!n || parse(std::string_view(buf.data(), *n)) != std::pair{0, i}) return false;
        }
        return true;
    });
    std::uint64_t next = 0;
    std::string msg;
    bool bad = false;
    watchdog dog(ctx, 30s);
    std::function<void(error_code)> on_send = [&](error_code ec) {
        if (ec) {
            bad = true;
            return dog.done();
        }
        if (++next == count) return dog.done();
        msg = numbered(0, next);
        tx.async_send(asio::buffer(msg), on_send);
    };
    msg = numbered(0, 0);
    tx.async_send(asio::buffer(msg), on_send);
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    BOOST_TEST(!dog.fired);
    BOOST_TEST(!bad);
    BOOST_TEST(next == count);
    BOOST_TEST(consumer.succeeded());
}

BOOST_AUTO_TEST_CASE(async_peers_in_two_processes_loan_and_view) {
    channel_name name;
    asio::io_context ctx;
    pipc::async_channel rx(ctx, name, create(2));
    constexpr std::uint64_t count = 5000;
    pipc_test::child_process producer([&] {
        asio::io_context cctx;
        pipc::async_channel tx(cctx, name);
        std::uint64_t i = 0;
        bool ok = true;
        std::function<void(error_code, pipc::channel_loan)> on_loan = [&](error_code ec,
                                                                          pipc::channel_loan loan) {
            if (ec) {
                ok = false;
                return;
            }
            const std::string m = numbered(1, i);
            std::memcpy(loan.buffer().data(), m.data(), m.size());
            loan.publish(m.size());
            if (++i < count) tx.async_loan(on_loan);
        };
        tx.async_loan(on_loan);
        cctx.run_for(30s);
        return ok && i == count;
    });
    std::uint64_t next = 0;
    bool bad = false;
    watchdog dog(ctx, 30s);
    std::function<void(error_code, pipc::channel_view)> on_view = [&](error_code ec,
                                                                      pipc::channel_view v) {
        if (ec || parse(v.text()) != std::pair{1, next}) {
            bad = true;
            return dog.done();
        }
        v.release();
        if (++next == count) return dog.done();
        rx.async_receive_view(on_view);
    };
    rx.async_receive_view(on_view);
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    BOOST_TEST(!dog.fired);
    BOOST_TEST(!bad);
    BOOST_TEST(next == count);
    BOOST_TEST(producer.succeeded());
}

// A receive cancelled at a random moment either took its message (success) or none: the
// received sequence has no gap and no duplicate.
BOOST_AUTO_TEST_CASE(cancelled_receives_lose_nothing) {
    channel_name name;
    asio::io_context ctx;
    pipc::async_channel rx(ctx, name, create(4));
    constexpr std::uint64_t count = 5000;
    pipc_test::child_process producer([&] {
        channel tx(name);
        for (std::uint64_t i = 0; i < count; ++i) tx.send(numbered(0, i));
        return true;
    });
    std::array<char, 64> buf{};
    std::uint64_t next = 0, aborted = 0, rounds = 0;
    bool bad = false;
    watchdog dog(ctx, 60s);
    asio::cancellation_signal sig;
    std::function<void()> round = [&] {
        ++rounds;
        rx.async_receive(
            asio::buffer(buf),
            asio::bind_cancellation_slot(sig.slot(), [&](error_code ec, std::size_t n) {
                if (ec == asio::error::operation_aborted) {
                    ++aborted;
                } else if (ec || parse(std::string_view(buf.data(), n)) != std::pair{0, next}) {
                    bad = true;
                    return dog.done();
                } else if (++next == count) {
                    return dog.done();
                }
                round();
            }));
        // Cancel now, after one scheduler pass, or not at all.
        switch (rounds % 3) {
        case 0:
            sig.emit(asio::cancellation_type::terminal);
            break;
        case 1:
            asio::post(ctx, [&] { sig.emit(asio::cancellation_type::partial); });
            break;
        default:
            break;
        }
    };
    round();
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    BOOST_TEST(!dog.fired);
    BOOST_TEST(!bad);
    BOOST_TEST(next == count);
    BOOST_TEST(aborted > 0U);
    BOOST_TEST(producer.succeeded());
}

// A send cancelled at a random moment either published (success) or not; the sender repeats
// an aborted number, and the consumer sees every number once, in order.
BOOST_AUTO_TEST_CASE(cancelled_sends_lose_and_duplicate_nothing) {
    channel_name name;
    asio::io_context ctx;
    pipc::async_channel tx(ctx, name, create(2));
    constexpr std::uint64_t count = 5000;
    pipc_test::child_process consumer([&] {
        channel rx(name);
        std::array<char, 64> b{};
        for (std::uint64_t i = 0; i < count; ++i) {
            const auto n = rx.receive_for(std::as_writable_bytes(std::span(b)), 30s);
            if (!n || parse(std::string_view(b.data(), *n)) != std::pair{0, i}) return false;
        }
        return true;
    });
    std::uint64_t next = 0, aborted = 0, rounds = 0;
    std::string msg;
    bool bad = false;
    watchdog dog(ctx, 60s);
    asio::cancellation_signal sig;
    std::function<void()> round = [&] {
        ++rounds;
        msg = numbered(0, next);
        tx.async_send(asio::buffer(msg),
                      asio::bind_cancellation_slot(sig.slot(), [&](error_code ec) {
                          if (ec == asio::error::operation_aborted) {
                              ++aborted;
                          } else if (ec) {
                              bad = true;
                              return dog.done();
                          } else if (++next == count) {
                              return dog.done();
                          }
                          round();
                      }));
        switch (rounds % 3) {
        case 0:
            sig.emit(asio::cancellation_type::total);
            break;
        case 1:
            asio::post(ctx, [&] { sig.emit(asio::cancellation_type::terminal); });
            break;
        default:
            break;
        }
    };
    round();
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    BOOST_TEST(!dog.fired);
    BOOST_TEST(!bad);
    BOOST_TEST(next == count);
    BOOST_TEST(aborted > 0U);
    BOOST_TEST(consumer.succeeded());
}

BOOST_AUTO_TEST_CASE(destruction_with_pending_operations) {
    channel_name name;
    asio::io_context ctx;
    error_code rec, sent;
    bool rec_called = false, sent_called = false;
    std::array<char, 64> buf{};
    {
        pipc::async_channel ch(ctx, name, create(2));
        ch.core().send("a"); // fill the ring: the send below waits
        ch.core().send("b");
        ch.async_send(asio::buffer("c", 1), [&](error_code ec) {
            sent_called = true;
            sent = ec;
        });
        BOOST_TEST(!sent_called);
    }
    BOOST_TEST(!sent_called); // never inside the destructor
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    BOOST_TEST(sent_called);
    BOOST_TEST(sent == asio::error::operation_aborted);
    {
        // The ring still holds exactly a and b: the aborted send published nothing.
        pipc::async_channel ch(ctx, name);
        std::size_t n = ch.core().receive(std::as_writable_bytes(std::span(buf)));
        BOOST_TEST(std::string(buf.data(), n) == "a");
        n = ch.core().receive(std::as_writable_bytes(std::span(buf)));
        BOOST_TEST(std::string(buf.data(), n) == "b");
        ch.async_receive(asio::buffer(buf), [&](error_code ec, std::size_t) {
            rec_called = true;
            rec = ec;
        });
    }
    ctx.restart();
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    BOOST_TEST(rec_called);
    BOOST_TEST(rec == asio::error::operation_aborted);
}

// A view or a loan in a completion still pending when the object goes, and then its
// io_context (the usual order of declaration): destroying the completion destroys them while
// the channel handle they point into still exists (closed, so they do nothing, as after close()).
// ASan saw a use-after-free here before. The message the view held stays first.
BOOST_AUTO_TEST_CASE(views_and_loans_in_pending_completions_outlive_their_object) {
    channel_name name;
    channel tx(name, create(4));
    send_now(tx, "kept");
    bool called = false, resumed = false, started = false;
    {
        asio::io_context ctx; // never run: both completions stay posted
        pipc::async_channel rx(ctx, name);
        rx.async_receive_view([&](error_code, pipc::channel_view) { called = true; });
        pipc::async_channel lender(ctx, name);
        lender.async_loan([&](error_code, pipc::channel_loan) { called = true; });
    }
    {
        asio::io_context ctx;
        pipc::async_channel rx(ctx, name);
        asio::co_spawn(
            ctx,
            [&]() -> asio::awaitable<void> {
                started = true;
                pipc::channel_view v = co_await rx.async_receive_view(asio::deferred);
                resumed = true;
            },
            asio::detached);
        // Until the coroutine's receive took the view: its resumption is then posted.
        for (int i = 0; i < 100 && !started; ++i) ctx.run_one_for(50ms);
        BOOST_TEST(started);
    }
    BOOST_TEST(!called);
    BOOST_TEST(!resumed);
    channel rx(name);
    std::array<char, 64> buf{};
    const auto n = rx.try_receive(std::as_writable_bytes(std::span(buf)));
    BOOST_TEST_REQUIRE(n.has_value());
    BOOST_TEST(std::string(buf.data(), *n) == "kept");
}

// The core closed under pending operations (through core()): they complete with errc::closed,
// and the closed handle leaves no waiter announced, so peers ring no bell for it.
BOOST_AUTO_TEST_CASE(closing_the_core_under_pending_operations) {
    channel_name name;
    asio::io_context ctx;
    watchdog dog(ctx, 20s);
    std::array<char, 64> buf{};
    {
        pipc::async_channel rx(ctx, name, create(2));
        channel tx(name);
        error_code rec;
        bool rec_called = false;
        rx.async_receive(asio::buffer(buf), [&](error_code ec, std::size_t) {
            rec_called = true;
            rec = ec;
        });
        ctx.poll(); // announced on the data bell, waiting
        BOOST_TEST_REQUIRE(!rec_called);
        rx.core().close();
        while (!rec_called && !dog.fired) ctx.run_one();
        BOOST_TEST((rec == make_error_code(pipc::errc::closed)));
        counting_bells rings;
        send_now(tx, "a"); // nobody waits for data any more: no ring
        BOOST_TEST(g_rings == 0);
        error_code again;
        rx.async_receive(asio::buffer(buf), [&](error_code ec, std::size_t) { again = ec; });
        ctx.restart();
        ctx.poll();
        BOOST_TEST((again == make_error_code(pipc::errc::closed)));
    }
    {
        channel rx(name);
        pipc::async_channel tx(ctx, name);
        send_now(tx.core(), "b"); // full: "a", "b"
        error_code sent;
        bool sent_called = false;
        tx.async_send(asio::buffer("c", 1), [&](error_code ec) {
            sent_called = true;
            sent = ec;
        });
        ctx.restart();
        ctx.poll(); // announced on the room bell, waiting
        BOOST_TEST_REQUIRE(!sent_called);
        tx.core().close();
        while (!sent_called && !dog.fired) ctx.run_one();
        BOOST_TEST((sent == make_error_code(pipc::errc::closed)));
        for (const char* expected : {"a", "b"}) { // and no "c": the closed send published nothing
            const auto n = rx.try_receive(std::as_writable_bytes(std::span(buf)));
            BOOST_TEST_REQUIRE(n.has_value());
            BOOST_TEST(std::string(buf.data(), *n) == expected);
        }
        BOOST_TEST(!rx.try_receive(std::as_writable_bytes(std::span(buf))).has_value());
        // Nobody waits for room any more. (The consumer may still ring once: the armed flag is
        // one-shot for every waiting handle and stays until taken.)
        BOOST_TEST(pipc::detail::channel_async_access::room_waiters(rx) == 0U);
    }
    BOOST_TEST(!dog.fired);
    dog.done();
}

BOOST_AUTO_TEST_CASE(cancel_and_no_inline_completion) {
    channel_name name;
    asio::io_context ctx;
    pipc::async_channel ch(ctx, name, create(2));
    std::array<char, 64> buf{};
    int calls = 0;
    ch.core().send("x");
    ch.async_receive(asio::buffer(buf), [&](error_code ec, std::size_t n) {
        ++calls;
        BOOST_TEST(!ec);
        BOOST_TEST(std::string(buf.data(), n) == "x");
    });
    BOOST_TEST(calls == 0); // ready at once, still not inline
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    BOOST_TEST(calls == 1);
    ch.async_receive(asio::buffer(buf), [&](error_code ec, std::size_t) {
        ++calls;
        BOOST_TEST(ec == asio::error::operation_aborted);
    });
    ctx.restart();
    ctx.poll();
    ch.cancel();
    BOOST_TEST(calls == 1);
    BOOST_REQUIRE(
        pipc_test::run_to_completion(ctx)); // returns: nothing left waiting on the doorbell
    BOOST_TEST(calls == 2);
    // Errors: too long, too small, closed.
    const std::string big(65, 'x');
    ch.async_send(asio::buffer(big), [&](error_code ec) {
        ++calls;
        BOOST_TEST((ec == pipc::make_error_code(pipc::errc::message_too_long)));
    });
    ch.core().send("0123456789");
    ch.async_receive(asio::buffer(buf.data(), 4), [&](error_code ec, std::size_t) {
        ++calls;
        BOOST_TEST((ec == pipc::make_error_code(pipc::errc::buffer_too_small)));
    });
    ctx.restart();
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    BOOST_TEST(calls == 4);
    BOOST_TEST(ch.core().fill() == 1U); // the long message stayed
    ch.close();
    ch.async_receive(asio::buffer(buf), [&](error_code ec, std::size_t) {
        ++calls;
        BOOST_TEST((ec == pipc::make_error_code(pipc::errc::closed)));
    });
    ctx.restart();
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    BOOST_TEST(calls == 5);
}

BOOST_AUTO_TEST_CASE(every_completion_token) {
    channel_name name;
    asio::io_context ctx;
    pipc::async_channel ch(ctx, name, create(8));
    std::array<char, 64> buf{};
    // use_future, with the context on another thread.
    {
        auto work = asio::make_work_guard(ctx);
        std::thread runner([&] { ctx.run_for(std::chrono::seconds(60)); });
        auto f = ch.async_send(asio::buffer("fut", 3), asio::use_future);
        BOOST_TEST((f.wait_for(20s) == std::future_status::ready));
        f.get();
        auto r = ch.async_receive(asio::buffer(buf), asio::use_future);
        BOOST_TEST((r.wait_for(20s) == std::future_status::ready));
        BOOST_TEST(r.get() == 3U);
        work.reset();
        runner.join();
    }
    ctx.restart();
    // deferred
    auto d = ch.async_send(asio::buffer("def", 3), asio::deferred);
    bool deferred_done = false;
    std::move(d)([&](error_code ec) { deferred_done = !ec; });
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    BOOST_TEST(deferred_done);
    ctx.restart();
    // use_awaitable, as_tuple, redirect_error; the receive waits for a send started later.
    bool co_done = false;
    watchdog dog(ctx, 20s);
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            std::size_t n = co_await ch.async_receive(asio::buffer(buf), asio::use_awaitable);
            BOOST_TEST(std::string(buf.data(), n) == "def");
            auto [ec, v] = co_await ch.async_receive_view(asio::as_tuple(asio::use_awaitable));
            BOOST_TEST(!ec);
            BOOST_TEST(v.text() == "later");
            v.release();
            error_code ec2;
            auto loan = co_await ch.async_loan(asio::redirect_error(asio::use_awaitable, ec2));
            BOOST_TEST(!ec2);
            loan.publish(0);
            co_done = true;
            dog.done();
        },
        asio::detached);
    asio::post(ctx, [&] { ch.core().send("later"); });
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    BOOST_TEST(!dog.fired);
    BOOST_TEST(co_done);
}

BOOST_AUTO_TEST_CASE(mpsc_from_several_producer_processes) {
    channel_name name;
    asio::io_context ctx;
    pipc::async_channel rx(ctx, name, create(4, channel_mode::mpsc));
    constexpr int producers = 4;
    constexpr std::uint64_t each = 5000;
    std::vector<std::unique_ptr<pipc_test::child_process>> kids;
    for (int p = 0; p < producers; ++p) {
        kids.push_back(std::make_unique<pipc_test::child_process>([&, p]() -> bool {
            if (p % 2 == 0) {
                channel tx(name);
                for (std::uint64_t i = 0; i < each; ++i) tx.send(numbered(p, i));
                return true;
            }
            // Asynchronous producers too: they wait for room on the shared room bell.
            asio::io_context cctx;
            pipc::async_channel tx(cctx, name);
            std::uint64_t i = 0;
            std::string m;
            bool ok = true;
            std::function<void(error_code)> next = [&](error_code ec) {
                if (ec) ok = false;
                if (ec || ++i == each) return;
                m = numbered(p, i);
                tx.async_send(asio::buffer(m), next);
            };
            m = numbered(p, 0);
            tx.async_send(asio::buffer(m), next);
            cctx.run_for(40s);
            return ok && i == each;
        }));
    }
    std::array<std::uint64_t, producers> next{};
    std::uint64_t total = 0;
    bool bad = false;
    std::array<char, 64> buf{};
    watchdog dog(ctx, 50s);
    std::function<void(error_code, std::size_t)> on_receive = [&](error_code ec, std::size_t n) {
        const auto [p, k] = parse(std::string_view(buf.data(), ec ? 0 : n));
        if (ec || p < 0 || p >= producers || k != next[p]) {
            bad = true;
            return dog.done();
        }
        ++next[p];
        if (++total == producers * each) return dog.done();
        rx.async_receive(asio::buffer(buf), on_receive);
    };
    rx.async_receive(asio::buffer(buf), on_receive);
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    BOOST_TEST(!dog.fired);
    BOOST_TEST(!bad);
    BOOST_TEST(total == producers * each);
    for (auto& k : kids) BOOST_TEST(k->succeeded());
}

// Threads instead of processes (for TSan): an asynchronous consumer and a blocking producer,
// then an asynchronous producer and a blocking consumer, through separate handles.
BOOST_AUTO_TEST_CASE(threads_both_directions) {
    channel_name name;
    asio::io_context ctx;
    pipc::async_channel rx(ctx, name, create(2));
    constexpr std::uint64_t count = 3000;
    std::thread producer([&] { // bounded waits: the thread ends even if a wake-up is lost
        channel tx(name);
        for (std::uint64_t i = 0; i < count; ++i) {
            const std::string m = numbered(0, i);
            if (!tx.send_for(std::as_bytes(std::span(m.data(), m.size())), 20s)) return;
        }
    });
    std::array<char, 64> buf{};
    std::uint64_t got = 0;
    bool bad = false;
    watchdog dog(ctx, 30s);
    std::function<void(error_code, std::size_t)> on_receive = [&](error_code ec, std::size_t n) {
        if (ec || parse(std::string_view(buf.data(), n)) != std::pair{0, got}) {
            bad = true;
            return dog.done();
        }
        if (++got == count) return dog.done();
        rx.async_receive(asio::buffer(buf), on_receive);
    };
    rx.async_receive(asio::buffer(buf), on_receive);
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    producer.join();
    BOOST_TEST(!bad);
    BOOST_TEST(got == count);

    std::thread consumer_thread;
    bool consumer_ok = false;
    {
        channel_name name2;
        asio::io_context ctx2;
        pipc::async_channel tx(ctx2, name2, create(2));
        consumer_thread = std::thread([&] {
            channel rxb(name2);
            std::array<char, 64> b{};
            for (std::uint64_t i = 0; i < count; ++i) {
                const auto n = rxb.receive_for(std::as_writable_bytes(std::span(b)), 20s);
                if (!n || parse(std::string_view(b.data(), *n)) != std::pair{0, i}) return;
            }
            consumer_ok = true;
        });
        std::uint64_t i = 0;
        std::string m = numbered(0, 0);
        std::function<void(error_code)> on_send = [&](error_code ec) {
            if (ec || ++i == count) return;
            m = numbered(0, i);
            tx.async_send(asio::buffer(m), on_send);
        };
        tx.async_send(asio::buffer(m), on_send);
        ctx2.run_for(30s);
        consumer_thread.join();
        BOOST_TEST(i == count);
    }
    BOOST_TEST(consumer_ok);
}

// Two threads run the io_context, the object lives on a strand: a ring can reach the other
// thread's epoll_wait while the wait is not queued yet (the reason for the look at the bell).
BOOST_AUTO_TEST_CASE(strand_on_a_multi_threaded_context) {
    channel_name name;
    asio::io_context ctx(2);
    auto strand = asio::make_strand(ctx);
    pipc::async_channel rx(strand, name, create(2));
    constexpr std::uint64_t count = 20000;
    pipc_test::child_process producer([&] {
        channel tx(name);
        for (std::uint64_t i = 0; i < count; ++i) tx.send(numbered(0, i));
        return true;
    });
    std::array<char, 64> buf{};
    std::uint64_t next = 0;
    bool bad = false;
    asio::steady_timer dog(strand, 30s);
    bool fired = false;
    dog.async_wait([&](error_code ec) {
        if (ec) return;
        fired = true;
        ctx.stop();
    });
    std::function<void(error_code, std::size_t)> on_receive = [&](error_code ec, std::size_t n) {
        if (ec || parse(std::string_view(buf.data(), n)) != std::pair{0, next}) {
            bad = true;
            dog.cancel();
            return;
        }
        if (++next == count) {
            dog.cancel();
            return;
        }
        rx.async_receive(asio::buffer(buf), on_receive);
    };
    asio::post(strand, [&] { rx.async_receive(asio::buffer(buf), on_receive); });
    std::thread second([&] { ctx.run_for(std::chrono::seconds(60)); });
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    second.join();
    BOOST_TEST(!fired);
    BOOST_TEST(!bad);
    BOOST_TEST(next == count);
    BOOST_TEST(producer.succeeded());
}

/// An asynchronous consumer on a 4-slot channel and a blocking producer, on one io_context.
struct consumer_and_producer {
    channel_name name;
    asio::io_context ctx;
    pipc::async_channel rx{ctx, name, create(4)};
    channel tx{name};
};

// A waited operation completes from the object's own reactor handler. A handler bound to another
// executor (here a strand of the same io_context) must still run there, not inline in the
// object's handler: only a handler of the object's own executor is called directly.
BOOST_FIXTURE_TEST_CASE(waited_operation_completes_on_the_handlers_own_executor,
                        consumer_and_producer) {
    auto strand = asio::make_strand(ctx);
    std::array<char, 64> buf{};
    int on_strand = -1;
    int direct = -1;
    watchdog dog(ctx, 20s);
    rx.async_receive(asio::buffer(buf),
                     asio::bind_executor(strand, [&](error_code ec, std::size_t) {
                         BOOST_TEST(!ec);
                         on_strand = strand.running_in_this_thread() ? 1 : 0;
                     }));
    ctx.poll(); // waits for the bell
    BOOST_TEST(on_strand == -1);
    send_now(tx, "a");
    while (on_strand < 0 && !dog.fired) ctx.run_one();
    BOOST_TEST(on_strand == 1);
    // And the object's own executor: the handler runs (directly) on the context's thread.
    rx.async_receive(asio::buffer(buf), [&](error_code ec, std::size_t) {
        BOOST_TEST(!ec);
        direct = ctx.get_executor().running_in_this_thread() ? 1 : 0;
    });
    ctx.poll();
    BOOST_TEST(direct == -1);
    send_now(tx, "b");
    while (direct < 0 && !dog.fired) ctx.run_one();
    BOOST_TEST(direct == 1);
    dog.done();
    BOOST_TEST(!dog.fired);
}

/// Counts what the operations of one test allocate through a handler's associated allocator.
struct allocation_counts {
    int allocated = 0;
    int deallocated = 0;
};
template <class T>
struct counting_allocator {
    using value_type = T;
    allocation_counts* counts;
    explicit counting_allocator(allocation_counts* c) noexcept : counts(c) {}
    template <class U>
    counting_allocator(const counting_allocator<U>& o) noexcept : counts(o.counts) {}
    T* allocate(std::size_t n) {
        ++counts->allocated;
        return std::allocator<T>().allocate(n);
    }
    void deallocate(T* p, std::size_t n) noexcept {
        ++counts->deallocated;
        std::allocator<T>().deallocate(p, n);
    }
    template <class U>
    bool operator==(const counting_allocator<U>& o) const noexcept {
        return counts == o.counts;
    }
};

// A waiting operation lives in memory from its handler's associated allocator (as Asio's own
// operations do), and gives it back before the handler runs, so that the operation the handler
// starts next can reuse it.
BOOST_FIXTURE_TEST_CASE(waiting_operation_uses_the_handlers_allocator_and_frees_before_the_call,
                        consumer_and_producer) {
    allocation_counts counts;
    std::array<char, 64> buf{};
    allocation_counts seen{-1, -1};
    watchdog dog(ctx, 20s);
    rx.async_receive(asio::buffer(buf), asio::bind_allocator(counting_allocator<void>(&counts),
                                                             [&](error_code ec, std::size_t) {
                                                                 BOOST_TEST(!ec);
                                                                 seen = counts;
                                                             }));
    ctx.poll(); // waits for the bell: the operation is queued
    BOOST_TEST(counts.allocated == 1);
    BOOST_TEST(counts.deallocated == 0);
    send_now(tx, "a");
    while (seen.allocated < 0 && !dog.fired) ctx.run_one();
    dog.done();
    BOOST_TEST(seen.allocated == 1);
    BOOST_TEST(seen.deallocated == 1); // freed before the handler ran
}

// A receive cancelled through its slot is gone, but the slot still holds its canceller (an
// operation aborted from inside the slot's own handler cannot clear it). A second emission on
// that slot must not cancel the next receive, which reuses the first one's memory.
BOOST_FIXTURE_TEST_CASE(a_spent_cancellation_slot_cannot_cancel_the_next_operation,
                        consumer_and_producer) {
    std::array<char, 64> buf{};
    asio::cancellation_signal first, second;
    std::vector<error_code> results;
    auto on_receive = [&](error_code ec, std::size_t) { results.push_back(ec); };
    watchdog dog(ctx, 20s);
    rx.async_receive(asio::buffer(buf), asio::bind_cancellation_slot(first.slot(), on_receive));
    ctx.poll();
    first.emit(asio::cancellation_type::terminal);
    ctx.poll();
    BOOST_TEST_REQUIRE(results.size() == 1U);
    BOOST_TEST(results[0] == asio::error::operation_aborted);
    // The same handler type: the same size, so the same recycled memory.
    rx.async_receive(asio::buffer(buf), asio::bind_cancellation_slot(second.slot(), on_receive));
    ctx.poll();
    first.emit(asio::cancellation_type::terminal); // spent: reaches nothing
    ctx.poll();
    BOOST_TEST(results.size() == 1U);
    send_now(tx, "m");
    while (results.size() < 2 && !dog.fired) ctx.run_one();
    dog.done();
    BOOST_TEST_REQUIRE(results.size() == 2U);
    BOOST_TEST(!results[1]);
}

// A producer killed while holding a loan: the waiting asynchronous consumer looks now and then
// (no ring will come), skips the dead slot and delivers the message behind it.
BOOST_AUTO_TEST_CASE(dead_writer_is_skipped_by_a_waiting_receive) {
    channel_name name;
    asio::io_context ctx;
    pipc::async_channel rx(ctx, name, create(4, channel_mode::mpsc));
    pipc_test::handshake loaned;
    pipc_test::child_process writer([&] {
        channel tx(name);
        auto loan = tx.loan();
        loaned.signal();
        ::pause(); // killed here, holding the loan
        return false;
    });
    loaned.wait();
    channel tx(name);
    tx.send("behind");
    std::array<char, 64> buf{};
    std::string got;
    error_code result;
    watchdog dog(ctx, 20s);
    rx.async_receive(asio::buffer(buf), [&](error_code ec, std::size_t n) {
        result = ec;
        if (!ec) got.assign(buf.data(), n);
        dog.done();
    });
    ctx.poll(); // the receive now waits at the claimed slot
    BOOST_TEST(got.empty());
    ::kill(writer.pid(), SIGKILL);
    BOOST_TEST(!writer.succeeded());
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    BOOST_TEST(!dog.fired);
    BOOST_TEST(!result);
    BOOST_TEST(got == "behind");
    BOOST_TEST(rx.core().abandoned() == 1U);
}

// The epoll path keeps the bell registered and skips the drain before a wait when the bell was
// emptied and the reactor saw no edge since. A bell rung while nobody waited (a late ring)
// must then still be emptied before the next wait, or the next ring would find it full and
// wake nobody: with the reactor seeing that ring before the wait, and without.
BOOST_AUTO_TEST_CASE(bell_rung_while_nobody_waits_wakes_nothing_and_loses_nothing) {
    for (const bool reactor_saw_it : {true, false}) {
        channel_name name;
        asio::io_context ctx;
        pipc::async_channel rx(ctx, name, create(4));
        channel tx(name);
        std::array<char, 64> buf{};
        std::string got;
        watchdog dog(ctx, 20s);
        auto receive = [&] {
            got.clear();
            rx.async_receive(asio::buffer(buf), [&](error_code ec, std::size_t n) {
                BOOST_TEST(!ec);
                got.assign(buf.data(), n);
            });
        };
        auto run_until_received = [&] {
            while (got.empty() && !dog.fired) ctx.run_one();
        };
        for (int round = 0; round < 3; ++round) {
            receive();
            ctx.poll(); // waits in the reactor
            BOOST_TEST(got.empty());
            send_now(tx, "m" + std::to_string(round));
            run_until_received();
            BOOST_TEST(got == "m" + std::to_string(round));
            // A late ring: nobody waits for it.
            pipc::detail::channel_async_access::ring(tx, pipc::detail::channel_bell::data);
            if (reactor_saw_it) ctx.poll();
            // A wait cancelled with its bell empty, then a ring nobody waits for.
            asio::cancellation_signal sig;
            bool aborted = false;
            rx.async_receive(
                asio::buffer(buf),
                asio::bind_cancellation_slot(sig.slot(), [&](error_code ec, std::size_t) {
                    aborted = ec == asio::error::operation_aborted;
                }));
            ctx.poll();
            sig.emit(asio::cancellation_type::terminal);
            while (!aborted && !dog.fired) ctx.run_one();
            pipc::detail::channel_async_access::ring(tx, pipc::detail::channel_bell::data);
            if (reactor_saw_it) ctx.poll();
        }
        receive();
        ctx.poll();
        BOOST_TEST(got.empty()); // the stale ring delivered nothing
        send_now(tx, "last");
        run_until_received();
        BOOST_TEST(!dog.fired);
        BOOST_TEST(got == "last");
        dog.done();
    }
}

// A receive cancelled while it waits in the reactor, before and after the bell rang, consumed
// nothing; the bell stays registered and wakes the next receive.
BOOST_AUTO_TEST_CASE(cancel_while_waiting_in_the_reactor_loses_nothing) {
    channel_name name;
    asio::io_context ctx;
    pipc::async_channel rx(ctx, name, create(4));
    channel tx(name);
    std::array<char, 64> buf{};
    std::string got;
    error_code result;
    bool completed = false;
    watchdog dog(ctx, 20s);
    asio::cancellation_signal sig;
    auto receive = [&] {
        got.clear();
        completed = false;
        rx.async_receive(asio::buffer(buf), asio::bind_cancellation_slot(
                                                sig.slot(), [&](error_code ec, std::size_t n) {
                                                    result = ec;
                                                    completed = true;
                                                    if (!ec) got.assign(buf.data(), n);
                                                }));
    };
    auto run_until_completed = [&] {
        while (!completed && !dog.fired) ctx.run_one();
    };
    for (int round = 0; round < 3; ++round) {
        const std::string msg = "r" + std::to_string(round);
        // Cancelled before anything was sent.
        receive();
        ctx.poll();
        BOOST_TEST(!completed);
        sig.emit(asio::cancellation_type::terminal);
        run_until_completed();
        BOOST_TEST(result == asio::error::operation_aborted);
        // Cancelled after the bell rang, before the handler could take the message.
        receive();
        ctx.poll();
        BOOST_TEST(!completed);
        send_now(tx, msg);
        sig.emit(asio::cancellation_type::terminal);
        run_until_completed();
        BOOST_TEST(result == asio::error::operation_aborted);
        // The message is still first in the ring.
        receive();
        run_until_completed();
        BOOST_TEST(!result);
        BOOST_TEST(got == msg);
        // And the bell still wakes a waiting receive.
        receive();
        ctx.poll();
        BOOST_TEST(!completed);
        send_now(tx, msg + "-woken");
        run_until_completed();
        BOOST_TEST(!result);
        BOOST_TEST(got == msg + "-woken");
    }
    BOOST_TEST(!dog.fired);
    dog.done();
}

// A send waiting for room is rung once per sleep, not once per released slot.
BOOST_AUTO_TEST_CASE(room_bell_rings_once_per_sleep) {
    channel_name name;
    asio::io_context ctx;
    pipc::async_channel tx(ctx, name, create(4));
    channel rx(name);
    watchdog dog(ctx, 20s);
    for (int i = 0; i < 4; ++i) send_now(tx.core(), numbered(0, i));
    counting_bells rings;
    int sent = 0;
    const std::array<std::string, 2> msgs{numbered(0, 4), numbered(0, 5)};
    for (const auto& s : msgs) {
        tx.async_send(asio::buffer(s), [&](error_code ec) {
            BOOST_TEST(!ec);
            ++sent;
        });
    }
    ctx.poll(); // the sends wait for the room bell
    BOOST_TEST(sent == 0);
    std::array<char, 64> buf{};
    auto take = [&](int k) {
        const auto n = rx.try_receive(std::as_writable_bytes(std::span(buf)));
        BOOST_TEST_REQUIRE(n.has_value());
        BOOST_TEST(std::string(buf.data(), *n) == numbered(0, k));
    };
    for (int k = 0; k < 3; ++k) take(k);
    BOOST_TEST(g_rings == 1);
    while (sent < 2 && !dog.fired) ctx.run_one();
    BOOST_TEST(!dog.fired);
    for (int k = 3; k < 6; ++k) take(k);
    dog.done();
}

// Two handles wait for room on the one room bell. The consumer rings it once for two released
// slots (it takes the flag); the handle that empties the bell passes it on to the other.
BOOST_AUTO_TEST_CASE(room_bell_is_passed_on_between_handles) {
    channel_name name;
    asio::io_context ctx;
    pipc::async_channel a(ctx, name, create(2, channel_mode::mpsc));
    pipc::async_channel b(ctx, name);
    channel rx(name);
    watchdog dog(ctx, 20s);
    const std::string fill = "fill", ma = "from-a", mb = "from-b";
    for (int i = 0; i < 2; ++i) send_now(rx, fill);
    counting_bells rings;
    int done = 0;
    auto count = [&](error_code ec) {
        BOOST_TEST(!ec);
        ++done;
    };
    a.async_send(asio::buffer(ma), count);
    b.async_send(asio::buffer(mb), count);
    ctx.poll();
    BOOST_TEST(done == 0);
    std::array<char, 64> buf{};
    for (int k = 0; k < 2; ++k)
        BOOST_TEST_REQUIRE(rx.try_receive(std::as_writable_bytes(std::span(buf))).has_value());
    BOOST_TEST(g_rings == 1);
    while (done < 2 && !dog.fired) ctx.run_one();
    BOOST_TEST(!dog.fired);
    BOOST_TEST(g_rings == 2); // the consumer's ring and one pass-on
    std::vector<std::string> rest;
    while (auto n = rx.try_receive(std::as_writable_bytes(std::span(buf))))
        rest.emplace_back(buf.data(), *n);
    std::sort(rest.begin(), rest.end());
    BOOST_TEST((rest == std::vector<std::string>{ma, mb}));
    dog.done();
}

namespace {
/// Pins the calling thread to one CPU at a time; gives the thread its affinity back at the end.
struct cpu_pin {
    ::cpu_set_t original{};
    bool saved = ::sched_getaffinity(0, sizeof(original), &original) == 0;
    ~cpu_pin() {
        if (saved) ::sched_setaffinity(0, sizeof(original), &original);
    }
    cpu_pin() = default;
    cpu_pin(const cpu_pin&) = delete;
    cpu_pin& operator=(const cpu_pin&) = delete;
    /// The first two CPUs the thread may run on, or {-1, -1}.
    std::pair<int, int> two_cpus() const {
        std::pair<int, int> r{-1, -1};
        for (int c = 0; saved && c < CPU_SETSIZE && r.second < 0; ++c)
            if (CPU_ISSET(c, &original)) (r.first < 0 ? r.first : r.second) = c;
        return r;
    }
    static bool to(int cpu) {
        ::cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        return ::sched_setaffinity(0, sizeof(set), &set) == 0 && ::sched_getcpu() == cpu;
    }
};
} // namespace

// A ring from another CPU wakes the receive without emptying the data bell (the byte is left
// off the wake-up's path: the epoll path's deferred drain); the consumer empties the bell
// before it announces its next wait, so the next ring wakes it again (no lost wake-up, the
// watchdog would fire). A ring from the consumer's own CPU is emptied by the wake-up at once.
// One thread moved between two CPUs: the send is rung from the first, the reactor runs on the
// second.
BOOST_AUTO_TEST_CASE(data_bell_rung_from_another_cpu_is_emptied_before_the_next_sleep) {
    cpu_pin pin;
    const auto [a, b] = pin.two_cpus();
    if (b < 0 || !cpu_pin::to(a)) {
        BOOST_TEST_MESSAGE("skipped: the thread may not run on two CPUs");
        return;
    }
    using waiter = pipc::detail::channel_bell_waiter<asio::io_context::executor_type>;
    for (const bool cross : {false, true}) {
        BOOST_TEST_CONTEXT("rung from " << (cross ? "another CPU" : "the consumer's CPU")) {
            channel_name name;
            asio::io_context ctx;
            pipc::async_channel rx(ctx, name, create(4));
            channel tx(name);
            // O_RDWR: a FIFO opened so never blocks in open().
            const int bell =
                ::open(bell_path(name.name, ".bell-data").c_str(), O_RDWR | O_NONBLOCK);
            BOOST_TEST_REQUIRE(bell >= 0);
            auto bytes_in_bell = [&] {
                int n = 0;
                return ::ioctl(bell, FIONREAD, &n) == 0 ? long{n} : -1L;
            };
            std::array<char, 64> buf{};
            std::string got;
            long in_handler = -1;
            watchdog dog(ctx, 20s);
            for (int round = 0; round < 4; ++round) {
                BOOST_TEST_REQUIRE(cpu_pin::to(a));
                got.clear();
                rx.async_receive(asio::buffer(buf), [&](error_code ec, std::size_t n) {
                    BOOST_TEST(!ec);
                    got.assign(buf.data(), n);
                    in_handler = bytes_in_bell();
                });
                ctx.poll(); // waits in the reactor
                BOOST_TEST(got.empty());
                BOOST_TEST(bytes_in_bell() == 0L);         // emptied before it announced this wait
                send_now(tx, "m" + std::to_string(round)); // rung from CPU a
                if (cross) BOOST_TEST_REQUIRE(cpu_pin::to(b));
                while (got.empty() && !dog.fired) ctx.run_one();
                BOOST_TEST_REQUIRE(!dog.fired);
                BOOST_TEST(got == "m" + std::to_string(round));
                // The first wait after the bell's registration always empties it.
                const bool left = cross && waiter::drains_itself && round > 0;
                BOOST_TEST(in_handler == (left ? 1L : 0L));
            }
            dog.done();
            ::close(bell);
        }
    }
}
