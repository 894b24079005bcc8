// SPDX-License-Identifier: BSL-1.0
// Tests of pipc/asio/async_message_queue.hpp: every operation in four flavours, every completion
// token, cancellation of every kind, both backends, across processes.
#define BOOST_TEST_MODULE asio_async_message_queue
#include <boost/test/unit_test.hpp>

#include "async_message_queue_support.hpp"

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>

#include <dirent.h>

#include <array>
#include <future>
#include <memory>
#include <set>
#include <thread>

using namespace mq_test;
using pipc::object_kind;
using pipc_test::named;
using namespace std::chrono_literals;

namespace {

// The queue holds `n` messages? Checked through a separate core descriptor.
long depth(const std::string& name) {
    pipc::message_queue q(name);
    return q.current_messages();
}

template <class T>
struct counting_allocator {
    using value_type = T;
    int* count;
    explicit counting_allocator(int* c) : count(c) {}
    template <class U>
    counting_allocator(const counting_allocator<U>& o) : count(o.count) {}
    T* allocate(std::size_t n) {
        ++*count;
        return std::allocator<T>().allocate(n);
    }
    void deallocate(T* p, std::size_t n) { std::allocator<T>().deallocate(p, n); }
    template <class U>
    bool operator==(const counting_allocator<U>& o) const {
        return count == o.count;
    }
};

} // namespace

// ---- the four flavours ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(send_and_receive_in_every_flavour, B, backends) {
    named n(object_kind::message_queue, "flav");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n, create_opts(), B::value);
    BOOST_TEST((q.backend() == B::value));
    unsigned prio = 1;
    for (auto sf : all_flavours) {
        for (auto rf : all_flavours) {
            BOOST_TEST_CONTEXT("send " << name_of(sf) << ", receive " << name_of(rf)) {
                const std::string text = std::string("m-") + name_of(sf) + "-" + name_of(rf);
                bool sent_inline = false;
                BOOST_TEST(!send_as(sf, ctx, q, text, prio, &sent_inline));
                BOOST_TEST(!sent_inline);
                const auto r = receive_as(rf, ctx, q, 128);
                BOOST_TEST(!r.ec);
                BOOST_TEST(r.text == text);
                BOOST_TEST(r.priority == prio);
                BOOST_TEST(!r.completed_inline);
                prio = prio % 30 + 1;
            }
        }
        BOOST_TEST_CONTEXT("receive_message after send " << name_of(sf)) {
            for (auto rf : all_flavours) {
                BOOST_TEST(!send_as(sf, ctx, q, "owning", 7));
                const auto r = receive_message_as(rf, ctx, q);
                BOOST_TEST(!r.ec);
                BOOST_TEST(r.text == "owning");
                BOOST_TEST(r.priority == 7u);
                BOOST_TEST(!r.completed_inline);
            }
        }
    }
    BOOST_TEST(depth(n.str()) == 0);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(errors_in_every_flavour_change_nothing, B, backends) {
    named n(object_kind::message_queue, "err");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n, create_opts(10, 16), B::value);
    q.send(bytes("keep"), 3);
    for (auto f : all_flavours) {
        BOOST_TEST_CONTEXT(name_of(f)) {
            bool sent_inline = false;
            BOOST_TEST(send_as(f, ctx, q, std::string(17, 'x'), 0, &sent_inline) ==
                       pipc::errc::message_too_long);
            BOOST_TEST(!sent_inline);
            BOOST_TEST(send_as(f, ctx, q, "p", 1u << 20) == pipc::errc::invalid_priority);
            const auto small = receive_as(f, ctx, q, 8);
            BOOST_TEST(small.ec == pipc::errc::buffer_too_small);
            BOOST_TEST(!small.completed_inline);
            BOOST_TEST(depth(n.str()) == 1); // nothing sent, nothing consumed
        }
    }
    // A closed object: every flavour reports errc::closed (condition existential).
    pipc::async_message_queue closed(ctx);
    BOOST_TEST(!closed.is_open());
    for (auto f : all_flavours) {
        BOOST_TEST_CONTEXT(name_of(f)) {
            const auto e = send_as(f, ctx, closed, "x", 0);
            BOOST_TEST(e == pipc::errc::closed);
            BOOST_TEST((e == pipc::condition::existential));
            BOOST_TEST(receive_as(f, ctx, closed, 128).ec == pipc::errc::closed);
            BOOST_TEST(receive_message_as(f, ctx, closed).ec == pipc::errc::closed);
        }
    }
    BOOST_CHECK_THROW(closed.cancel(), pipc::existential_error);
    BOOST_TEST(depth(n.str()) == 1);
}

BOOST_AUTO_TEST_CASE(access_is_checked_before_anything_moves) {
    named n(object_kind::message_queue, "acc");
    asio::io_context ctx;
    pipc::message_queue::options ro = create_opts();
    ro.access = pipc::access::read_only;
    pipc::async_message_queue rq(ctx, n, ro);
    auto wo = create_opts();
    wo.access = pipc::access::write_only;
    for (auto b : {mq_backend::descriptor, mq_backend::notify}) {
        pipc::async_message_queue wq(ctx, n, wo, b);
        for (auto f : all_flavours) {
            BOOST_TEST(send_as(f, ctx, rq, "x", 0) == pipc::errc::not_writable);
            BOOST_TEST((send_as(f, ctx, rq, "x", 0) == pipc::condition::permissions));
            // A write-only queue is never empty-waited: the receive fails before any wait.
            BOOST_TEST(receive_as(f, ctx, wq, 128).ec == pipc::errc::not_readable);
        }
    }
    BOOST_TEST(depth(n.str()) == 0);
}

