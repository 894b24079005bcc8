// SPDX-License-Identifier: BSL-1.0
// Tests of pipc/asio/detail/immediate_completion.hpp: an operation that completes at once honours
// the handler's associated immediate executor as Asio's own objects do (Boost >= 1.82), and is
// posted otherwise, for the message queue, the semaphore and the channel; a coroutine awaiting
// it (use_awaitable, or a deferred operation) is resumed from a trampoline instead.
#define BOOST_TEST_MODULE asio_immediate_completion
#include <boost/test/unit_test.hpp>

#include "async_channel_support.hpp"
#include "async_message_queue_support.hpp"

#include <pipc/asio/async_channel.hpp>
#include <pipc/asio/async_semaphore.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#if defined(PIPC_ASIO_HAS_IMMEDIATE_EXECUTOR)
#include <boost/asio/bind_immediate_executor.hpp>
#endif

#include <array>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

using namespace mq_test;
using pipc::object_kind;
using pipc_test::named;

namespace {

/// Runs `body` as a handler of `ctx` (so that a dispatch to ctx's executor may run inline) and
/// then the context until `done`.
template <class Body, class Pred>
bool run_inside(asio::io_context& ctx, Body body, Pred done) {
    bool ran = false;
    asio::post(ctx, [&] {
        body();
        ran = true;
    });
    return run_until(ctx, [&] { return ran && done(); });
}

} // namespace

// Whatever the Boost version: a plain callback is never called inside the initiating function.
BOOST_AUTO_TEST_CASE_TEMPLATE(plain_handlers_are_posted, B, backends) {
    named n(object_kind::message_queue, "imm");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n.str(), create_opts(), B::value);
    q.send(bytes("x"));
    std::array<char, 128> buf{};
    int calls = 0;
    bool inside = false;
    BOOST_TEST(run_inside(
        ctx,
        [&] {
            q.async_receive(asio::buffer(buf), [&](error_code ec, std::size_t, unsigned) {
                BOOST_TEST(!ec);
                ++calls;
            });
            q.async_send(cbuf("y"), [&](error_code ec) {
                BOOST_TEST(!ec);
                ++calls;
            });
            inside = calls != 0;
        },
        [&] { return calls == 2; }));
    BOOST_TEST(!inside);
    pipc::message_queue::unlink(n.str());
}

namespace {
/// The stack address of a frame called from the caller's frame (not inlined into it).
[[gnu::noinline]] std::uintptr_t stack_position() {
    return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
}

/// Runs `ctx` until `done` (at most 20 s, the watchdog); the number of handlers it ran, or -1
/// when the watchdog fired.
template <class Pred>
long run_counting(asio::io_context& ctx, Pred done) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    long handlers = 0;
    ctx.restart();
    while (!done()) {
        if (std::chrono::steady_clock::now() > until) return -1;
        handlers += static_cast<long>(ctx.run_one_for(std::chrono::milliseconds(50)));
        if (ctx.stopped()) ctx.restart();
    }
    return handlers;
}

/// The most scheduler handlers `ops` operations that all complete at once may take when their
/// coroutine is resumed from a trampoline: one post per 64 resumptions (twice that, for slack),
/// plus co_spawn's own. One post per operation is `ops` handlers.
constexpr long trampoline_handlers(long ops) {
    return 2 * ops / 64 + 8;
}

constexpr int immediate_loops = 2000;

/// A completion's value: the last element of an as_tuple result, or the value itself.
template <class T>
auto value_of(T&& result) {
    if constexpr (requires { std::tuple_size<std::decay_t<T>>::value; })
        return std::get<std::tuple_size_v<std::decay_t<T>> - 1>(std::forward<T>(result));
    else
        return std::forward<T>(result);
}

/// A coroutine sends and receives immediate_loops messages on one queue, awaiting each
/// operation (all complete at once) with `token`. It must be resumed from a trampoline: every
/// message (a heap-owning argument, moved through a stored resumption) intact, one scheduler
/// pass per 64 operations or so, and the loop body at a few stack positions only.
template <class Backend, class Token>
void check_trampoline_loops(const char* tag, Token token) {
    named n(object_kind::message_queue, tag);
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n.str(), create_opts(), Backend::value);
    std::set<std::uintptr_t> positions;
    int intact = 0;
    bool done = false;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            for (int i = 0; i < immediate_loops; ++i) {
                const std::string text = "m" + std::to_string(i);
                co_await q.async_send(cbuf(text), 0, token);
                pipc::message m = value_of(co_await q.async_receive_message(token));
                if (m.text() == text) ++intact;
                positions.insert(stack_position());
            }
            done = true;
        },
        asio::detached);
    const long handlers = run_counting(ctx, [&] { return done; });
    BOOST_TEST(handlers >= 0);
    BOOST_TEST(intact == immediate_loops);
    BOOST_TEST(handlers <= trampoline_handlers(2 * immediate_loops));
    // Nested resumptions put each operation of a run one frame deeper: 25 places in 2,000 loops
    // (17 KB apart) when measured so, with runs of 16. From the trampoline the loop body runs at
    // a few places, by which operation began the run (the scheduler, the first resumption, a
    // deferred one): 5.
    BOOST_TEST(positions.size() <= 8U);
    pipc::message_queue::unlink(n.str());
}
} // namespace

