// SPDX-License-Identifier: BSL-1.0
// pipc/asio/async_semaphore.hpp at scale: 1,024 semaphores with waiters in one io_context, woken
// from another process, with cancellations racing the posts. Runs on the futex_waitv helpers
// and, as asio_async_semaphore_fanout_fallback (PIPC_SEMAPHORE_WAITV=0), on the fallback ones.
#define BOOST_TEST_MODULE asio_async_semaphore_fanout
#include <boost/test/unit_test.hpp>

#include "async_semaphore_support.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <thread>
#include <vector>

using namespace sem_test;
using pipc::object_kind;

namespace {

constexpr int fanout = 1024;

pipc::semaphore_waiter_service& service(asio::io_context& ctx) {
    return asio::use_service<pipc::semaphore_waiter_service>(ctx);
}

/// `n` fresh named semaphores, created (value 0) before any fork so a child can open them.
struct semaphore_set {
    std::vector<std::unique_ptr<pipc_test::named>> names;
    std::vector<pipc::semaphore> creators;
    explicit semaphore_set(int n) {
        for (int i = 0; i < n; ++i) {
            names.push_back(std::make_unique<pipc_test::named>(object_kind::semaphore, "fan"));
            creators.emplace_back(*names.back(), create_opts(0));
        }
    }
};

/// The waiter count glibc keeps in the high half of a sem_t's first 64-bit word (what sem_post
/// looks at to decide whether to wake someone).
std::uint32_t glibc_waiters(::sem_t* sem) {
    return static_cast<std::uint32_t>(
        std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(sem)).load() >> 32);
}

/// A child that, per round, waits for `go`, posts every semaphore once in a random order (a
/// different permutation each round) and reports `posted`.
pipc_test::child_process start_poster(const semaphore_set& set, int rounds,
                                      const pipc_test::handshake& go,
                                      const pipc_test::handshake& posted) {
    return pipc_test::child_process(
        [&set, rounds, &go, &posted] {
            std::vector<pipc::semaphore> sems;
            for (const auto& n : set.names) sems.emplace_back(*n);
            std::vector<int> order(sems.size());
            std::iota(order.begin(), order.end(), 0);
            std::mt19937 rng(12345);
            for (int r = 0; r < rounds; ++r) {
                go.wait(std::chrono::seconds(120));
                std::shuffle(order.begin(), order.end(), rng);
                for (int i : order) sems[std::size_t(i)].release();
                posted.signal();
            }
            return true;
        },
        300);
}

} // namespace

BOOST_AUTO_TEST_CASE(thousand_semaphores_each_woken_once_per_post_from_another_process) {
    constexpr int rounds = 3;
    semaphore_set set(fanout);
    pipc_test::handshake go, posted;
    auto child = start_poster(set, rounds, go, posted); // before any helper thread exists

    asio::io_context ctx;
    service(ctx).configure({.slice = std::chrono::milliseconds(5)});
    std::vector<std::unique_ptr<pipc::async_semaphore>> objs;
    for (const auto& n : set.names)
        objs.push_back(std::make_unique<pipc::async_semaphore>(ctx, *n));
    std::vector<int> woken(fanout, 0);
    int total = 0;
    bool failed = false;
    // Each completion re-arms its semaphore, so every semaphore always has a waiter.
    std::function<void(int)> arm = [&](int i) {
        objs[std::size_t(i)]->async_acquire([&, i](error_code ec) {
            if (ec) {
                if (ec != asio::error::operation_aborted) failed = true;
                return;
            }
            ++woken[std::size_t(i)];
            ++total;
            arm(i);
        });
    };
    for (int i = 0; i < fanout; ++i) arm(i);
    ctx.poll();
    BOOST_TEST(total == 0);
    const std::size_t threads = service(ctx).thread_count();
    const auto cfg = service(ctx).configuration();
    if (service(ctx).uses_futex_waitv()) // per_thread semaphores per helper, not one each
        BOOST_TEST(threads == (std::size_t(fanout) + cfg.per_thread - 1) / cfg.per_thread);
    else
        BOOST_TEST(threads == cfg.max_threads); // the fallback's cap; the rest take turns

    for (int r = 1; r <= rounds; ++r) {
        BOOST_TEST_CONTEXT("round " << r) {
            go.signal();
            BOOST_TEST(run_until(
                ctx, [&] { return total >= fanout * r || failed; }, std::chrono::seconds(120)));
            (void)posted.wait(std::chrono::seconds(60));
            ctx.restart();
            ctx.poll(); // a second wake-up for anyone would show here
            BOOST_TEST(!failed);
            BOOST_TEST(total == fanout * r);
            int wrong = 0;
            for (int i = 0; i < fanout; ++i)
                if (woken[std::size_t(i)] != r || objs[std::size_t(i)]->value() != 0) ++wrong;
            BOOST_TEST(wrong == 0); // each exactly once per post, no unit left over
        }
    }
    BOOST_TEST(child.succeeded());
    objs.clear(); // cancels the re-armed waits
    ctx.restart();
    ctx.poll();
    BOOST_TEST(!failed);
    for (auto& c : set.creators) BOOST_TEST(c.value() == 0);
}

