// SPDX-License-Identifier: BSL-1.0
// Tests of pipc/asio/async_semaphore.hpp and the semaphore_waiter_service behind it.
#define BOOST_TEST_MODULE asio_async_semaphore
#include <boost/test/unit_test.hpp>

#include "async_semaphore_support.hpp"
#include "sys.hpp"

#include <pipc_test/fault.hpp>
#include <pipc_test/work_release_executor.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

using namespace sem_test;
using pipc::object_kind;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

const error_code aborted = asio::error::operation_aborted;
const error_code timed_out(ETIMEDOUT, boost::system::system_category());

/// A callback that records its result and fails the test if invoked twice.
struct recorder {
    std::optional<error_code> result;
    int calls = 0;
    auto handler() {
        return [this](error_code ec) {
            ++calls;
            result = ec;
        };
    }
    bool done() const { return calls > 0; }
};

pipc::semaphore_waiter_service& service(asio::io_context& ctx) {
    return asio::use_service<pipc::semaphore_waiter_service>(ctx);
}

} // namespace

// ---------------------------------------------------------------------------------------------
// The four flavours of each operation.

BOOST_AUTO_TEST_CASE(acquire_four_flavours) {
    pipc_test::named name(object_kind::semaphore);
    asio::io_context ctx;
    pipc::async_semaphore s(ctx, name, create_opts(2));
    BOOST_TEST(s.is_open());
    BOOST_TEST(s.native_handle() != nullptr);

    // sync, throwing and error_code
    s.acquire();
    error_code ec;
    s.acquire(ec);
    BOOST_TEST(!ec);
    BOOST_TEST(s.value() == 0);

    // callback: not free, so a helper waits; the post comes from this thread
    recorder r;
    s.async_acquire(r.handler());
    ctx.poll();
    BOOST_TEST(!r.done());
    s.release();
    BOOST_TEST(run_until(ctx, [&] { return r.done(); }));
    BOOST_TEST(r.calls == 1);
    BOOST_TEST(!*r.result);
    BOOST_TEST(s.value() == 0);

    // coroutine
    bool acquired = false;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            co_await s.async_acquire(asio::use_awaitable);
            acquired = true;
        },
        asio::detached);
    ctx.restart();
    ctx.poll();
    BOOST_TEST(!acquired);
    s.release();
    BOOST_TEST(run_until(ctx, [&] { return acquired; }));
    BOOST_TEST(s.value() == 0);
}

BOOST_AUTO_TEST_CASE(free_semaphore_completes_through_a_post) {
    pipc_test::named name(object_kind::semaphore);
    asio::io_context ctx;
    pipc::async_semaphore s(ctx, name, create_opts(1));
    recorder r;
    s.async_acquire(r.handler());
    BOOST_TEST(!r.done());      // never inside the initiating call
    BOOST_TEST(s.value() == 0); // but the unit was taken right away, on this thread
    BOOST_TEST(service(ctx).thread_count() == 0u); // no helper involved
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    BOOST_TEST(r.calls == 1);
    BOOST_TEST(!*r.result);
}

// A co_await on a free semaphore resumes directly (no scheduler pass; Boost 1.81 has no
// immediate executors), at most max_direct_resumptions times in a row on a thread.
BOOST_AUTO_TEST_CASE(free_semaphore_resumes_a_coroutine_directly) {
    pipc_test::named name(object_kind::semaphore);
    asio::io_context ctx;
    pipc::async_semaphore s(ctx, name, create_opts(0));
    constexpr int loops = 20000;
    bool posted_ran = false, done = false;
    int first_loop_after_post = -1;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            asio::post(ctx, [&] { posted_ran = true; });
            s.release();
            co_await s.async_acquire(asio::use_awaitable);
            BOOST_TEST(!posted_ran);
            for (int i = 0; i < loops; ++i) {
                s.release();
                co_await s.async_acquire(asio::use_awaitable);
                if (posted_ran && first_loop_after_post < 0) first_loop_after_post = i;
            }
            done = true;
        },
        asio::detached);
    BOOST_TEST(run_until(ctx, [&] { return done; }));
    BOOST_TEST(first_loop_after_post >= 0);
    BOOST_TEST(first_loop_after_post < pipc::detail::max_direct_resumptions);
    BOOST_TEST(s.value() == 0);
    BOOST_TEST(service(ctx).thread_count() == 0u); // never a helper
}

BOOST_AUTO_TEST_CASE(try_acquire_and_value_four_flavours) {
    pipc_test::named name(object_kind::semaphore);
    asio::io_context ctx;
    pipc::async_semaphore s(ctx.get_executor(), name, create_opts(1));
    BOOST_TEST(s.try_acquire());
    BOOST_TEST(!s.try_acquire());
    error_code ec;
    BOOST_TEST(!s.try_acquire(ec));
    BOOST_TEST(!ec);
    s.release(3);
    s.release(1, ec);
    BOOST_TEST(!ec);
    BOOST_TEST(s.value() == 4);
    BOOST_TEST(s.value(ec) == 4);
    BOOST_TEST(s.try_acquire_for(milliseconds(10)));
    BOOST_TEST(s.try_acquire_for(milliseconds(10), ec));
    BOOST_TEST(s.try_acquire_until(steady_clock::now() + milliseconds(10)));
    BOOST_TEST(s.try_acquire_until(steady_clock::now(), ec));
    BOOST_TEST(!s.try_acquire_for(milliseconds(1), ec));
    BOOST_TEST(!ec);
    s.release(-1, ec);
    BOOST_TEST((ec == pipc::errc::invalid_release_count));
    BOOST_TEST(s.value() == 0); // nothing changed
}