// ---- completion tokens, associated executor and allocator ---------------------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(every_completion_token_works, B, backends) {
    named n(object_kind::message_queue, "tok");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n, create_opts(), B::value);
    std::array<char, 128> buf{};

    // deferred: nothing starts until the deferred operation is invoked.
    auto op = q.async_send(cbuf("deferred"), 2, asio::deferred);
    BOOST_TEST(depth(n.str()) == 0);
    bool done = false;
    std::move(op)([&](error_code ec) {
        BOOST_TEST(!ec);
        done = true;
    });
    BOOST_TEST(run_until(ctx, [&] { return done; }));
    BOOST_TEST(depth(n.str()) == 1);

    // redirect_error and deferred inside a coroutine.
    done = false;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            error_code ec;
            const auto [size, prio] = co_await q.async_receive(
                asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
            BOOST_TEST(!ec);
            BOOST_TEST(std::string_view(buf.data(), size) == "deferred");
            BOOST_TEST(prio == 2u);
            co_await q.async_send(cbuf("again"), 0, asio::deferred);
            auto m = co_await q.async_receive_message(asio::deferred);
            BOOST_TEST(m.text() == "again");
            // use_awaitable without as_tuple throws the error into the coroutine.
            std::array<char, 4> tiny{};
            try {
                co_await q.async_receive(asio::buffer(tiny), asio::use_awaitable);
                BOOST_TEST(false);
            } catch (const boost::system::system_error& e) {
                BOOST_TEST(e.code() == pipc::errc::buffer_too_small);
            }
            done = true;
        },
        asio::detached);
    BOOST_TEST(run_until(ctx, [&] { return done; }));

    // use_future with the context running on another thread.
    {
        auto work = asio::make_work_guard(ctx);
        ctx.restart();
        std::thread runner([&] { ctx.run_for(std::chrono::seconds(60)); });
        auto sent = q.async_send(cbuf("future"), 4, asio::use_future);
        BOOST_TEST((sent.wait_for(20s) == std::future_status::ready));
        sent.get();
        auto got = q.async_receive_message(asio::use_future);
        BOOST_TEST((got.wait_for(20s) == std::future_status::ready));
        const auto m = got.get();
        BOOST_TEST(m.text() == "future");
        BOOST_TEST(m.priority == 4u);
        std::array<char, 4> tiny{};
        auto bad = q.async_receive(asio::buffer(tiny), asio::use_future);
        BOOST_TEST((bad.wait_for(20s) == std::future_status::ready));
        BOOST_CHECK_THROW(bad.get(), boost::system::system_error);
        work.reset();
        runner.join();
    }
    BOOST_TEST(depth(n.str()) == 0);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(associated_executor_and_allocator_are_honoured, B, backends) {
    named n(object_kind::message_queue, "assoc");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n, create_opts(), B::value);
    auto strand = asio::make_strand(ctx);
    int allocations = 0;
    std::array<char, 128> buf{};
    bool in_strand = false, done = false;
    // The receive has to wait (the queue is empty), so its intermediate steps allocate too.
    q.async_receive(
        asio::buffer(buf),
        asio::bind_allocator(counting_allocator<int>(&allocations),
                             asio::bind_executor(strand, [&](error_code ec, std::size_t, unsigned) {
                                 BOOST_TEST(!ec);
                                 in_strand = strand.running_in_this_thread();
                                 done = true;
                             })));
    q.async_send(cbuf("x"), 0, [](error_code ec) { BOOST_TEST(!ec); });
    BOOST_TEST(run_until(ctx, [&] { return done; }));
    BOOST_TEST(in_strand);
    BOOST_TEST(allocations > 0);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(as_default_on_rebinds_the_executor, B, backends) {
    named n(object_kind::message_queue, "rebind");
    asio::io_context ctx;
    using queue_t = asio::use_awaitable_t<>::as_default_on_t<pipc::async_message_queue>;
    queue_t q(ctx, n, create_opts(), B::value);
    bool done = false;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            co_await q.async_send(cbuf("default token"), 1);
            auto m = co_await q.async_receive_message();
            BOOST_TEST(m.text() == "default token");
            done = true;
        },
        asio::detached);
    BOOST_TEST(run_until(ctx, [&] { return done; }));
}

// ---- throughput shape: several waiting messages drain without waiting
// ----------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(waiting_messages_are_drained_in_order, B, backends) {
    named n(object_kind::message_queue, "drain");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n, create_opts(), B::value);
    for (int i = 0; i < 10; ++i) q.send(bytes(std::to_string(i)), static_cast<unsigned>(i % 3));
    std::vector<std::string> got;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 10; ++i) {
                auto m = co_await q.async_receive_message(asio::use_awaitable);
                got.emplace_back(m.text());
            }
        },
        asio::detached);
    BOOST_TEST(run_until(ctx, [&] { return got.size() == 10; }));
    // Highest priority first, FIFO within a priority.
    const std::vector<std::string> expected{"2", "5", "8", "1", "4", "7", "0", "3", "6", "9"};
    BOOST_TEST(got == expected, boost::test_tools::per_element());
}