// A coroutine whose operations all complete at once is resumed from a trampoline, not from
// inside the previous resumption: the stack stays where it was.
BOOST_AUTO_TEST_CASE_TEMPLATE(direct_resumptions_keep_the_stack_flat, B, backends) {
    check_trampoline_loops<B>("flat", asio::use_awaitable);
}

namespace {

pipc::semaphore::options sem_opts(unsigned initial) {
    pipc::semaphore::options o;
    o.open = pipc::open_mode::create_exclusive;
    o.initial_value = initial;
    return o;
}

} // namespace

// `co_await op(deferred)` (and `co_await op()` where deferred is the default token): a coroutine
// whose operations all complete at once is resumed from a trampoline too, never from inside the
// initiation, and each operation is not one scheduler pass (2,000 loops posted are 4,000
// handlers; with each pass an epoll_wait, 2.9 us per pair instead of 0.16 when measured).
BOOST_AUTO_TEST_CASE_TEMPLATE(deferred_operations_resume_from_a_trampoline, B, backends) {
    check_trampoline_loops<B>("dfr", asio::deferred);
}

// The same under as_tuple, whose handler only packs the arguments for co_await's.
BOOST_AUTO_TEST_CASE_TEMPLATE(as_tuple_deferred_operations_resume_from_a_trampoline, B, backends) {
    check_trampoline_loops<B>("tpl", asio::as_tuple(asio::deferred));
}

// A resumption is stored for the running trampoline only when it resumes on the trampoline's own
// executor. One for another strand of the same io_context, reached inline through that strand's
// dispatch, runs inside that strand (nested at once, or posted to it), never later from the
// trampoline, outside the strand. (Compared by execution context, the first was stored and ran
// outside it.)
BOOST_AUTO_TEST_CASE(a_trampoline_runs_only_resumptions_of_its_own_executor) {
    namespace d = pipc::detail;
    asio::io_context ctx;
    const auto s1 = asio::make_strand(ctx);
    const auto s2 = asio::make_strand(ctx);
    int other_strand_runs = 0, inside_other_strand = 0;
    const auto on_s2 = [&] {
        ++other_strand_runs;
        if (s2.running_in_this_thread()) ++inside_other_strand;
    };
    bool outer_returned = false, same_ran = false, same_after_return = false, same_in_s1 = false;
    bool started = false;
    asio::post(s1, [&] {
        auto outer = asio::bind_executor(s1, [&] {
            asio::dispatch(s2, [&] {
                auto h = asio::bind_executor(s2, on_s2);
                d::resume_directly<d::direct_resumption::now>(ctx.get_executor(), h);
            });
            asio::dispatch(s2, [&] {
                auto h = asio::bind_executor(s2, on_s2);
                d::resume_directly<d::direct_resumption::after>(ctx.get_executor(), h);
            });
            auto same = asio::bind_executor(s1, [&] {
                same_ran = true;
                same_after_return = outer_returned;
                same_in_s1 = s1.running_in_this_thread();
            });
            d::resume_directly<d::direct_resumption::after>(ctx.get_executor(), same);
            outer_returned = true;
        });
        d::resume_directly<d::direct_resumption::now>(ctx.get_executor(), outer);
        started = true;
    });
    BOOST_TEST(run_until(ctx, [&] { return started && same_ran && other_strand_runs == 2; }));
    BOOST_TEST(inside_other_strand == 2);
    BOOST_TEST(same_after_return);
    BOOST_TEST(same_in_s1);
}