BOOST_AUTO_TEST_CASE(timed_acquire_four_flavours) {
    pipc_test::named name(object_kind::semaphore);
    asio::io_context ctx;
    pipc::async_semaphore s(ctx, name, create_opts(0));

    // sync
    auto t0 = steady_clock::now();
    BOOST_TEST(!s.try_acquire_for(milliseconds(30)));
    BOOST_TEST((steady_clock::now() - t0 >= milliseconds(30)));

    // callback: times out with ETIMEDOUT, which is condition::busy
    recorder r;
    t0 = steady_clock::now();
    s.async_acquire_for(milliseconds(30), r.handler());
    BOOST_TEST(run_until(ctx, [&] { return r.done(); }));
    const auto waited = steady_clock::now() - t0;
    BOOST_TEST(*r.result == timed_out);
    BOOST_TEST((*r.result == pipc::condition::busy));
    BOOST_TEST((waited >= milliseconds(30)));
    BOOST_TEST((waited < std::chrono::seconds(10)));
    BOOST_TEST(s.value() == 0);

    // coroutine, with as_tuple: success before the deadline
    error_code got = aborted;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            auto [e] = co_await s.async_acquire_for(std::chrono::seconds(20),
                                                    asio::as_tuple(asio::use_awaitable));
            got = e;
        },
        asio::detached);
    ctx.restart();
    ctx.poll();
    s.release();
    BOOST_TEST(run_until(ctx, [&] { return got != aborted; }));
    BOOST_TEST(!got);
    BOOST_TEST(s.value() == 0);

    // coroutine, throwing on timeout; until-form on the system clock
    bool threw_busy = false;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            try {
                co_await s.async_acquire_until(std::chrono::system_clock::now() + milliseconds(20),
                                               asio::use_awaitable);
            } catch (const boost::system::system_error& e) {
                threw_busy = e.code() == pipc::condition::busy;
            }
        },
        asio::detached);
    BOOST_TEST(run_until(ctx, [&] { return threw_busy; }));
}

BOOST_AUTO_TEST_CASE(timed_acquire_edge_cases) {
    pipc_test::named name(object_kind::semaphore);
    asio::io_context ctx;
    pipc::async_semaphore s(ctx, name, create_opts(0));
    recorder zero, negative, nan;
    s.async_acquire_for(milliseconds(0), zero.handler());
    s.async_acquire_for(milliseconds(-5), negative.handler());
    s.async_acquire_for(std::chrono::duration<double>(std::nan("")), nan.handler());
    BOOST_TEST(!zero.done());
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    BOOST_TEST(*zero.result == timed_out);
    BOOST_TEST(*negative.result == timed_out);
    BOOST_TEST((*nan.result == pipc::errc::invalid_timeout));
    BOOST_TEST(service(ctx).thread_count() == 0u); // none of them needed a helper
    BOOST_TEST(s.value() == 0);

    // A zero timeout still takes a free unit.
    s.release();
    recorder free_zero;
    s.async_acquire_for(milliseconds(0), free_zero.handler());
    ctx.restart();
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    BOOST_TEST(!*free_zero.result);
    BOOST_TEST(s.value() == 0);
}

BOOST_AUTO_TEST_CASE(closed_object_four_flavours) {
    asio::io_context ctx;
    pipc::async_semaphore s(ctx);
    BOOST_TEST(!s.is_open());
    BOOST_TEST(s.native_handle() == nullptr);
    BOOST_CHECK_THROW(s.acquire(), pipc::existential_error);
    BOOST_CHECK_THROW(s.release(), pipc::existential_error);
    BOOST_CHECK_THROW((void)s.value(), pipc::existential_error);
    error_code ec;
    s.acquire(ec);
    BOOST_TEST((ec == pipc::errc::closed));
    BOOST_TEST(!s.try_acquire(ec));
    BOOST_TEST((ec == pipc::errc::closed));
    recorder r;
    s.async_acquire(r.handler());
    BOOST_TEST(!r.done());
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    BOOST_TEST((*r.result == pipc::errc::closed));
    bool threw = false;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            try {
                co_await s.async_acquire(asio::use_awaitable);
            } catch (const boost::system::system_error& e) {
                threw = e.code() == pipc::errc::closed;
            }
        },
        asio::detached);
    ctx.restart();
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    BOOST_TEST(threw);
}

BOOST_AUTO_TEST_CASE(open_errors_throw_and_change_nothing) {
    pipc_test::named name(object_kind::semaphore);
    asio::io_context ctx;
    pipc::semaphore::options o; // open_existing of a missing name
    BOOST_CHECK_THROW(pipc::async_semaphore(ctx, name, o), pipc::existential_error);
    BOOST_TEST(!pipc_test::exists(object_kind::semaphore, name.str()));
    BOOST_CHECK_THROW(pipc::async_semaphore(ctx, "no-slash", create_opts()), pipc::error);
}

BOOST_AUTO_TEST_CASE(from_core_semaphore_move_and_rebind) {
    pipc_test::named name(object_kind::semaphore);
    asio::io_context ctx;
    pipc::semaphore core(name, create_opts(1));
    sem_t* raw = core.native_handle();
    pipc::async_semaphore a(ctx.get_executor(), std::move(core));
    BOOST_TEST(a.native_handle() == raw);
    BOOST_TEST(a.core().name() == name.str());
    pipc::async_semaphore b(std::move(a));
    BOOST_TEST(!a.is_open()); // NOLINT(bugprone-use-after-move): moved-from state is specified
    BOOST_TEST(b.native_handle() == raw);
    pipc::basic_async_semaphore<asio::io_context::executor_type> typed(ctx, name);
    pipc::async_semaphore converted(std::move(typed));
    BOOST_TEST(converted.is_open());
    a = std::move(converted);
    BOOST_TEST(a.is_open());

    // as_default_on through rebind_executor: no token needed.
    using awaitable_semaphore = asio::use_awaitable_t<>::as_default_on_t<pipc::async_semaphore>;
    awaitable_semaphore d(ctx, name);
    bool ok = false;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            co_await d.async_acquire();
            ok = true;
        },
        asio::detached);
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    BOOST_TEST(ok);
    BOOST_TEST(b.value() == 0);
}