// An operation that completes at once resumes its co_await directly instead of through a post
// (Boost 1.81 has no immediate executors), but only so many times in a row on one thread: a
// long run of such operations lets other handlers in and does not grow the stack.
BOOST_AUTO_TEST_CASE_TEMPLATE(immediate_completions_resume_the_coroutine_directly, B, backends) {
    named n(object_kind::message_queue, "direct");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n, create_opts(), B::value);
    constexpr int loops = 20000; // 40,000 nested resumptions would overflow an unbounded stack
    std::array<char, 128> buf{};
    bool posted_ran = false, done = false;
    int first_loop_after_post = -1;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            asio::post(ctx, [&] { posted_ran = true; });
            co_await q.async_send(cbuf("a"), 0, asio::use_awaitable);
            BOOST_TEST(!posted_ran); // no scheduler pass in between
            auto [ec, size, prio] =
                co_await q.async_receive(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
            BOOST_TEST(!ec);
            BOOST_TEST(std::string_view(buf.data(), size) == "a");
            BOOST_TEST(!posted_ran);
            for (int i = 0; i < loops; ++i) {
                co_await q.async_send(cbuf("x"), 0, asio::use_awaitable);
                co_await q.async_receive(asio::buffer(buf), asio::use_awaitable);
                if (posted_ran && first_loop_after_post < 0) first_loop_after_post = i;
            }
            done = true;
        },
        asio::detached);
    BOOST_TEST(run_until(ctx, [&] { return done; }));
    BOOST_TEST(posted_ran);
    // Two operations per loop and two before it: the posted handler runs as soon as the bound
    // of direct resumptions forces one completion through the scheduler.
    BOOST_TEST(first_loop_after_post >= 0);
    BOOST_TEST(first_loop_after_post <= pipc::detail::max_direct_resumptions / 2);
    BOOST_TEST(depth(n.str()) == 0);
}

// The shortcut is for use_awaitable given to the operation itself. A coroutine's handler that a
// user's own initiation forwards (it may run on another executor, and the forwarder may still
// use its state after the call) gets the ordinary posted completion.
BOOST_AUTO_TEST_CASE_TEMPLATE(forwarded_coroutine_handlers_are_posted, B, backends) {
    named n(object_kind::message_queue, "fwd");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n, create_opts(), B::value);
    q.send(bytes("waiting"));
    std::array<char, 128> buf{};
    bool posted_ran = false, forwarder_done = false, done = false;
    auto forwarded_receive = [&](auto token) {
        return asio::async_initiate<decltype(token), void(error_code, std::size_t, unsigned)>(
            [&](auto handler) {
                q.async_receive(asio::buffer(buf), std::move(handler));
                forwarder_done = true; // the forwarder still runs after the call
            },
            token);
    };
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            asio::post(ctx, [&] { posted_ran = true; });
            const auto [size, prio] = co_await forwarded_receive(asio::use_awaitable);
            BOOST_TEST(forwarder_done);
            BOOST_TEST(posted_ran); // completed through the scheduler, after the earlier post
            BOOST_TEST(std::string_view(buf.data(), size) == "waiting");
            BOOST_TEST(prio == 0u);
            done = true;
        },
        asio::detached);
    BOOST_TEST(run_until(ctx, [&] { return done; }));
}

// A receive started while an older one waits in the reactor does not take a message first.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_later_receive_does_not_overtake_a_waiting_one, B, backends) {
    named n(object_kind::message_queue, "order");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n, create_opts(), B::value);
    pipc::message_queue other(n.str());
    std::array<char, 128> first_buf{}, second_buf{};
    std::string first, second;
    q.async_receive(asio::buffer(first_buf), [&](error_code ec, std::size_t size, unsigned) {
        BOOST_TEST(!ec);
        first.assign(first_buf.data(), size);
    });
    ctx.poll(); // the first receive found the queue empty and waits
    BOOST_TEST(first.empty());
    other.send(bytes("1"));
    q.async_receive(asio::buffer(second_buf), [&](error_code ec, std::size_t size, unsigned) {
        BOOST_TEST(!ec);
        second.assign(second_buf.data(), size);
    });
    other.send(bytes("2"));
    ctx.restart();
    BOOST_TEST(run_until(ctx, [&] { return !first.empty() && !second.empty(); }));
    BOOST_TEST(first == "1");
    BOOST_TEST(second == "2");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(full_queue_send_waits_for_room, B, backends) {
    named n(object_kind::message_queue, "full");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n, create_opts(2, 16), B::value);
    q.send(bytes("a"));
    q.send(bytes("b"));
    bool sent = false;
    q.async_send(cbuf("c"), 0, [&](error_code ec) {
        BOOST_TEST(!ec);
        sent = true;
    });
    ctx.restart();
    ctx.poll();
    BOOST_TEST(!sent);
    BOOST_TEST(depth(n.str()) == 2);
    std::array<char, 16> buf{};
    BOOST_TEST(q.receive(std::span(reinterpret_cast<std::byte*>(buf.data()), buf.size())).size ==
               1u);
    BOOST_TEST(run_until(ctx, [&] { return sent; }));
    BOOST_TEST(depth(n.str()) == 2);
}