// A user's own initiation that invokes a deferred operation with the handler co_await gave it,
// and then does more: the coroutine resumes only after that initiation returned, both when no
// trampoline runs (the coroutine's first step: posted) and inside one (after an operation that
// completed at once: stored). A plain callback given to a deferred operation is posted.
BOOST_AUTO_TEST_CASE_TEMPLATE(deferred_operations_never_complete_inside_the_initiation, B,
                              backends) {
    named n(object_kind::message_queue, "dfi");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n.str(), create_opts(), B::value);
    std::array<bool, 3> returned_first{};
    bool done = false;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            for (bool& ok : returned_first) {
                bool returned = false;
                co_await asio::async_initiate<const asio::deferred_t, void(error_code)>(
                    [&](auto handler) {
                        q.async_send(cbuf("x"), 0, asio::deferred)(std::move(handler));
                        returned = true;
                    },
                    asio::deferred);
                ok = returned;
                co_await q.async_receive_message(asio::deferred);
            }
            done = true;
        },
        asio::detached);
    BOOST_TEST(run_until(ctx, [&] { return done; }));
    for (const bool ok : returned_first) BOOST_TEST(ok);

    bool called = false, inside = false;
    BOOST_TEST(run_inside(
        ctx,
        [&] {
            q.async_send(cbuf("y"), 0, asio::deferred)([&](error_code ec) { called = !ec; });
            inside = called;
        },
        [&] { return called; }));
    BOOST_TEST(!inside);
    BOOST_TEST(q.receive().text() == "y");
    pipc::message_queue::unlink(n.str());
}

// The semaphore and the channel take the same path.
BOOST_AUTO_TEST_CASE(deferred_acquires_and_channel_operations_resume_from_a_trampoline) {
    constexpr int loops = 2000;
    {
        named n(object_kind::semaphore, "dfs");
        asio::io_context ctx;
        pipc::async_semaphore sem(ctx, n.str(), sem_opts(1));
        int acquired = 0;
        bool done = false;
        asio::co_spawn(
            ctx,
            [&]() -> asio::awaitable<void> {
                for (int i = 0; i < loops; ++i) {
                    co_await sem.async_acquire(asio::deferred);
                    ++acquired;
                    sem.release();
                }
                done = true;
            },
            asio::detached);
        const long handlers = run_counting(ctx, [&] { return done; });
        BOOST_TEST(handlers >= 0);
        BOOST_TEST(acquired == loops);
        BOOST_TEST(handlers <= trampoline_handlers(loops));
        BOOST_TEST(sem.value() == 1);
        sem.unlink();
    }
    {
        channel_test::channel_name name("dfc");
        pipc::channel::options o;
        o.open = pipc::open_mode::create_exclusive;
        o.slot_count = 4;
        o.max_message_size = 64;
        asio::io_context ctx;
        pipc::async_channel tx(ctx, name, o);
        pipc::async_channel rx(ctx, name);
        int intact = 0;
        bool done = false, in_place = false;
        asio::co_spawn(
            ctx,
            [&]() -> asio::awaitable<void> {
                std::array<char, 64> buf{};
                for (int i = 0; i < loops; ++i) {
                    const std::string text = "c" + std::to_string(i);
                    co_await tx.async_send(cbuf(text), asio::deferred);
                    const std::size_t got =
                        co_await rx.async_receive(asio::buffer(buf), asio::deferred);
                    if (std::string_view(buf.data(), got) == text) ++intact;
                }
                // In place: the loan and the view (neither can be copied) reach the coroutine.
                pipc::channel_loan loan = co_await tx.async_loan(asio::deferred);
                std::memcpy(loan.buffer().data(), "in place", 8);
                loan.publish(8);
                pipc::channel_view view = co_await rx.async_receive_view(asio::deferred);
                in_place = std::string_view(reinterpret_cast<const char*>(view.data().data()),
                                            view.size()) == "in place";
                done = true;
            },
            asio::detached);
        const long handlers = run_counting(ctx, [&] { return done; });
        BOOST_TEST(handlers >= 0);
        BOOST_TEST(intact == loops);
        BOOST_TEST(in_place);
        BOOST_TEST(handlers <= trampoline_handlers(2 * loops + 2));
    }
}

// A deferred acquire that completed at once outside a trampoline is posted with its unit: an
// io_context destroyed before the post runs gives the unit back, as for a callback.
BOOST_AUTO_TEST_CASE(a_posted_deferred_acquire_gives_its_unit_back_when_dropped) {
    named n(object_kind::semaphore, "dfd");
    pipc::semaphore observer(n.str(), sem_opts(1));
    bool resumed = false;
    {
        asio::io_context ctx;
        pipc::async_semaphore sem(ctx, n.str());
        asio::co_spawn(
            ctx,
            [&]() -> asio::awaitable<void> {
                co_await sem.async_acquire(asio::deferred);
                resumed = true;
            },
            asio::detached);
        // Until the acquire took the unit: its completion is then posted, not yet run.
        for (int i = 0; i < 100 && observer.value() != 0; ++i)
            ctx.run_one_for(std::chrono::milliseconds(50));
        BOOST_TEST(observer.value() == 0);
        BOOST_TEST(!resumed);
    }
    BOOST_TEST(!resumed);
    BOOST_TEST(observer.value() == 1);
    observer.unlink();
}