BOOST_AUTO_TEST_CASE(constructors_and_open_match_the_core_semaphore) {
    pipc_test::named a_name(object_kind::semaphore);
    pipc_test::named b_name(object_kind::semaphore);
    asio::io_context ctx;

    // Unique names, from an executor and from a context.
    pipc::async_semaphore u1(ctx.get_executor(), pipc::unique_name, {.initial_value = 2});
    pipc::async_semaphore u2(ctx, pipc::unique_name);
    BOOST_TEST(u1.core().created());
    BOOST_TEST(u1.value() == 2);
    BOOST_TEST(u1.core().name() != u2.core().name());
    u1.unlink();
    u2.unlink();
    BOOST_TEST(!pipc_test::exists(object_kind::semaphore, u1.core().name()));

    // open(name, opts) and its error_code twin, on a closed object.
    pipc::async_semaphore s(ctx);
    s.open(a_name, create_opts(1));
    BOOST_TEST(s.is_open());
    BOOST_TEST(s.core().name() == a_name.str());
    BOOST_TEST(s.value() == 1);
    pipc::async_semaphore t(ctx);
    error_code ec;
    t.open(a_name, {}, ec);
    BOOST_TEST(!ec);
    BOOST_TEST(t.native_handle() != nullptr);
    BOOST_TEST(!t.core().created());

    // Reopening an open object aborts its pending acquires and lets go of the old semaphore.
    s.acquire(); // a_name is now 0: t's acquire below queues for a helper
    recorder pending;
    t.async_acquire_for(std::chrono::seconds(20), pending.handler());
    ctx.poll();
    BOOST_TEST(!pending.done());
    t.open(b_name, create_opts(3), ec);
    BOOST_TEST(!ec);
    BOOST_TEST(t.core().name() == b_name.str());
    BOOST_TEST(run_until(ctx, [&] { return pending.done(); }));
    BOOST_TEST((*pending.result == aborted));
    BOOST_TEST(t.value() == 3);

    // open(unique_name, opts), both forms.
    t.open(pipc::unique_name, {.initial_value = 4});
    BOOST_TEST(t.value() == 4);
    t.unlink();
    t.open(pipc::unique_name, {}, ec);
    BOOST_TEST(!ec);
    BOOST_TEST(t.core().created());
    t.unlink();
}

BOOST_AUTO_TEST_CASE(a_failed_open_changes_nothing) {
    pipc_test::named name(object_kind::semaphore);
    pipc_test::named missing(object_kind::semaphore);
    asio::io_context ctx;
    pipc::async_semaphore s(ctx, name, create_opts(0));
    recorder pending;
    s.async_acquire(pending.handler());
    sem_t* const raw = s.native_handle();

    error_code ec;
    s.open(missing, {}, ec); // open_existing of a missing name
    BOOST_TEST((ec == pipc::condition::existential));
    BOOST_CHECK_THROW(s.open(missing, {}), pipc::existential_error);
    BOOST_CHECK_THROW(s.open("no-slash", create_opts()), pipc::error);
    s.open(pipc::unique_name, {.initial_value = SEM_VALUE_MAX + 1U}, ec);
    BOOST_TEST((ec == pipc::errc::invalid_initial_value));
    BOOST_CHECK_THROW(s.open(pipc::unique_name, {.initial_value = SEM_VALUE_MAX + 1U}),
                      pipc::error);
    BOOST_TEST(!pipc_test::exists(object_kind::semaphore, missing.str()));

    // Still the same open semaphore, and the pending acquire is still pending.
    BOOST_TEST(s.native_handle() == raw);
    BOOST_TEST(s.core().name() == name.str());
    ctx.poll();
    BOOST_TEST(!pending.done());
    s.release();
    BOOST_TEST(run_until(ctx, [&] { return pending.done(); }));
    BOOST_TEST(!*pending.result);
}

BOOST_AUTO_TEST_CASE(core_of_a_closed_object_is_a_closed_core) {
    pipc_test::named name(object_kind::semaphore);
    asio::io_context ctx;
    pipc::async_semaphore s(ctx);
    BOOST_TEST(!s.core().is_open());
    BOOST_TEST(s.core().native_handle() == nullptr);
    error_code ec;
    BOOST_TEST(s.core().value(ec) == 0);
    BOOST_TEST((ec == pipc::errc::closed));
    BOOST_CHECK_THROW((void)s.core().value(), pipc::existential_error);

    s.open(name, create_opts(1));
    BOOST_TEST(s.core().is_open());
    s.close();
    BOOST_TEST(!s.core().is_open()); // after close too, not a dangling reference
    BOOST_TEST(s.core().name().empty());
    BOOST_TEST(pipc_test::exists(object_kind::semaphore, name.str())); // close never unlinks
}

// ---------------------------------------------------------------------------------------------
// Completion tokens, executors and allocators.

BOOST_AUTO_TEST_CASE(deferred_and_use_future) {
    pipc_test::named name(object_kind::semaphore);
    asio::io_context ctx;
    pipc::async_semaphore s(ctx, name, create_opts(0));
    auto op = s.async_acquire(asio::deferred);
    ctx.poll();
    BOOST_TEST(s.value() == 0); // a deferred operation has not started
    recorder r;
    s.release();
    std::move(op)(r.handler());
    ctx.restart();
    BOOST_TEST(run_until(ctx, [&] { return r.done(); }));
    BOOST_TEST(!*r.result);

    auto fut = s.async_acquire_for(std::chrono::seconds(20), asio::use_future);
    auto guard = asio::make_work_guard(ctx);
    ctx.restart();
    std::thread runner([&] { ctx.run_for(std::chrono::seconds(60)); });
    s.release();
    const auto status = fut.wait_for(std::chrono::seconds(20));
    BOOST_TEST((status == std::future_status::ready));
    if (status == std::future_status::ready) BOOST_CHECK_NO_THROW(fut.get());
    guard.reset();
    ctx.stop();
    runner.join();
    BOOST_TEST(s.value() == 0);
}