// ---- many coroutines on one queue ------------------------------------------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(many_coroutines_share_one_queue, B, backends) {
    named n(object_kind::message_queue, "many");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n, create_opts(4, 32), B::value);
    constexpr int receivers = 8, senders = 4, per_sender = 250;
    std::vector<int> seen(senders * per_sender, 0);
    int received = 0;
    bool finished = false;
    for (int r = 0; r < receivers; ++r) {
        asio::co_spawn(
            ctx,
            [&]() -> asio::awaitable<void> {
                std::array<char, 32> buf{};
                while (!finished) {
                    auto [ec, size, prio] = co_await q.async_receive(
                        asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
                    if (ec) co_return; // cancelled at the end
                    const int seq = std::stoi(std::string(buf.data(), size));
                    ++seen.at(static_cast<std::size_t>(seq));
                    if (++received == senders * per_sender) {
                        finished = true;
                        q.cancel(); // the other receivers are waiting: they end with aborted
                    }
                }
            },
            asio::detached);
    }
    for (int s = 0; s < senders; ++s) {
        asio::co_spawn(
            ctx,
            [&, s]() -> asio::awaitable<void> {
                for (int i = 0; i < per_sender; ++i) {
                    const std::string text = std::to_string(s * per_sender + i);
                    co_await q.async_send(cbuf(text), 0, asio::use_awaitable);
                }
            },
            asio::detached);
    }
    BOOST_TEST(run_until(
        ctx, [&] { return received == senders * per_sender; }, 60s));
    ctx.restart();
    ctx.run_for(5s); // the cancelled receivers finish
    BOOST_TEST(ctx.stopped());
    for (int v : seen) BOOST_TEST(v == 1);
    BOOST_TEST(depth(n.str()) == 0);
}