#if defined(PIPC_ASIO_HAS_IMMEDIATE_EXECUTOR)

// bind_immediate_executor(ctx's executor, h) from inside ctx: Asio's own descriptors dispatch,
// so the handler runs inside the initiating call; every operation that completes at once does.
BOOST_AUTO_TEST_CASE_TEMPLATE(queue_honours_the_immediate_executor, B, backends) {
    named n(object_kind::message_queue, "imm");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n.str(), create_opts(10, 128), B::value);
    q.send(bytes("one"));
    q.send(bytes("two"));
    std::array<char, 128> buf{};
    bool received = false, got_message = false, sent = false, closed_error = false;
    bool all_inside = false;
    BOOST_TEST(run_inside(
        ctx,
        [&] {
            const auto ex = ctx.get_executor();
            q.async_receive(
                asio::buffer(buf),
                asio::bind_immediate_executor(ex, [&](error_code ec, std::size_t size, unsigned) {
                    received = !ec && std::string_view(buf.data(), size) == "one";
                }));
            q.async_receive_message(
                asio::bind_immediate_executor(ex, [&](error_code ec, pipc::message m) {
                    got_message = !ec && m.text() == "two";
                }));
            q.async_send(cbuf("three"), 1u,
                         asio::bind_immediate_executor(ex, [&](error_code ec) { sent = !ec; }));
            pipc::async_message_queue closed(ctx);
            closed.async_send(cbuf("x"), asio::bind_immediate_executor(ex, [&](error_code ec) {
                                  closed_error = ec == pipc::errc::closed;
                              }));
            all_inside = received && got_message && sent && closed_error;
        },
        [] { return true; }));
    BOOST_TEST(received);
    BOOST_TEST(got_message);
    BOOST_TEST(sent);
    BOOST_TEST(closed_error);
    BOOST_TEST(all_inside);
    BOOST_TEST(q.receive().text() == "three");
    pipc::message_queue::unlink(n.str());
}

// An operation that has to wait is not immediate: the immediate executor is not used for it.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_waiting_operation_ignores_the_immediate_executor, B, backends) {
    named n(object_kind::message_queue, "imm");
    asio::io_context ctx;
    pipc::async_message_queue q(ctx, n.str(), create_opts(), B::value);
    std::array<char, 128> buf{};
    bool received = false, inside = false;
    BOOST_TEST(run_inside(
        ctx,
        [&] {
            q.async_receive(asio::buffer(buf),
                            asio::bind_immediate_executor(
                                ctx.get_executor(),
                                [&](error_code ec, std::size_t, unsigned) { received = !ec; }));
            inside = received;
            q.send(bytes("later"));
        },
        [&] { return received; }));
    BOOST_TEST(!inside);
    pipc::message_queue::unlink(n.str());
}

BOOST_AUTO_TEST_CASE(semaphore_honours_the_immediate_executor) {
    named n(object_kind::semaphore, "imm");
    asio::io_context ctx;
    pipc::async_semaphore sem(ctx, n.str(), sem_opts(1));
    bool acquired = false, acquired_inside = false, timed_out = false, timed_out_inside = false;
    BOOST_TEST(run_inside(
        ctx,
        [&] {
            const auto ex = ctx.get_executor();
            sem.async_acquire(
                asio::bind_immediate_executor(ex, [&](error_code ec) { acquired = !ec; }));
            acquired_inside = acquired;
            // A zero timeout on a now-empty semaphore completes at once with a timeout.
            sem.async_acquire_for(std::chrono::seconds(0),
                                  asio::bind_immediate_executor(ex, [&](error_code ec) {
                                      timed_out = ec == pipc::condition::busy;
                                  }));
            timed_out_inside = timed_out;
        },
        [] { return true; }));
    BOOST_TEST(acquired);
    BOOST_TEST(acquired_inside);
    BOOST_TEST(timed_out);
    BOOST_TEST(timed_out_inside);
    BOOST_TEST(sem.value() == 0); // the unit went to the handler, and only one
    sem.unlink();
}

#else

BOOST_AUTO_TEST_CASE(immediate_executors_need_boost_1_82) {
    BOOST_TEST_MESSAGE("Asio " << BOOST_ASIO_VERSION
                               << " has no immediate executors: only the posting is tested");
}

#endif