namespace {
std::atomic<int> allocations{0};
std::atomic<int> deallocations{0};

template <class T>
struct counting_allocator {
    using value_type = T;
    counting_allocator() = default;
    template <class U>
    counting_allocator(const counting_allocator<U>&) noexcept {}
    T* allocate(std::size_t n) {
        ++allocations;
        return std::allocator<T>().allocate(n);
    }
    void deallocate(T* p, std::size_t n) {
        ++deallocations;
        std::allocator<T>().deallocate(p, n);
    }
    friend bool operator==(const counting_allocator&, const counting_allocator&) { return true; }
    friend bool operator!=(const counting_allocator&, const counting_allocator&) { return false; }
};
} // namespace

BOOST_AUTO_TEST_CASE(associated_executor_and_allocator_are_honoured) {
    pipc_test::named name(object_kind::semaphore);
    asio::io_context ctx;
    asio::io_context other; // the handler's own executor
    pipc::async_semaphore s(ctx, name, create_opts(1));

    // Fast path: completes on the handler's executor, not the I/O one.
    bool ran_on_other = false;
    s.async_acquire(asio::bind_executor(other, [&](error_code ec) {
        ran_on_other = !ec && other.get_executor().running_in_this_thread();
    }));
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
    BOOST_TEST(!ran_on_other); // hopped to `other`, which has not run yet
    BOOST_REQUIRE(pipc_test::run_to_completion(other));
    BOOST_TEST(ran_on_other);

    // Helper path, through a strand, with a counting allocator.
    auto strand = asio::make_strand(ctx);
    bool on_strand = false;
    allocations = 0;
    s.async_acquire(asio::bind_allocator(counting_allocator<void>(),
                                         asio::bind_executor(strand, [&](error_code ec) {
                                             on_strand = !ec && strand.running_in_this_thread();
                                         })));
    ctx.restart();
    ctx.poll();
    BOOST_TEST(allocations.load() > 0); // the operation state came from the handler's allocator
    s.release();
    BOOST_TEST(run_until(ctx, [&] { return on_strand; }));
}

BOOST_AUTO_TEST_CASE(run_does_not_return_while_a_wait_is_pending) {
    pipc_test::named name(object_kind::semaphore);
    asio::io_context ctx;
    pipc::async_semaphore s(ctx, name, create_opts(0));
    pipc::semaphore other_handle(name);
    recorder r;
    s.async_acquire(r.handler());
    pipc_test::handshake go;
    std::thread poster([&] {
        go.wait();
        other_handle.release();
    });
    go.signal();
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx)); // returns only once the wait completed
    poster.join();
    BOOST_TEST(r.calls == 1);
    BOOST_TEST(!*r.result);
}

// ---------------------------------------------------------------------------------------------
// Queueing, the pool, many waiters.

BOOST_AUTO_TEST_CASE(waiters_of_one_object_are_served_fifo) {
    pipc_test::named name(object_kind::semaphore);
    asio::io_context ctx;
    pipc::async_semaphore s(ctx, name, create_opts(0));
    std::vector<int> order;
    for (int i = 0; i < 5; ++i)
        s.async_acquire([&order, i](error_code ec) {
            if (!ec) order.push_back(i);
        });
    ctx.poll();
    // A free unit does not jump the queue: it goes to the first waiter.
    for (int i = 0; i < 5; ++i) {
        s.release();
        BOOST_TEST(run_until(ctx, [&] { return order.size() == std::size_t(i + 1); }));
    }
    BOOST_TEST((order == std::vector<int>{0, 1, 2, 3, 4}));
    BOOST_TEST(service(ctx).thread_count() <= 1u); // one helper for the object, not per waiter
}

BOOST_AUTO_TEST_CASE(thousand_coroutines_on_one_semaphore) {
    pipc_test::named name(object_kind::semaphore);
    asio::io_context ctx;
    pipc::async_semaphore s(ctx, name, create_opts(0));
    constexpr int n = 1000;
    int acquired = 0;
    for (int i = 0; i < n; ++i)
        asio::co_spawn(
            ctx,
            [&]() -> asio::awaitable<void> {
                co_await s.async_acquire(asio::use_awaitable);
                ++acquired;
            },
            asio::detached);
    ctx.poll();
    BOOST_TEST(service(ctx).thread_count() == 1u);
    s.release(n);
    BOOST_TEST(run_until(
        ctx, [&] { return acquired == n; }, std::chrono::seconds(60)));
    BOOST_TEST(s.value() == 0);
}

BOOST_AUTO_TEST_CASE(thousand_coroutines_on_hundred_semaphores) {
    constexpr int sems = 100, per = 10;
    std::vector<std::unique_ptr<pipc_test::named>> names;
    asio::io_context ctx;
    service(ctx).configure({.max_threads = 8, .slice = milliseconds(5)});
    std::vector<std::unique_ptr<pipc::async_semaphore>> objs;
    for (int i = 0; i < sems; ++i) {
        names.push_back(std::make_unique<pipc_test::named>(object_kind::semaphore));
        objs.push_back(std::make_unique<pipc::async_semaphore>(ctx, *names.back(), create_opts()));
    }
    std::vector<int> acquired(sems, 0);
    int total = 0;
    for (int i = 0; i < sems; ++i)
        for (int j = 0; j < per; ++j)
            asio::co_spawn(
                ctx,
                [&, i]() -> asio::awaitable<void> {
                    co_await objs[i]->async_acquire(asio::use_awaitable);
                    ++acquired[i];
                    ++total;
                },
                asio::detached);
    ctx.poll();
    BOOST_TEST(service(ctx).thread_count() <= 8u); // capped; the rest take turns
    for (auto& o : objs) o->release(per);
    BOOST_TEST(run_until(
        ctx, [&] { return total == sems * per; }, std::chrono::seconds(60)));
    for (int i = 0; i < sems; ++i) {
        BOOST_TEST(acquired[i] == per);
        BOOST_TEST(objs[i]->value() == 0);
    }
}