// ---- cancellation ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(per_operation_cancellation_of_a_waiting_receive, B, backends) {
    for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial,
                      asio::cancellation_type::total}) {
        BOOST_TEST_CONTEXT("type " << static_cast<int>(type)) {
            named n(object_kind::message_queue, "cancr");
            asio::io_context ctx;
            pipc::async_message_queue q(ctx, n, create_opts(), B::value);
            asio::cancellation_signal sig;
            std::array<char, 128> buf{};
            std::optional<error_code> result;
            q.async_receive(asio::buffer(buf), asio::bind_cancellation_slot(
                                                   sig.slot(), [&](error_code ec, std::size_t,
                                                                   unsigned) { result = ec; }));
            ctx.poll(); // now waiting
            BOOST_TEST(!result);
            sig.emit(type);
            BOOST_TEST(run_until(ctx, [&] { return result.has_value(); }));
            BOOST_TEST(*result == asio::error::operation_aborted);
            // Cancel, then send: the message is still queued for the next receiver.
            q.send(bytes("still here"), 0);
            BOOST_TEST(depth(n.str()) == 1);
            const auto r = receive_as(flavour::callback, ctx, q, 128);
            BOOST_TEST(r.text == "still here");
        }
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(per_operation_cancellation_of_a_waiting_send, B, backends) {
    for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial,
                      asio::cancellation_type::total}) {
        BOOST_TEST_CONTEXT("type " << static_cast<int>(type)) {
            named n(object_kind::message_queue, "cancs");
            asio::io_context ctx;
            pipc::async_message_queue q(ctx, n, create_opts(1, 16), B::value);
            q.send(bytes("first"));
            asio::cancellation_signal sig;
            std::optional<error_code> result;
            q.async_send(
                cbuf("second"), 0,
                asio::bind_cancellation_slot(sig.slot(), [&](error_code ec) { result = ec; }));
            ctx.poll();
            BOOST_TEST(!result);
            sig.emit(type);
            BOOST_TEST(run_until(ctx, [&] { return result.has_value(); }));
            BOOST_TEST(*result == asio::error::operation_aborted);
            BOOST_TEST(q.receive().text() == "first");
            BOOST_TEST(depth(n.str()) == 0); // "second" was never queued
        }
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(cancellation_after_the_message_moved_reports_success, B, backends) {
    named n(object_kind::message_queue, "late");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n, create_opts(), B::value);
    q.send(bytes("waiting"));
    asio::cancellation_signal rsig, ssig;
    std::optional<error_code> rres, sres;
    std::array<char, 128> buf{};
    std::size_t size = 0;
    q.async_receive(
        asio::buffer(buf),
        asio::bind_cancellation_slot(rsig.slot(), [&](error_code ec, std::size_t s, unsigned) {
            rres = ec;
            size = s;
        }));
    q.async_send(cbuf("room"), 0,
                 asio::bind_cancellation_slot(ssig.slot(), [&](error_code ec) { sres = ec; }));
    // Both took effect at initiation (message available / room available); cancelling now
    // cannot undo that, so both report success.
    rsig.emit(asio::cancellation_type::total);
    ssig.emit(asio::cancellation_type::total);
    q.cancel();
    BOOST_TEST(run_until(ctx, [&] { return rres && sres; }));
    BOOST_TEST(!*rres);
    BOOST_TEST(std::string_view(buf.data(), size) == "waiting");
    BOOST_TEST(!*sres);
    BOOST_TEST(q.receive().text() == "room");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(cancel_close_and_destruction_abort_pending_operations, B, backends) {
    named n(object_kind::message_queue, "abort");
    asio::io_context ctx;
    pipc::message_queue probe(n.str(), create_opts(1, 16));
    for (int how = 0; how < 3; ++how) {
        BOOST_TEST_CONTEXT("how " << how << " (0 cancel, 1 close, 2 destroy)") {
            // A send waiting for room.
            auto s =
                std::make_unique<pipc::async_message_queue>(ctx, n, create_opts(1, 16), B::value);
            s->send(bytes("full"));
            std::optional<error_code> sres;
            s->async_send(cbuf("never"), 0, [&](error_code ec) { sres = ec; });
            ctx.restart();
            ctx.poll();
            BOOST_TEST(!sres);
            if (how == 0) s->cancel();
            if (how == 1) s->close();
            if (how == 2) s.reset();
            BOOST_TEST(run_until(ctx, [&] { return sres.has_value(); }));
            BOOST_TEST(*sres == asio::error::operation_aborted);
            BOOST_TEST(probe.current_messages() == 1);
            BOOST_TEST(probe.receive().text() == "full"); // "never" was not queued

            // A receive waiting for a message.
            auto r =
                std::make_unique<pipc::async_message_queue>(ctx, n, create_opts(1, 16), B::value);
            std::array<char, 16> buf{};
            std::optional<error_code> rres;
            r->async_receive(asio::buffer(buf),
                             [&](error_code ec, std::size_t, unsigned) { rres = ec; });
            ctx.restart();
            ctx.poll();
            BOOST_TEST(!rres);
            if (how == 0) r->cancel();
            if (how == 1) r->close();
            if (how == 2) r.reset();
            BOOST_TEST(run_until(ctx, [&] { return rres.has_value(); }));
            BOOST_TEST(*rres == asio::error::operation_aborted);
            probe.send(bytes("after"));
            BOOST_TEST(probe.current_messages() == 1); // the aborted receive takes nothing
            BOOST_TEST(probe.receive().text() == "after");
            if (how == 0) { // a cancelled object stays usable
                bool got = false;
                r->async_receive(asio::buffer(buf), [&](error_code ec, std::size_t n2, unsigned) {
                    BOOST_TEST(!ec);
                    BOOST_TEST(std::string_view(buf.data(), n2) == "usable");
                    got = true;
                });
                probe.send(bytes("usable"));
                BOOST_TEST(run_until(ctx, [&] { return got; }));
            }
        }
    }
}

// The message is already in the queue (the descriptor or the notification socket is ready) when
// cancellation arrives, before the operation has taken it: the operation must abort without
// dequeuing. (The narrower window P13 describes - wait completed, continuation not yet run - only
// opens when the continuation is queued behind other handlers, as on a multi-threaded
// io_context; the stress and threaded tests cover it.)
BOOST_AUTO_TEST_CASE_TEMPLATE(cancellation_after_arrival_before_dequeue_takes_nothing, B,
                              backends) {
    for (int how = 0; how < 4; ++how) { // 0: cancel(); 1..3: terminal, partial, total
        BOOST_TEST_CONTEXT("how " << how) {
            named n(object_kind::message_queue, "p13");
            asio::io_context ctx;
            pipc::async_message_queue q(ctx, n, create_opts(), B::value);
            pipc::message_queue other(n.str());
            asio::cancellation_signal sig;
            std::array<char, 128> buf{};
            std::optional<error_code> result;
            q.async_receive(asio::buffer(buf), asio::bind_cancellation_slot(
                                                   sig.slot(), [&](error_code ec, std::size_t,
                                                                   unsigned) { result = ec; }));
            bool cancel_ran = false;
            asio::post(ctx, [&] {
                cancel_ran = true;
                BOOST_TEST(!result); // the receive's continuation has not run yet
                if (how == 0) q.cancel();
                if (how == 1) sig.emit(asio::cancellation_type::terminal);
                if (how == 2) sig.emit(asio::cancellation_type::partial);
                if (how == 3) sig.emit(asio::cancellation_type::total);
            });
            other.send(bytes("must stay"));
            BOOST_TEST(run_until(ctx, [&] { return result.has_value(); }));
            BOOST_TEST(cancel_ran);
            BOOST_TEST(*result == asio::error::operation_aborted);
            BOOST_TEST(other.current_messages() == 1);
            BOOST_TEST(other.receive().text() == "must stay");
        }
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(parallel_group_loser_loses_no_message, B, backends) {
    named n(object_kind::message_queue, "group");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n, create_opts(), B::value);
    asio::steady_timer timer(ctx, 10ms);
    std::array<char, 128> buf{};
    bool done = false;
    asio::experimental::make_parallel_group(q.async_receive(asio::buffer(buf), asio::deferred),
                                            timer.async_wait(asio::deferred))
        .async_wait(
            asio::experimental::wait_for_one(),
            [&](std::array<std::size_t, 2>, error_code rec, std::size_t, unsigned, error_code tec) {
                BOOST_TEST(rec == asio::error::operation_aborted);
                BOOST_TEST(!tec);
                done = true;
            });
    BOOST_TEST(run_until(ctx, [&] { return done; }));
    q.send(bytes("later"));
    BOOST_TEST(q.receive().text() == "later");
}

// ---- object management -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(move_release_assign_and_native_handle, B, backends) {
    named n(object_kind::message_queue, "move");
    asio::io_context ctx;
    pipc::message_queue core(n.str(), create_opts());
    const auto fd = core.native_handle();
    pipc::async_message_queue q(ctx.get_executor(), std::move(core), B::value);
    BOOST_TEST(q.is_open());
    BOOST_TEST(q.native_handle() == fd);
    BOOST_TEST(q.core().name() == n.str());
    BOOST_TEST(q.core().blocking()); // the descriptor backend left O_NONBLOCK as it found it

    // A pending receive survives moving the object.
    std::array<char, 128> buf{};
    std::optional<error_code> res;
    std::size_t size = 0;
    q.async_receive(asio::buffer(buf), [&](error_code ec, std::size_t s, unsigned) {
        res = ec;
        size = s;
    });
    ctx.poll();
    pipc::async_message_queue moved(std::move(q));
    BOOST_TEST(!q.is_open());
    BOOST_TEST(moved.native_handle() == fd);
    moved.send(bytes("to the moved object"));
    BOOST_TEST(run_until(ctx, [&] { return res.has_value(); }));
    BOOST_TEST(!*res);
    BOOST_TEST(std::string_view(buf.data(), size) == "to the moved object");
#if !defined(PIPC_ASIO_PUBLIC_REACTOR_PATH) // Asio's waits set O_NONBLOCK until release()
    BOOST_TEST(moved.core().blocking());
#endif

    // release() hands back the open core queue; the object is closed.
    pipc::message_queue back = moved.release();
    BOOST_TEST(!moved.is_open());
    BOOST_TEST(back.is_open());
    BOOST_TEST(back.native_handle() == fd);
    BOOST_TEST(back.blocking()); // as the object found it
    back.send(bytes("still open"));
    BOOST_TEST(back.receive().text() == "still open");

    // Converting move: a queue on a strand executor becomes a queue on any_io_executor.
    pipc::basic_async_message_queue<asio::strand<asio::io_context::executor_type>> on_strand(
        asio::make_strand(ctx), std::move(back), B::value);
    BOOST_TEST(on_strand.is_open());
    pipc::async_message_queue converted(std::move(on_strand));
    BOOST_TEST(!on_strand.is_open());
    BOOST_TEST(converted.is_open());
    BOOST_TEST((converted.backend() == B::value));
    bool done = false;
    converted.async_send(cbuf("converted"), 0, [&](error_code ec) {
        BOOST_TEST(!ec);
        done = true;
    });
    BOOST_TEST(run_until(ctx, [&] { return done; }));
    BOOST_TEST(converted.receive().text() == "converted");
    converted.close();
    BOOST_TEST(!converted.is_open());
    converted.close(); // closing twice does nothing
    BOOST_TEST(pipc_test::exists(object_kind::message_queue, n.str())); // never unlinks
}

BOOST_AUTO_TEST_CASE(blocking_calls_are_forwarded) {
    named n(object_kind::message_queue, "fwd");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, pipc::unique_name, create_opts(2, 16));
    const std::string name = q.core().name();
    BOOST_TEST(q.core().created());
    error_code ec;
    BOOST_TEST(q.try_send(bytes("a"), 1));
    BOOST_TEST(q.try_send(bytes("b"), 0, ec));
    BOOST_TEST(!q.try_send(bytes("c"), 0, ec)); // full, not an error
    BOOST_TEST(!ec);
    BOOST_TEST(!q.send_for(bytes("c"), 1ms, 0));
    BOOST_TEST(q.current_messages() == 2);
    BOOST_TEST(q.attributes().max_messages == 2);
    std::array<std::byte, 16> buf{};
    auto r = q.try_receive(std::span(buf));
    BOOST_TEST(r.has_value());
    BOOST_TEST(r->priority == 1u);
    r = q.receive_for(std::span(buf), 1s);
    BOOST_TEST(r.has_value());
    r = q.receive_for(std::span(buf), 1ms);
    BOOST_TEST(!r.has_value());
    BOOST_CHECK_THROW(q.send(bytes(std::string(17, 'x'))), pipc::error);
    q.unlink();
    BOOST_TEST(!pipc_test::exists(object_kind::message_queue, name));
    pipc::async_message_queue closed(ctx);
    closed.send(bytes("x"), 0, ec);
    BOOST_TEST(ec == pipc::errc::closed);
    BOOST_CHECK_THROW(closed.receive(), pipc::existential_error);
    BOOST_CHECK_THROW(pipc::async_message_queue(ctx, "no slash"), pipc::error);
    BOOST_CHECK_THROW(pipc::async_message_queue(ctx, n), pipc::existential_error); // missing
}