BOOST_AUTO_TEST_CASE(cancellation_races_posts_on_a_thousand_semaphores) {
    // Per semaphore and round: a cancellable acquire A, a plain acquire B behind it, one post
    // from the child, and a cancellation of A (terminal, partial or total) racing that post.
    // Whatever wins, exactly one of A and B gets the unit and none is left in the semaphore.
    const int rounds = int(std::max(1L, scaled(4)));
    semaphore_set set(fanout);
    pipc_test::handshake go, posted;
    auto child = start_poster(set, rounds, go, posted);

    asio::io_context ctx;
    service(ctx).configure({.slice = std::chrono::milliseconds(5)});
    std::vector<std::unique_ptr<pipc::async_semaphore>> objs;
    for (const auto& n : set.names)
        objs.push_back(std::make_unique<pipc::async_semaphore>(ctx, *n));
    // The child's permutations: cancelling in the order it posts keeps each cancellation close
    // to its post, so both outcomes happen.
    std::mt19937 rng(12345);
    std::vector<int> order(fanout);
    std::iota(order.begin(), order.end(), 0);
    using ct = asio::cancellation_type;
    const ct types[] = {ct::terminal, ct::partial, ct::total};
    long a_won = 0, a_aborted = 0;

    for (int r = 0; r < rounds; ++r) {
        BOOST_TEST_CONTEXT("round " << r) {
            std::vector<asio::cancellation_signal> signals(fanout);
            std::vector<int> a_result(fanout, -1), b_result(fanout, -1);
            auto record = [](std::vector<int>& v, int i) {
                return [&v, i](error_code ec) { v[std::size_t(i)] = ec ? ec.value() : 0; };
            };
            for (int i = 0; i < fanout; ++i) {
                auto& o = *objs[std::size_t(i)];
                o.async_acquire(asio::bind_cancellation_slot(signals[std::size_t(i)].slot(),
                                                             record(a_result, i)));
                o.async_acquire(record(b_result, i));
            }
            ctx.restart();
            ctx.poll();
            std::shuffle(order.begin(), order.end(), rng);
            go.signal(); // the child posts while we cancel
            int k = 0;
            for (int i : order) {
                signals[std::size_t(i)].emit(types[(i + r) % 3]);
                if (++k % 16 == 0) {
                    ctx.restart();
                    ctx.poll(); // let completions (and the helpers) interleave with the posts
                }
            }
            (void)posted.wait(std::chrono::seconds(60));
            // Every post has landed; A settles at once, B gets the unit if A did not.
            auto one_winner = [&](int i) {
                const int a = a_result[std::size_t(i)], b = b_result[std::size_t(i)];
                return a == 0 ? b == -1 : (a != -1 && b == 0);
            };
            BOOST_TEST(run_until(
                ctx,
                [&] {
                    for (int i = 0; i < fanout; ++i)
                        if (!one_winner(i)) return false;
                    return true;
                },
                std::chrono::seconds(120)));
            int wrong = 0;
            for (int i = 0; i < fanout; ++i) {
                const int a = a_result[std::size_t(i)];
                if (a == 0)
                    ++a_won;
                else if (a == asio::error::operation_aborted)
                    ++a_aborted;
                else
                    ++wrong; // only success or operation_aborted are allowed
                if (!one_winner(i) || objs[std::size_t(i)]->value() != 0) ++wrong;
            }
            BOOST_TEST(wrong == 0);
            // Cancel the B acquires that are still queued (where A won): aborted, no unit.
            for (auto& o : objs) o->cancel();
            BOOST_TEST(run_until(ctx, [&] {
                for (int i = 0; i < fanout; ++i)
                    if (b_result[std::size_t(i)] == -1) return false;
                return true;
            }));
            for (auto& o : objs) BOOST_TEST_REQUIRE(o->value() == 0);
        }
    }
    BOOST_TEST_MESSAGE("cancellation lost the race " << a_won << " times, won " << a_aborted);
    BOOST_TEST(a_won + a_aborted == long(fanout) * rounds);
    BOOST_TEST(child.succeeded());
}

BOOST_AUTO_TEST_CASE(helpers_leave_no_registration_and_pass_on_a_wake) {
    // A thread blocked in sem_wait and an async acquire on the same semaphore, both asleep on
    // its futex word (the helper first). One unit is posted and the async acquire cancelled at
    // once: if the kernel's wake went to the helper and the cancellation won, the helper must
    // pass the wake on to the blocked thread. Exactly one of them gets the unit. Afterwards no
    // waiter is left registered in the sem_t.
    pipc_test::named name(object_kind::semaphore);
    pipc::semaphore raw(name, create_opts(0));
    auto waiters_reach = [&](std::uint32_t n) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (glibc_waiters(raw.native_handle()) != n)
            if (std::chrono::steady_clock::now() > until)
                return false;
            else
                std::this_thread::yield();
        return true;
    };
    int async_won = 0, thread_won = 0;
    for (int round = 0; round < 50; ++round) {
        asio::io_context ctx;
        pipc::async_semaphore s(ctx, name);
        std::optional<error_code> async_result;
        s.async_acquire([&](error_code ec) { async_result = ec; });
        ctx.poll();
        BOOST_TEST_REQUIRE(waiters_reach(1)); // the helper is registered
        std::atomic<bool> got{false};
        std::thread blocked([&] { got = raw.try_acquire_for(std::chrono::seconds(5)); });
        BOOST_TEST_REQUIRE(waiters_reach(2)); // and the thread too
        raw.release();
        s.cancel();
        BOOST_TEST(run_until(ctx, [&] { return async_result.has_value(); }));
        if (!*async_result) {
            ++async_won; // the helper took the unit before the cancellation: free the thread
            raw.release();
        } else {
            BOOST_TEST_REQUIRE(*async_result == asio::error::operation_aborted);
            ++thread_won;
        }
        blocked.join();
        BOOST_TEST_REQUIRE(got.load()); // a lost wake-up leaves it asleep until its timeout
        s.close();
        ctx.restart();
        ctx.poll();
    } // each io_context (and its helpers) is gone here
    BOOST_TEST_MESSAGE("async acquire won " << async_won << ", blocked thread " << thread_won);
    BOOST_TEST(raw.value() == 0);
    BOOST_TEST(glibc_waiters(raw.native_handle()) == 0u);
}