BOOST_AUTO_TEST_CASE(idle_helpers_exit) {
    pipc_test::named name(object_kind::semaphore);
    asio::io_context ctx;
    service(ctx).configure({.max_threads = 4, .idle_timeout = milliseconds(20)});
    pipc::async_semaphore s(ctx, name, create_opts(0));
    recorder r;
    s.async_acquire(r.handler());
    ctx.poll();
    BOOST_TEST(service(ctx).thread_count() == 1u);
    s.release();
    BOOST_TEST(run_until(ctx, [&] { return r.done(); }));
    // Bounded wait for the helper's idle timeout (there is nothing to synchronise on).
    const auto until = steady_clock::now() + std::chrono::seconds(20);
    while (service(ctx).thread_count() != 0 && steady_clock::now() < until)
        std::this_thread::sleep_for(milliseconds(5));
    BOOST_TEST(service(ctx).thread_count() == 0u);
    // And a new wait starts a helper again.
    recorder again;
    s.async_acquire(again.handler());
    ctx.restart();
    ctx.poll();
    s.release();
    BOOST_TEST(run_until(ctx, [&] { return again.done(); }));
    BOOST_TEST(!*again.result);
}

namespace {

/// The number of threads glibc counts as blocked on `sem` (the high half of its 64-bit word),
/// where futex_waitv helpers register themselves.
unsigned registered_waiters(::sem_t* sem) {
    const auto word =
        __atomic_load_n(reinterpret_cast<const std::uint64_t*>(sem), __ATOMIC_SEQ_CST);
    return static_cast<unsigned>(word >> 32);
}

/// Polls `done()` for up to 10 s (a helper's registration has nothing to synchronise on).
bool eventually(const std::function<bool()>& done) {
    const auto until = steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
        if (steady_clock::now() >= until) return false;
        std::this_thread::sleep_for(milliseconds(1));
    }
    return true;
}

} // namespace