// ---- io_context destroyed with operations pending (ASan: no leak, no use after free) ----------

BOOST_AUTO_TEST_CASE_TEMPLATE(io_context_destroyed_with_operations_pending, B, backends) {
    named n(object_kind::message_queue, "dtor");
    {
        // The queue object lives in the coroutine frame: destroying the context destroys the
        // frame, and with it the object, while its receive is pending in the reactor.
        auto ctx = std::make_unique<asio::io_context>();
        asio::co_spawn(
            *ctx,
            [&]() -> asio::awaitable<void> {
                pipc::async_message_queue q(co_await asio::this_coro::executor, n,
                                            create_opts(1, 16), B::value);
                q.send(bytes("fill"));
                std::array<char, 16> buf{};
                co_await q.async_receive(asio::buffer(buf), asio::use_awaitable);
                auto pending_send = q.async_send(cbuf("waits for room"), 0, asio::use_awaitable);
                q.send(bytes("refill"));
                co_await std::move(pending_send); // never finishes: the queue stays full
            },
            asio::detached);
        ctx->poll(); // runs the coroutine up to its send, which waits for room
        BOOST_TEST(!ctx->stopped());
        ctx.reset();
    }
    {
        // Handlers with work queued (a posted immediate completion) and waits, object first.
        auto ctx = std::make_unique<asio::io_context>();
        auto q = std::make_unique<pipc::async_message_queue>(*ctx, n, create_opts(1, 16), B::value);
        std::array<char, 16> buf{};
        int called = 0;
        q->async_receive(asio::buffer(buf), [&](error_code, std::size_t, unsigned) { ++called; });
        q->async_send(cbuf("posted"), 0, [&](error_code) { ++called; });
        q.reset();
        ctx.reset(); // handlers destroyed without being called
        BOOST_TEST(called == 0);
    }
    pipc::message_queue probe(n.str());
    BOOST_TEST(probe.current_messages() <= 1);
}