// After handing out a unit, a helper stays on the semaphore for config::linger, so that the
// handler's next acquire finds it already waiting: a futex_waitv helper stays registered in the
// sem_t's waiter count, a fallback helper keeps yielding. An object that spins needs neither (its
// next acquire spins in the initiation), and a registered helper would turn every sem_post of the
// peer into a FUTEX_WAKE system call: the helper leaves at once.
BOOST_AUTO_TEST_CASE(a_helper_lingers_only_on_objects_that_do_not_spin) {
    for (const bool spins : {false, true}) {
        BOOST_TEST_CONTEXT("spins " << spins) {
            pipc_test::named name(object_kind::semaphore);
            asio::io_context ctx;
            const bool waitv = service(ctx).uses_futex_waitv();
            // A lingering fallback helper yields until the linger ends, even through shutdown:
            // keep the one this test waits out short.
            const auto linger = waitv || spins ? std::chrono::seconds(30) : std::chrono::seconds(3);
            service(ctx).configure({.linger = linger});
            auto opts = create_opts(0);
            opts.wait = spins ? pipc::wait_strategy::spin() : pipc::wait_strategy::block();
            pipc::async_semaphore s(ctx, name, opts);
            recorder r;
            s.async_acquire(r.handler());
            ctx.poll();
            if (waitv)
                BOOST_TEST_REQUIRE(
                    eventually([&] { return registered_waiters(s.native_handle()) == 1; }));
            s.release();
            BOOST_TEST(run_until(ctx, [&] { return r.done(); }));
            BOOST_TEST(!*r.result);
            if (waitv && spins)
                BOOST_TEST(eventually([&] { return registered_waiters(s.native_handle()) == 0; }));
            else if (waitv)
                BOOST_TEST(registered_waiters(s.native_handle()) == 1u); // lingering
            else if (spins)
                BOOST_TEST(pipc_test::other_threads_asleep()); // parked, not yielding
            else
                BOOST_TEST(!pipc_test::other_threads_asleep(std::chrono::seconds(1))); // yielding
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cancellation: nothing acquired by an aborted operation.

BOOST_AUTO_TEST_CASE(per_operation_cancellation_every_type) {
    using ct = asio::cancellation_type;
    for (auto type : {ct::terminal, ct::partial, ct::total, ct::all}) {
        BOOST_TEST_CONTEXT("type " << static_cast<int>(type)) {
            pipc_test::named name(object_kind::semaphore);
            asio::io_context ctx;
            service(ctx).configure({.slice = milliseconds(10)});
            pipc::async_semaphore s(ctx, name, create_opts(0));

            // A lone waiter with its helper asleep.
            asio::cancellation_signal sig;
            recorder lone;
            s.async_acquire(asio::bind_cancellation_slot(sig.slot(), lone.handler()));
            ctx.poll();
            sig.emit(type);
            BOOST_TEST(run_until(ctx, [&] { return lone.done(); }));
            BOOST_TEST(*lone.result == aborted);
            BOOST_TEST(s.value() == 0);

            // Two waiters: cancelling the first is immediate whatever the type, and the next
            // unit goes to the second.
            asio::cancellation_signal first_sig;
            recorder first, second;
            s.async_acquire(asio::bind_cancellation_slot(first_sig.slot(), first.handler()));
            s.async_acquire(second.handler());
            ctx.restart();
            ctx.poll();
            first_sig.emit(type);
            ctx.poll();
            BOOST_TEST(run_until(ctx, [&] { return first.done(); }));
            BOOST_TEST(*first.result == aborted);
            BOOST_TEST(!second.done());
            s.release();
            BOOST_TEST(run_until(ctx, [&] { return second.done(); }));
            BOOST_TEST(!*second.result);

            // Cancel, then produce: the unit is still there for others.
            s.release();
            BOOST_TEST(run_until(ctx, [] { return true; }));
            BOOST_TEST(s.value() == 1);
            BOOST_TEST(s.try_acquire());
            BOOST_TEST(first.calls == 1);
            BOOST_TEST(lone.calls == 1);
        }
    }
}

BOOST_AUTO_TEST_CASE(cancellation_after_the_unit_arrived_reports_success) {
    using ct = asio::cancellation_type;
    for (auto type : {ct::terminal, ct::partial, ct::total}) {
        pipc_test::named name(object_kind::semaphore);
        asio::io_context ctx;
        pipc::async_semaphore s(ctx, name, create_opts(0));
        asio::cancellation_signal sig;
        recorder r;
        s.async_acquire(asio::bind_cancellation_slot(sig.slot(), r.handler()));
        ctx.poll();
        s.release();
        // Bounded wait until the helper took the unit (its completion is then queued to ctx).
        const auto until = steady_clock::now() + std::chrono::seconds(20);
        while (s.value() != 0 && steady_clock::now() < until) std::this_thread::yield();
        // The completion is queued but has not run: cancellation comes too late.
        sig.emit(type);
        BOOST_TEST(run_until(ctx, [&] { return r.done(); }));
        // Either the helper had handed it over (success) or the unit came back (aborted), but
        // the value always tells the truth.
        BOOST_TEST(s.value() == (*r.result ? 1 : 0));
        BOOST_TEST((!*r.result || *r.result == aborted));
    }
}

BOOST_AUTO_TEST_CASE(cancel_and_close_and_destroy_abort_pending_waits) {
    pipc_test::named name(object_kind::semaphore);
    asio::io_context ctx;
    auto s = std::make_unique<pipc::async_semaphore>(ctx, name, create_opts(0));
    pipc::semaphore other(name);

    recorder a, b;
    s->async_acquire(a.handler());
    s->async_acquire_for(std::chrono::seconds(30), b.handler());
    ctx.poll();
    s->cancel();
    BOOST_TEST(run_until(ctx, [&] { return a.done() && b.done(); }));
    BOOST_TEST(*a.result == aborted);
    BOOST_TEST(*b.result == aborted);
    BOOST_TEST(other.value() == 0);

    // close() while the helper sleeps in sem_clockwait on the handle (P19): safe, aborted.
    recorder c;
    s->async_acquire(c.handler());
    ctx.restart();
    ctx.poll();
    s->close();
    BOOST_TEST(!s->is_open());
    BOOST_TEST(run_until(ctx, [&] { return c.done(); }));
    BOOST_TEST(*c.result == aborted);
    other.release();
    BOOST_TEST(other.value() == 1); // nobody took it for the closed object
    BOOST_TEST(other.try_acquire());

    // Destruction.
    *s = pipc::async_semaphore(ctx, name);
    recorder d;
    s->async_acquire(d.handler());
    ctx.restart();
    ctx.poll();
    s.reset();
    BOOST_TEST(run_until(ctx, [&] { return d.done(); }));
    BOOST_TEST(*d.result == aborted);
    other.release();
    BOOST_TEST(other.value() == 1);
}

// ---------------------------------------------------------------------------------------------
// Shutdown: pending waits destroyed, units given back.

namespace {
/// Records whether it was invoked or destroyed without being invoked.
struct tracked_handler {
    std::shared_ptr<int> invoked = std::make_shared<int>(0);
    void operator()(error_code) { ++*invoked; }
};
} // namespace

BOOST_AUTO_TEST_CASE(context_destroyed_with_pending_waits) {
    pipc_test::named name(object_kind::semaphore);
    pipc::semaphore other(name, create_opts(0));
    tracked_handler waiting;
    std::weak_ptr<int> waiting_alive = waiting.invoked;
    std::weak_ptr<pipc::async_semaphore> object_alive;
    bool coroutine_resumed = false;
    {
        asio::io_context ctx;
        // A handler that owns its I/O object (a cycle the shutdown must break) ...
        auto s = std::make_shared<pipc::async_semaphore>(ctx, name);
        object_alive = s;
        s->async_acquire([s, h = std::move(waiting)](error_code ec) mutable { h(ec); });
        s->async_acquire_for(std::chrono::seconds(30), [s](error_code) {});
        // ... and a coroutine whose frame owns one.
        asio::co_spawn(
            ctx,
            [&]() -> asio::awaitable<void> {
                pipc::async_semaphore own(co_await asio::this_coro::executor, name);
                co_await own.async_acquire(asio::use_awaitable);
                coroutine_resumed = true;
            },
            asio::detached);
        ctx.poll();
        BOOST_TEST(service(ctx).thread_count() >= 1u);
        s.reset();
    }
    BOOST_TEST(!coroutine_resumed);
    BOOST_TEST(waiting_alive.expired()); // destroyed, never invoked
    BOOST_TEST(object_alive.expired());  // the cycle was broken
    BOOST_TEST(other.value() == 0);      // nothing taken
}

BOOST_AUTO_TEST_CASE(undeliverable_units_go_back) {
    pipc_test::named name(object_kind::semaphore);
    pipc::semaphore other(name, create_opts(1));
    {
        // Fast path: the unit is taken in async_acquire, the context dies before the post runs.
        asio::io_context ctx;
        pipc::async_semaphore s(ctx, name);
        s.async_acquire([](error_code) { BOOST_FAIL("must not run"); });
        BOOST_TEST(other.value() == 0);
    }
    BOOST_TEST(other.value() == 1);
    BOOST_TEST(other.try_acquire());
    {
        // Helper path: the helper took the unit and posted; the context dies before it runs.
        asio::io_context ctx;
        pipc::async_semaphore s(ctx, name);
        s.async_acquire([](error_code) { BOOST_FAIL("must not run"); });
        ctx.poll();
        other.release();
        const auto until = steady_clock::now() + std::chrono::seconds(20);
        while (other.value() != 0 && steady_clock::now() < until) std::this_thread::yield();
        BOOST_TEST(other.value() == 0);
    }
    BOOST_TEST(other.value() == 1);
}

// ---------------------------------------------------------------------------------------------
// Errors from the helper's wait (fault injection through the syscall table).

BOOST_AUTO_TEST_CASE(helper_wait_failure_fails_the_waiters) {
    pipc_test::named name(object_kind::semaphore);
    asio::io_context ctx;
    pipc::async_semaphore s(ctx, name, create_opts(0));
    // futex_waitv helpers never call sem_clockwait; the same tests run with
    // PIPC_SEMAPHORE_WAITV=0 (asio_async_semaphore_fallback) cover this path.
    if (service(ctx).uses_futex_waitv()) return;
    auto& table = pipc::detail::sys();
    const auto saved = table.sem_clockwait;
    table.sem_clockwait = [](::sem_t*, ::clockid_t, const ::timespec*) {
        errno = EINVAL;
        return -1;
    };
    recorder a, b;
    s.async_acquire(a.handler());
    s.async_acquire(b.handler());
    const bool done = run_until(ctx, [&] { return a.done() && b.done(); });
    table.sem_clockwait = saved;
    BOOST_TEST(done);
    BOOST_TEST((*a.result == boost::system::errc::invalid_argument));
    BOOST_TEST((*b.result == boost::system::errc::invalid_argument));
    BOOST_TEST(s.value() == 0);
}

// ---------------------------------------------------------------------------------------------
// No helper thread can be started (fault injection through the syscall table).

namespace {

int refuse_threads(::pthread_t*, const ::pthread_attr_t*, void* (*)(void*), void*) {
    return EAGAIN; // as under RLIMIT_NPROC, or with no memory for a stack
}

constexpr auto no_thread = boost::system::errc::resource_unavailable_try_again; // EAGAIN

} // namespace

BOOST_AUTO_TEST_CASE(no_helper_thread_fails_the_wait_and_the_next_one_retries) {
    pipc_test::named name(object_kind::semaphore);
    pipc_test::fault_scope faults;
    asio::io_context ctx;
    pipc::async_semaphore s(ctx, name, create_opts(0));
    BOOST_TEST_MESSAGE("futex_waitv helpers: " << service(ctx).uses_futex_waitv());

    faults.table().pthread_create = refuse_threads;
    recorder a, b;
    allocations = 0;
    deallocations = 0;
    s.async_acquire(asio::bind_allocator(counting_allocator<void>(), a.handler()));
    s.async_acquire_for(std::chrono::seconds(60), b.handler());
    // Both complete with the error of the thread start (no helper exists to serve them),
    // through the context: the handlers never run inside async_acquire.
    BOOST_TEST(!a.done());
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx, std::chrono::seconds(20))); // watchdog
    BOOST_TEST(a.calls == 1);
    BOOST_TEST(b.calls == 1);
    BOOST_TEST((a.done() && *a.result == no_thread));
    BOOST_TEST((b.done() && *b.result == no_thread));
    BOOST_TEST(allocations.load() > 0);
    BOOST_TEST(deallocations.load() == allocations.load()); // the operation state went back
    BOOST_TEST(service(ctx).thread_count() == 0u);
    BOOST_TEST(s.value() == 0);

    // The condition may be transient: the next wait tries again.
    faults.table().pthread_create = pipc::detail::real_sys().pthread_create;
    recorder c;
    s.async_acquire(c.handler());
    ctx.restart();
    ctx.poll();
    BOOST_TEST(service(ctx).thread_count() == 1u);
    s.release();
    BOOST_TEST(run_until(ctx, [&] { return c.done(); }));
    BOOST_TEST(c.calls == 1);
    BOOST_TEST((c.done() && !*c.result));
    BOOST_TEST(s.value() == 0);
}

BOOST_AUTO_TEST_CASE(no_new_helper_thread_while_busy_helpers_take_turns) {
    // A helper that cannot be started is no failure while a live one can serve the queue later.
    pipc_test::named first_name(object_kind::semaphore), second_name(object_kind::semaphore);
    pipc_test::fault_scope faults;
    asio::io_context ctx;
    service(ctx).configure({.max_threads = 4, .slice = milliseconds(5), .per_thread = 1});
    pipc::async_semaphore first(ctx, first_name, create_opts(0));
    pipc::async_semaphore second(ctx, second_name, create_opts(0));
    recorder a, b;
    first.async_acquire(a.handler());
    ctx.poll();
    BOOST_TEST(service(ctx).thread_count() == 1u); // busy (and full) with the first semaphore

    faults.table().pthread_create = refuse_threads;
    second.async_acquire(b.handler());
    ctx.poll();
    BOOST_TEST(!b.done()); // queued for the live helper, not failed
    BOOST_TEST(service(ctx).thread_count() == 1u);
    second.release();
    BOOST_TEST(run_until(ctx, [&] { return b.done(); }));
    BOOST_TEST((b.done() && !*b.result));
    first.release();
    BOOST_TEST(run_until(ctx, [&] { return a.done(); }));
    BOOST_TEST((a.done() && !*a.result));
    BOOST_TEST(first.value() == 0);
    BOOST_TEST(second.value() == 0);
}

BOOST_AUTO_TEST_CASE(no_helper_thread_after_fork_fails_the_kept_waits) {
    // notify_fork keeps the queues across fork_prepare and restarts helpers for them after;
    // when that start fails, the kept waits complete with its error instead of hanging.
    pipc_test::named name(object_kind::semaphore);
    pipc_test::fault_scope faults;
    asio::io_context ctx;
    pipc::async_semaphore s(ctx, name, create_opts(0));
    recorder r;
    s.async_acquire(r.handler());
    ctx.poll();
    BOOST_TEST(service(ctx).thread_count() == 1u);
    ctx.notify_fork(asio::execution_context::fork_prepare);
    BOOST_TEST(service(ctx).thread_count() == 0u);
    faults.table().pthread_create = refuse_threads;
    ctx.notify_fork(asio::execution_context::fork_parent); // no fork needed to take this path
    BOOST_TEST(run_until(ctx, [&] { return r.done(); }));
    BOOST_TEST(r.calls == 1);
    BOOST_TEST((r.done() && *r.result == no_thread));
    BOOST_TEST(s.value() == 0);
}

// ---------------------------------------------------------------------------------------------
// Across processes and across fork.

BOOST_AUTO_TEST_CASE(post_in_one_process_wakes_a_coroutine_in_another) {
    pipc_test::named name(object_kind::semaphore);
    pipc::semaphore creator(name, create_opts(0));
    pipc_test::handshake parent_waiting, parent_woke, child_waiting;
    // The child is forked before this process has any helper thread.
    pipc_test::child_process child([&] {
        pipc::semaphore s(name);
        parent_waiting.wait();
        s.release();
        parent_woke.wait();
        // And the other direction: wait, as a coroutine, for the parent's post.
        asio::io_context ctx;
        pipc::async_semaphore as(ctx, std::move(s));
        bool woke = false;
        asio::co_spawn(
            ctx,
            [&]() -> asio::awaitable<void> {
                co_await as.async_acquire_for(std::chrono::seconds(20), asio::use_awaitable);
                woke = true;
            },
            asio::detached);
        ctx.poll();
        child_waiting.signal();
        BOOST_REQUIRE(pipc_test::run_to_completion(ctx));
        return woke;
    });
    asio::io_context ctx;
    pipc::async_semaphore s(ctx, name);
    bool woke = false;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            co_await s.async_acquire(asio::use_awaitable);
            woke = true;
        },
        asio::detached);
    ctx.poll();
    BOOST_TEST(!woke);
    parent_waiting.signal();
    BOOST_TEST(run_until(ctx, [&] { return woke; }));
    parent_woke.signal();
    child_waiting.wait();
    s.release();
    BOOST_TEST(child.succeeded());
    BOOST_TEST(s.value() == 0);
}

// Helpers complete acquires, timeouts and cancellations from their own threads; the work that
// kept the context running must still end on the I/O thread, or a helper could stop the
// context after the I/O thread's next restart() (run() would return with a completion queued).
BOOST_AUTO_TEST_CASE(helpers_release_no_work_of_the_io_context) {
    pipc_test::named name(object_kind::semaphore);
    asio::io_context ctx;
    pipc_test::io_thread = std::this_thread::get_id();
    pipc_test::work_released_elsewhere = 0;
    pipc::basic_async_semaphore s(pipc_test::work_release_executor_of(ctx), name, create_opts(0));
    for (int i = 0; i < 20; ++i) {
        recorder acquired, timed, cancelled;
        s.async_acquire(acquired.handler());
        s.async_acquire_for(milliseconds(1), timed.handler());
        asio::cancellation_signal sig;
        s.async_acquire(asio::bind_cancellation_slot(sig.slot(), cancelled.handler()));
        ctx.restart();
        ctx.poll();  // the helper waits for all three
        s.release(); // a sem_post, as from another process
        BOOST_TEST_REQUIRE(run_until(ctx, [&] { return acquired.done() && timed.done(); }));
        sig.emit(asio::cancellation_type::terminal);
        BOOST_TEST_REQUIRE(run_until(ctx, [&] { return cancelled.done(); }));
        BOOST_TEST(!*acquired.result);
        BOOST_TEST(*timed.result == timed_out);
        BOOST_TEST(*cancelled.result == aborted);
    }
    BOOST_TEST(pipc_test::work_released_elsewhere == 0);
}