// ---- across processes ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(request_reply_across_processes, B, backends) {
    named requests(object_kind::message_queue, "req"), replies(object_kind::message_queue, "rep");
    { pipc::message_queue a(requests.str(), create_opts()), b(replies.str(), create_opts()); }
    constexpr int rounds = 200;
    pipc_test::handshake ready;
    pipc_test::child_process child([&] {
        asio::io_context ctx;
        auto ro = create_opts();
        ro.access = pipc::access::read_only;
        auto wo = create_opts();
        wo.access = pipc::access::write_only;
        pipc::async_message_queue in(ctx, requests, ro, B::value), out(ctx, replies, wo, B::value);
        bool ok = true;
        asio::co_spawn(
            ctx,
            [&]() -> asio::awaitable<void> {
                for (int i = 0; i < rounds; ++i) {
                    auto m = co_await in.async_receive_message(asio::use_awaitable);
                    ok = ok && m.text() == "ping " + std::to_string(i);
                    const std::string reply = "pong " + std::to_string(i);
                    co_await out.async_send(cbuf(reply), m.priority, asio::use_awaitable);
                }
            },
            [&](std::exception_ptr e) { ok = ok && !e; });
        ready.signal();
        BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
        return ok;
    });
    ready.wait();
    asio::io_context ctx;
    auto ro = create_opts();
    ro.access = pipc::access::read_only;
    auto wo = create_opts();
    wo.access = pipc::access::write_only;
    pipc::async_message_queue out(ctx, requests, wo, B::value), in(ctx, replies, ro, B::value);
    int good = 0;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            for (int i = 0; i < rounds; ++i) {
                const std::string req = "ping " + std::to_string(i);
                co_await out.async_send(cbuf(req), static_cast<unsigned>(i % 5),
                                        asio::use_awaitable);
                auto m = co_await in.async_receive_message(asio::use_awaitable);
                if (m.text() == "pong " + std::to_string(i) &&
                    m.priority == static_cast<unsigned>(i % 5))
                    ++good;
            }
        },
        asio::detached);
    BOOST_TEST(run_until(
        ctx, [&] { return good == rounds; }, 60s));
    BOOST_TEST(child.succeeded());
}

// ---- notify backend specifics
// ---------------------------------------------------------------------

namespace {
// Registers the calling process for notification of `name` with SIGEV_NONE (no signal at all),
// the cheapest way to hold the one registration the kernel allows per queue.
bool hold_registration(const std::string& name, pipc::message_queue& q) {
    q.open(name, pipc::message_queue::options{});
    ::sigevent sev{};
    sev.sigev_notify = SIGEV_NONE;
    return ::mq_notify(q.native_handle(), &sev) == 0;
}
} // namespace

BOOST_AUTO_TEST_CASE(notify_backend_reports_busy_when_another_process_is_registered) {
    named n(object_kind::message_queue, "busy");
    { pipc::message_queue create(n.str(), create_opts()); }
    pipc_test::handshake registered, release;
    pipc_test::child_process child([&] {
        pipc::message_queue q;
        if (!hold_registration(n.str(), q)) return false;
        registered.signal();
        release.wait();
        return true;
    });
    BOOST_TEST(registered.wait() == '!');
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n, create_opts(), mq_backend::notify);
    for (auto f : {flavour::callback, flavour::coroutine}) {
        const auto r = receive_as(f, ctx, q, 128);
        BOOST_TEST(r.ec == boost::system::errc::device_or_resource_busy);
        BOOST_TEST((r.ec == pipc::condition::busy));
        BOOST_TEST(!r.completed_inline);
    }
    // A waiting message is still received: only waiting needs the registration.
    q.send(bytes("no wait needed"));
    BOOST_TEST(receive_as(flavour::callback, ctx, q, 128).text == "no wait needed");
    // The descriptor backend does not care.
    pipc::async_message_queue d(ctx, n, create_opts(), mq_backend::descriptor);
    bool done = false;
    std::array<char, 128> buf{};
    d.async_receive(asio::buffer(buf), [&](error_code ec, std::size_t, unsigned) {
        BOOST_TEST(!ec);
        done = true;
    });
    q.send(bytes("x"));
    BOOST_TEST(run_until(ctx, [&] { return done; }));
    release.signal();
    BOOST_TEST(child.succeeded());
    // The registration died with the child: waiting works again.
    bool got = false;
    q.async_receive(asio::buffer(buf), [&](error_code ec, std::size_t, unsigned) {
        BOOST_TEST(!ec);
        got = true;
    });
    ctx.restart();
    ctx.poll();
    BOOST_TEST(!got);
    pipc::message_queue(n.str()).send(bytes("y"));
    BOOST_TEST(run_until(ctx, [&] { return got; }));
}

BOOST_AUTO_TEST_CASE(notify_backend_survives_losing_its_registration) {
    // Closing any descriptor of the queue in this process removes the registration (the
    // kernel's mqueue_flush_file); the backend hears the removal and registers again.
    named n(object_kind::message_queue, "rearm");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n, create_opts(), mq_backend::notify);
    std::array<char, 128> buf{};
    std::optional<error_code> res;
    q.async_receive(asio::buffer(buf), [&](error_code ec, std::size_t, unsigned) { res = ec; });
    ctx.poll();
    BOOST_TEST(!res);
    {
        pipc::message_queue other(n.str()); // opened and closed: drops our registration
    }
    ctx.poll();
    BOOST_TEST(!res);
    pipc_test::child_process child([&] {
        pipc::message_queue(n.str()).send(bytes("from child"));
        return true;
    });
    BOOST_TEST(child.succeeded());
    BOOST_TEST(run_until(ctx, [&] { return res.has_value(); }));
    BOOST_TEST(!*res);
}

BOOST_AUTO_TEST_CASE(notify_backend_uses_no_thread) {
    named n(object_kind::message_queue, "nothread");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n, create_opts(), mq_backend::notify);
    auto threads = [] {
        std::size_t count = 0;
        if (DIR* d = ::opendir("/proc/self/task")) {
            while (auto* e = ::readdir(d))
                if (e->d_name[0] != '.') ++count;
            ::closedir(d);
        }
        return count;
    };
    const auto before = threads();
    for (int i = 0; i < 20; ++i) {
        bool got = false;
        std::array<char, 128> buf{};
        q.async_receive(asio::buffer(buf), [&](error_code ec, std::size_t, unsigned) {
            BOOST_TEST(!ec);
            got = true;
        });
        ctx.restart();
        ctx.poll();
        pipc::message_queue sender(n.str());
        sender.send(bytes("n"));
        BOOST_TEST(run_until(ctx, [&] { return got; }));
    }
    BOOST_TEST(threads() == before);
}

// ---- open sets matching the core ------------------------------------------------------------

BOOST_AUTO_TEST_CASE(open_with_an_error_code_needs_no_backend) {
    named n(object_kind::message_queue, "open");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx);
    error_code ec;
    pipc::message_queue::options existing; // open_existing
    q.open(n.str(), existing, ec);
    BOOST_TEST((ec == pipc::condition::existential));
    BOOST_TEST(!q.is_open());
    q.open("no-leading-slash", create_opts(), ec); // bad name: nothing created
    BOOST_TEST(ec);
    BOOST_TEST(!q.is_open());
    BOOST_TEST(!pipc_test::exists(object_kind::message_queue, "/no-leading-slash"));

    q.open(n.str(), create_opts(), ec);
    BOOST_TEST(!ec);
    BOOST_TEST(q.is_open());
    BOOST_TEST((q.backend() == mq_backend::descriptor));
    BOOST_TEST(q.core().name() == n.str());

    // A failing open leaves the object as it was: still open on its queue.
    q.open(
        n.str(),
        [] {
            auto o = create_opts();
            o.open = pipc::open_mode::create_exclusive;
            return o;
        }(),
        ec);
    BOOST_TEST((ec == pipc::condition::existential));
    BOOST_TEST(q.is_open());
    BOOST_TEST(q.core().name() == n.str());

    pipc::async_message_queue u(ctx);
    u.open(pipc::unique_name, create_opts(), ec);
    BOOST_TEST(!ec);
    BOOST_TEST(u.is_open());
    BOOST_TEST(u.core().name().starts_with("/"));
    u.unlink();
    pipc::message_queue::unlink(n.str());
}

// core() on a closed object: a closed pipc::message_queue whose calls report errc::closed.
BOOST_AUTO_TEST_CASE(core_of_a_closed_object_is_a_closed_queue) {
    asio::io_context ctx;
    pipc::async_message_queue q(ctx);
    BOOST_TEST(!q.core().is_open());
    BOOST_TEST(q.core().name().empty());
    error_code ec;
    (void)q.core().attributes(ec);
    BOOST_TEST(ec == pipc::errc::closed);
    BOOST_CHECK_THROW((void)q.core().attributes(), pipc::error);
}