BOOST_AUTO_TEST_CASE(fork_with_pending_waits_and_notify_fork) {
    pipc_test::named name(object_kind::semaphore);
    asio::io_context ctx;
    pipc::async_semaphore s(ctx, name, create_opts(0));
    recorder r;
    s.async_acquire(r.handler());
    ctx.poll();
    BOOST_TEST(service(ctx).thread_count() == 1u);

    ctx.notify_fork(asio::execution_context::fork_prepare);
    BOOST_TEST(service(ctx).thread_count() == 0u); // joined, queue kept
    pipc_test::child_process child([&] {
        // The child's copy of the pending wait continues once notified.
        ctx.notify_fork(asio::execution_context::fork_child);
        return run_until(ctx, [&] { return r.done(); }) && !*r.result;
    });
    ctx.notify_fork(asio::execution_context::fork_parent);
    s.release(2); // one for each process's copy of the wait
    BOOST_TEST(run_until(ctx, [&] { return r.done(); }));
    BOOST_TEST(!*r.result);
    BOOST_TEST(child.succeeded());
    BOOST_TEST(s.value() == 0);
}

BOOST_AUTO_TEST_CASE(beyond_the_thread_cap_objects_take_turns) {
    pipc_test::named first_name(object_kind::semaphore), second_name(object_kind::semaphore);
    asio::io_context ctx;
    // One semaphore per helper, so that futex_waitv helpers have to take turns as well.
    service(ctx).configure({.max_threads = 1, .slice = milliseconds(5), .per_thread = 1});
    pipc::async_semaphore first(ctx, first_name, create_opts(0));
    pipc::async_semaphore second(ctx, second_name, create_opts(0));
    recorder a, b;
    first.async_acquire(a.handler());
    second.async_acquire(b.handler());
    ctx.poll();
    BOOST_TEST(service(ctx).thread_count() == 1u);
    // Only the second semaphore gets a unit; the single helper started on the first one and
    // must hand over after a slice rather than starve the second.
    second.release();
    BOOST_TEST(run_until(ctx, [&] { return b.done(); }));
    BOOST_TEST(!*b.result);
    BOOST_TEST(!a.done());
    first.release();
    BOOST_TEST(run_until(ctx, [&] { return a.done(); }));
    BOOST_TEST(!*a.result);
}

BOOST_AUTO_TEST_CASE(child_forked_without_notify_fork_can_destroy_its_context) {
    pipc_test::named name(object_kind::semaphore);
    auto ctx = std::make_unique<asio::io_context>();
    // A long slice keeps the helper asleep in sem_clockwait (not holding the service's lock)
    // while we fork.
    service(*ctx).configure({.slice = std::chrono::seconds(30)});
    auto s = std::make_unique<pipc::async_semaphore>(*ctx, name, create_opts(0));
    recorder r;
    s->async_acquire(r.handler());
    ctx->poll();
    BOOST_TEST(service(*ctx).thread_count() == 1u);
    // Only a helper that has gone to sleep is sure not to hold the service's lock: a child
    // forked while it does would inherit the lock held by a thread it does not have.
    BOOST_TEST_REQUIRE(pipc_test::other_threads_asleep());
    pipc_test::child_process child(
        [&] {
            // The helper thread does not exist here; shutting down must not try to join it.
            s.reset();
            ctx.reset();
            return true;
        },
        20);
    BOOST_TEST(child.succeeded());
    s->release();
    BOOST_TEST(run_until(*ctx, [&] { return r.done(); }));
    BOOST_TEST(!*r.result);
}
