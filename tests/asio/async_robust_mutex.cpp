// SPDX-License-Identifier: BSL-1.0
// Tests of pipc/asio/async_robust_mutex.hpp: locking through the holder thread, contention and
// owner death across processes, every completion token, cancellation races, timeouts, closing
// and destruction with locks pending or held, an object inherited by a forked child, and holder
// threads that cannot be started.
#define BOOST_TEST_MODULE async_robust_mutex
#include <boost/test/unit_test.hpp>

#include <pipc/asio/async_robust_mutex.hpp>

#include "sys.hpp"

#include <pipc_test/asio_run.hpp>
#include <pipc_test/fault.hpp>
#include <pipc_test/sanitizers.hpp>
#include <pipc_test/support.hpp>
#include <pipc_test/work_release_executor.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using pipc::async_robust_mutex;
using pipc::errc;
using pipc::error_code;
using pipc::lock_result;
using pipc::robust_mutex;
namespace asio = boost::asio;

namespace {

using pipc_test::mutex_name;

robust_mutex::options create_opts() {
    robust_mutex::options o;
    o.open = pipc::open_mode::create_exclusive;
    return o;
}

/// Runs handlers until `done()` holds; fails (instead of hanging) after 20 s.
void run_until(asio::io_context& ctx, const std::function<bool()>& done) {
    const auto until = std::chrono::steady_clock::now() + 20s;
    ctx.restart();
    while (!done()) {
        BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < until, "run_until: timed out");
        ctx.run_one_for(100ms);
    }
}

/// The mutex is free: a blocking handle on this (non-holder) thread gets it, normally.
void check_free(const std::string& name) {
    robust_mutex probe(name);
    error_code ec;
    BOOST_REQUIRE(probe.try_lock_for(10s, ec));
    BOOST_TEST(!ec);
    probe.unlock();
}

/// Anonymous shared memory inherited across fork.
template <class T>
class shared_anon {
public:
    shared_anon() {
        void* p =
            ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::runtime_error("mmap failed");
        ptr_ = new (p) T{};
    }
    ~shared_anon() { ::munmap(ptr_, sizeof(T)); }
    shared_anon(const shared_anon&) = delete;
    shared_anon& operator=(const shared_anon&) = delete;
    T* operator->() const noexcept { return ptr_; }
    T* get() const noexcept { return ptr_; }

private:
    T* ptr_ = nullptr;
};

/// A child that takes the lock with a blocking handle, says so ('L'), and releases it when told
/// (any byte on `release`), or never when `release` is null (it waits to be killed).
pid_t fork_blocking_holder(const std::string& name, const pipc_test::handshake& locked,
                           const pipc_test::handshake* release,
                           std::atomic<int>* in_critical = nullptr) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::alarm(30);
        try {
            robust_mutex m(name);
            m.lock();
            if (in_critical) in_critical->store(1);
            locked.signal('L');
            if (!release) {
                for (;;) ::pause();
            }
            release->wait();
            if (in_critical) in_critical->store(2);
            m.unlock();
            ::_exit(0);
        } catch (...) {
        }
        ::_exit(2);
    }
    return pid;
}

int reap(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

struct watchdog {
    watchdog() { ::alarm(120); }
    ~watchdog() { ::alarm(0); }
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;
};

struct lock_outcome {
    bool done = false;
    int calls = 0;
    error_code ec;
    lock_result result = lock_result::acquired;
    auto handler() {
        return [this](error_code e, lock_result r) {
            ++calls;
            done = true;
            ec = e;
            result = r;
        };
    }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(basics, watchdog)

BOOST_AUTO_TEST_CASE(lock_and_unlock_with_a_callback) {
    mutex_name n;
    asio::io_context ctx;
    async_robust_mutex m(ctx, n, create_opts());
    BOOST_TEST(m.is_open());
    BOOST_TEST(m.core().name() == n.str());
    lock_outcome out;
    m.async_lock(out.handler());
    BOOST_TEST(!out.done); // never inside the initiating call
    run_until(ctx, [&] { return out.done; });
    BOOST_TEST(!out.ec);
    BOOST_TEST((out.result == lock_result::acquired));
    BOOST_TEST(m.owns_lock());
    {
        // Held: a blocking handle on another thread of this process cannot take it.
        robust_mutex probe(n);
        BOOST_TEST(!probe.try_lock());
    }
    m.unlock();
    BOOST_TEST(!m.owns_lock());
    check_free(n.str());
    // Exactly once: a second unlock is refused.
    error_code ec;
    m.unlock(ec);
    BOOST_TEST((ec == errc::not_owner));
}

BOOST_AUTO_TEST_CASE(closed_object_and_misuse_are_errors) {
    asio::io_context ctx;
    async_robust_mutex m(ctx);
    BOOST_TEST(!m.is_open());
    lock_outcome out;
    m.async_lock(out.handler());
    run_until(ctx, [&] { return out.done; });
    BOOST_TEST((out.ec == errc::closed));
    error_code ec;
    m.unlock(ec);
    BOOST_TEST((ec == errc::closed));
    m.consistent(ec);
    BOOST_TEST((ec == errc::closed));

    mutex_name n;
    m.open(n, create_opts());
    m.unlock(ec);
    BOOST_TEST((ec == errc::not_owner)); // nothing delivered yet
    m.consistent(ec);
    BOOST_TEST((ec == errc::not_owner));
    BOOST_CHECK_THROW(m.unlock(), pipc::error);

    lock_outcome nan;
    m.async_lock_for(std::chrono::duration<double>(std::nan("")), nan.handler());
    run_until(ctx, [&] { return nan.done; });
    BOOST_TEST((nan.ec == errc::invalid_timeout));
    BOOST_TEST(!m.owns_lock());
}

BOOST_AUTO_TEST_CASE(a_second_lock_of_the_same_object_waits_for_the_unlock) {
    mutex_name n;
    asio::io_context ctx;
    async_robust_mutex m(ctx, n, create_opts());
    lock_outcome first, second;
    m.async_lock(first.handler());
    m.async_lock(second.handler());
    run_until(ctx, [&] { return first.done; });
    BOOST_TEST(!first.ec);
    // The second cannot be granted while the first is held; it is served after unlock().
    ctx.restart();
    ctx.poll();
    BOOST_TEST(!second.done);
    m.unlock();
    run_until(ctx, [&] { return second.done; });
    BOOST_TEST(!second.ec);
    BOOST_TEST(m.owns_lock());
    m.unlock();
    check_free(n.str());
}

// A timed lock queued behind this object's own lock, or behind an untimed lock the holder
// waits for, times out at its deadline: it does not wait for its turn to notice.
BOOST_AUTO_TEST_CASE(a_timed_lock_queued_behind_another_times_out) {
    mutex_name n;
    robust_mutex creator(n, create_opts());
    asio::io_context ctx;
    async_robust_mutex m(ctx, n);
    lock_outcome held, behind_held;
    m.async_lock(held.handler());
    run_until(ctx, [&] { return held.done; });
    BOOST_TEST_REQUIRE(!held.ec);
    m.async_lock_for(20ms, behind_held.handler());
    run_until(ctx, [&] { return behind_held.done; });
    BOOST_TEST((behind_held.ec == boost::system::errc::timed_out));
    m.unlock();

    pipc_test::handshake locked, release;
    const pid_t pid = fork_blocking_holder(n.str(), locked, &release);
    BOOST_REQUIRE(locked.wait() == 'L');
    lock_outcome waiting, behind_waiting;
    m.async_lock(waiting.handler()); // the holder waits for the child's lock
    m.async_lock_for(20ms, behind_waiting.handler());
    run_until(ctx, [&] { return behind_waiting.done; });
    BOOST_TEST((behind_waiting.ec == boost::system::errc::timed_out));
    BOOST_TEST(!waiting.done);
    release.signal();
    run_until(ctx, [&] { return waiting.done; });
    BOOST_TEST(!waiting.ec);
    m.unlock();
    BOOST_TEST(WIFEXITED(reap(pid)));
    check_free(n.str());
}

// The holder thread decides locks and timeouts; the work that kept the context running must
// still end on the I/O thread, or the holder could stop the context after the I/O thread's next
// restart() (run() would return with a completion queued).
BOOST_AUTO_TEST_CASE(the_holder_releases_no_work_of_the_io_context) {
    mutex_name n;
    asio::io_context ctx;
    pipc_test::io_thread = std::this_thread::get_id();
    pipc_test::work_released_elsewhere = 0;
    pipc::basic_async_robust_mutex m(pipc_test::work_release_executor_of(ctx), n, create_opts());
    for (int i = 0; i < 10; ++i) {
        lock_outcome first, timed, second;
        m.async_lock(first.handler());
        run_until(ctx, [&] { return first.done; });
        m.async_lock_for(1ms, timed.handler()); // the holder lets it time out
        m.async_lock(second.handler());         // the holder takes it after the unlock
        run_until(ctx, [&] { return timed.done; });
        m.unlock();
        run_until(ctx, [&] { return second.done; });
        BOOST_TEST(!first.ec);
        BOOST_TEST((timed.ec == pipc::condition::busy));
        BOOST_TEST(!second.ec);
        m.unlock();
    }
    BOOST_TEST(pipc_test::work_released_elsewhere == 0);
    check_free(n.str());
}

// A move takes the holder thread, the owned lock and pending locks along.
BOOST_AUTO_TEST_CASE(moves_keep_the_lock_and_pending_locks) {
    asio::io_context ctx;
    async_robust_mutex a(ctx, pipc::unique_name, create_opts());
    const std::string name = a.core().name();
    lock_outcome first, second;
    a.async_lock(first.handler());
    a.async_lock(second.handler());
    run_until(ctx, [&] { return first.done; });
    BOOST_REQUIRE(!first.ec);
    async_robust_mutex b(std::move(a));
    BOOST_TEST(!a.is_open());
    BOOST_TEST(b.owns_lock());
    async_robust_mutex c(ctx);
    c = std::move(b);
    c.unlock(); // the second pending lock is served next, through the moved object
    run_until(ctx, [&] { return second.done; });
    BOOST_TEST(!second.ec);
    BOOST_TEST(c.owns_lock());
    c.unlock();
    check_free(name);
    c.unlink();
    BOOST_CHECK_THROW(c.unlink(), pipc::error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(tokens, watchdog)

BOOST_AUTO_TEST_CASE(use_awaitable_as_tuple_and_deferred) {
    mutex_name n;
    asio::io_context ctx;
    async_robust_mutex m(ctx, n, create_opts());
    int steps = 0;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            const lock_result r = co_await m.async_lock(asio::use_awaitable);
            BOOST_TEST((r == lock_result::acquired));
            m.unlock();
            ++steps;
            auto [ec, r2] = co_await m.async_lock_for(5s, asio::as_tuple(asio::use_awaitable));
            BOOST_TEST(!ec);
            BOOST_TEST((r2 == lock_result::acquired));
            m.unlock();
            ++steps;
            auto op = m.async_lock(asio::deferred);
            const lock_result r3 = co_await std::move(op)(asio::use_awaitable);
            BOOST_TEST((r3 == lock_result::acquired));
            m.unlock();
            ++steps;
        },
        [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    run_until(ctx, [&] { return steps == 3; });
    check_free(n.str());
}

BOOST_AUTO_TEST_CASE(use_future_and_deferred_with_a_callback) {
    mutex_name n;
    asio::io_context ctx;
    async_robust_mutex m(ctx, n, create_opts());
    auto work = asio::make_work_guard(ctx);
    std::thread runner([&] { ctx.run_for(std::chrono::seconds(60)); });
    std::future<lock_result> f =
        m.async_lock_until(std::chrono::system_clock::now() + 10s, asio::use_future);
    BOOST_REQUIRE((f.wait_for(20s) == std::future_status::ready));
    BOOST_TEST((f.get() == lock_result::acquired));
    m.unlock();
    std::promise<error_code> p;
    m.async_lock(asio::deferred)([&](error_code ec, lock_result) { p.set_value(ec); });
    auto pf = p.get_future();
    BOOST_REQUIRE((pf.wait_for(20s) == std::future_status::ready));
    BOOST_TEST(!pf.get());
    m.unlock();
    work.reset();
    runner.join();
    check_free(n.str());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(processes, watchdog)

// A blocking locker in another process holds the mutex; ours is granted only after it released.
BOOST_AUTO_TEST_CASE(contention_with_a_blocking_locker_in_another_process) {
    mutex_name n;
    robust_mutex creator(n, create_opts());
    shared_anon<std::atomic<int>> state;
    pipc_test::handshake locked, release;
    const pid_t pid = fork_blocking_holder(n.str(), locked, &release, state.get());
    BOOST_REQUIRE(locked.wait() == 'L');
    asio::io_context ctx;
    async_robust_mutex m(ctx, n);
    int seen = -1;
    lock_outcome out;
    m.async_lock([&](error_code ec, lock_result r) {
        seen = state->load(); // the holder marks 2 just before it unlocks
        out.handler()(ec, r);
    });
    ctx.poll();
    BOOST_TEST(!out.done);
    release.signal();
    run_until(ctx, [&] { return out.done; });
    BOOST_TEST(!out.ec);
    BOOST_TEST((out.result == lock_result::acquired));
    BOOST_TEST(seen == 2);
    m.unlock();
    const int status = reap(pid);
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    check_free(n.str());
}

// The holder process is killed holding the lock: the async lock reports owner_dead (in the
// result, with an empty ec), repairs, and the mutex is normal again for everyone.
BOOST_AUTO_TEST_CASE(owner_dead_after_a_sigkilled_holder) {
    mutex_name n;
    robust_mutex creator(n, create_opts());
    pipc_test::handshake locked;
    const pid_t pid = fork_blocking_holder(n.str(), locked, nullptr);
    BOOST_REQUIRE(locked.wait() == 'L');
    asio::io_context ctx;
    async_robust_mutex m(ctx, n);
    lock_outcome out;
    m.async_lock(out.handler());
    ::kill(pid, SIGKILL);
    reap(pid);
    run_until(ctx, [&] { return out.done; });
    BOOST_TEST(!out.ec);
    BOOST_TEST((out.result == lock_result::owner_dead));
    BOOST_TEST(m.owns_lock());
    BOOST_TEST(m.inconsistent());
    m.consistent();
    BOOST_TEST(!m.inconsistent());
    error_code ec;
    m.consistent(ec);
    BOOST_TEST((ec == errc::not_owner)); // nothing left to repair
    m.unlock();
    check_free(n.str()); // acquired, not owner_dead, not not_recoverable
}

// The other direction: a process holding the lock through an async mutex is killed; a blocking
// locker sees owner_dead. The holder thread's robust list is what the kernel walks.
BOOST_AUTO_TEST_CASE(a_sigkilled_async_holder_gives_owner_dead_to_a_blocking_locker) {
    mutex_name n;
    robust_mutex creator(n, create_opts());
    pipc_test::handshake locked;
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::alarm(30);
        try {
            asio::io_context ctx;
            async_robust_mutex m(ctx, n);
            m.async_lock([&](error_code ec, lock_result) {
                if (!ec) locked.signal('L');
            });
            ctx.run(); // bounded by the alarm above
            for (;;) ::pause();
        } catch (...) {
        }
        ::_exit(2);
    }
    BOOST_REQUIRE(locked.wait() == 'L');
    ::kill(pid, SIGKILL);
    reap(pid);
    error_code ec;
    BOOST_TEST(creator.try_lock_for(10s, ec));
    BOOST_TEST((ec == errc::owner_dead));
    creator.consistent();
    creator.unlock();
}

BOOST_AUTO_TEST_CASE(timeouts) {
    mutex_name n;
    robust_mutex creator(n, create_opts());
    pipc_test::handshake locked, release;
    const pid_t pid = fork_blocking_holder(n.str(), locked, &release);
    BOOST_REQUIRE(locked.wait() == 'L');
    asio::io_context ctx;
    async_robust_mutex m(ctx, n);
    lock_outcome timed, zero;
    const auto t0 = std::chrono::steady_clock::now();
    m.async_lock_for(30ms, timed.handler());
    run_until(ctx, [&] { return timed.done; });
    BOOST_TEST((timed.ec == pipc::condition::busy));
    BOOST_TEST((timed.ec == boost::system::errc::timed_out));
    BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 30ms));
    BOOST_TEST(!m.owns_lock());
    m.async_lock_for(0s, zero.handler());
    run_until(ctx, [&] { return zero.done; });
    BOOST_TEST((zero.ec == pipc::condition::busy));
    release.signal();
    BOOST_TEST(WIFEXITED(reap(pid)));
    lock_outcome free;
    m.async_lock_for(0s, free.handler()); // a single try on a free mutex succeeds
    run_until(ctx, [&] { return free.done; });
    BOOST_TEST(!free.ec);
    m.unlock();
    check_free(n.str());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(cancellation_and_shutdown, watchdog)

// Cancel vs grant, many rounds: another thread releases the lock while this one emits a terminal
// (or partial) cancellation. Whatever wins, afterwards the mutex is either ours (unlocked exactly
// once) or free, never left held.
BOOST_AUTO_TEST_CASE(cancel_versus_grant_races) {
    mutex_name n;
    asio::io_context ctx;
    async_robust_mutex m(ctx, n, create_opts());
    robust_mutex contender(n);
    std::mt19937 rng(12345);
    int granted = 0, aborted = 0;
    const int rounds = 300;
    for (int round = 0; round < rounds; ++round) {
        // The contender (on a helper thread, which owns the lock) holds it while we start.
        pipc_test::handshake held, go;
        std::thread t([&] {
            contender.lock();
            held.signal();
            go.wait();
            contender.unlock();
        });
        held.wait();
        asio::cancellation_signal sig;
        lock_outcome out;
        m.async_lock(asio::bind_cancellation_slot(sig.slot(), out.handler()));
        const auto spin = rng() % 200;
        go.signal();
        for (unsigned i = 0; i < spin; ++i) std::atomic_signal_fence(std::memory_order_seq_cst);
        sig.emit(round % 2 ? asio::cancellation_type::terminal : asio::cancellation_type::partial);
        t.join();
        run_until(ctx, [&] { return out.done; });
        if (!out.ec) {
            ++granted;
            BOOST_REQUIRE(m.owns_lock());
            m.unlock();
        } else {
            ++aborted;
            BOOST_REQUIRE((out.ec == asio::error::operation_aborted));
            BOOST_REQUIRE(!m.owns_lock());
        }
        error_code ec;
        m.unlock(ec);
        BOOST_REQUIRE((ec == errc::not_owner)); // never a second unlock
        check_free(n.str());
    }
    BOOST_TEST_MESSAGE("cancel vs grant: " << granted << " granted, " << aborted << " aborted");
    BOOST_TEST(aborted > 0);
}

BOOST_AUTO_TEST_CASE(cancel_aborts_every_pending_lock) {
    mutex_name n;
    robust_mutex creator(n, create_opts());
    pipc_test::handshake locked, release;
    const pid_t pid = fork_blocking_holder(n.str(), locked, &release);
    BOOST_REQUIRE(locked.wait() == 'L');
    asio::io_context ctx;
    async_robust_mutex m(ctx, n);
    lock_outcome a, b;
    m.async_lock(a.handler());
    m.async_lock(b.handler());
    m.cancel();
    run_until(ctx, [&] { return a.done && b.done; });
    BOOST_TEST((a.ec == asio::error::operation_aborted));
    BOOST_TEST((b.ec == asio::error::operation_aborted));
    release.signal();
    reap(pid);
    check_free(n.str());
}

// Destroying the object with a lock pending completes it with operation_aborted, joins the
// holder thread and never leaves the mutex held.
BOOST_AUTO_TEST_CASE(destruction_with_a_pending_lock) {
    mutex_name n;
    robust_mutex creator(n, create_opts());
    pipc_test::handshake locked, release;
    const pid_t pid = fork_blocking_holder(n.str(), locked, &release);
    BOOST_REQUIRE(locked.wait() == 'L');
    asio::io_context ctx;
    lock_outcome out;
    {
        async_robust_mutex m(ctx, n);
        m.async_lock(out.handler());
        ctx.poll();
    }
    run_until(ctx, [&] { return out.done; });
    BOOST_TEST((out.ec == asio::error::operation_aborted));
    release.signal();
    reap(pid);
    check_free(n.str());
}

// Closing before the granted completion ran (or before the holder even locked): the lock goes
// back by itself, cleanly (the next locker sees acquired, not owner_dead).
BOOST_AUTO_TEST_CASE(close_before_the_grant_is_delivered) {
    mutex_name n;
    robust_mutex creator(n, create_opts());
    for (int round = 0; round < 50; ++round) {
        asio::io_context ctx;
        lock_outcome out;
        async_robust_mutex m(ctx, n);
        m.async_lock(out.handler());
        for (int i = 0; i < round % 7; ++i) std::this_thread::yield(); // vary who is first
        m.close();
        run_until(ctx, [&] { return out.done; });
        BOOST_REQUIRE((out.ec == asio::error::operation_aborted));
        check_free(n.str());
    }
}

// The completion of a granted lock destroyed without running: the handler is bound to a second
// context that is destroyed while the completion waits in its queue. The holder releases the
// lock by itself, cleanly.
BOOST_AUTO_TEST_CASE(granted_completion_destroyed_without_running) {
    mutex_name n;
    robust_mutex creator(n, create_opts());
    asio::io_context ctx;
    async_robust_mutex m(ctx, n);
    for (int round = 0; round < 20; ++round) {
        bool called = false;
        {
            asio::io_context other;
            m.async_lock(
                asio::bind_executor(other, [&](error_code, lock_result) { called = true; }));
            // The completion runs on ctx first, which hands it to `other`.
            const auto until = std::chrono::steady_clock::now() + 20s;
            ctx.restart();
            while (ctx.run_one_for(100ms) == 0)
                BOOST_REQUIRE(std::chrono::steady_clock::now() < until);
        } // `other` is destroyed with the completion queued
        BOOST_TEST(!called);
        BOOST_TEST(!m.owns_lock());
        check_free(n.str());
    }
}

// close() never unlocks a delivered lock: the holder thread ends holding it, and the next locker
// (here in this process) sees owner_dead.
BOOST_AUTO_TEST_CASE(close_while_owned_leaves_owner_dead) {
    mutex_name n;
    asio::io_context ctx;
    async_robust_mutex m(ctx, n, create_opts());
    lock_outcome out;
    m.async_lock(out.handler());
    run_until(ctx, [&] { return out.done; });
    BOOST_REQUIRE(!out.ec);
    m.close();
    BOOST_TEST(!m.owns_lock());
    robust_mutex probe(n);
    error_code ec;
    BOOST_TEST(probe.try_lock_for(10s, ec));
    BOOST_TEST((ec == errc::owner_dead));
    probe.consistent();
    probe.unlock();
}

// A lock taken with owner_dead that is cancelled is not released (that would make the mutex
// unrecoverable) but left owner-dead for the next locker; the object keeps working.
BOOST_AUTO_TEST_CASE(an_undelivered_owner_dead_lock_stays_owner_dead) {
    mutex_name n;
    robust_mutex creator(n, create_opts());
    asio::io_context ctx;
    async_robust_mutex m(ctx, n);
    for (int round = 0; round < 20; ++round) {
        pipc_test::handshake locked;
        const pid_t pid = fork_blocking_holder(n.str(), locked, nullptr);
        BOOST_REQUIRE(locked.wait() == 'L');
        ::kill(pid, SIGKILL);
        reap(pid);
        // The mutex is owner-dead now. Lock and cancel at once: whoever wins, nobody may see it
        // consistent before it is repaired.
        asio::cancellation_signal sig;
        lock_outcome out;
        m.async_lock(asio::bind_cancellation_slot(sig.slot(), out.handler()));
        sig.emit(asio::cancellation_type::terminal);
        run_until(ctx, [&] { return out.done; });
        if (!out.ec) {
            BOOST_REQUIRE((out.result == lock_result::owner_dead));
            m.consistent();
            m.unlock();
            check_free(n.str());
        } else {
            // Next locker: owner_dead still, from a lock of ours again (through a successor
            // holder when the first one abandoned it).
            lock_outcome again;
            m.async_lock(again.handler());
            run_until(ctx, [&] { return again.done; });
            BOOST_REQUIRE(!again.ec);
            BOOST_REQUIRE((again.result == lock_result::owner_dead));
            m.consistent();
            m.unlock();
            check_free(n.str());
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(forked_child, watchdog)

/// Runs handlers until `done()` holds or 10 s pass; for forked children, where a failed
/// Boost.Test requirement would not reach the parent.
bool run_in_child_until(asio::io_context& ctx, const std::function<bool()>& done) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    ctx.restart();
    while (!done()) {
        if (std::chrono::steady_clock::now() >= until) return false;
        ctx.run_one_for(100ms);
    }
    return true;
}

// A child forked while the holder thread owns the lock (and a second lock of the same object
// waits behind it) has the object but not the thread, and the lock is the parent's. The child
// must see neither as its own: no lock owned, unlock refused, the copy of the pending operation
// aborted (the parent completes the original), a lock of its own that waits for the parent's
// unlock instead of forever, and a close that does not wait for the parent's thread. Not under
// TSan, which stops a child of a multi-threaded fork that starts threads (and would call the
// child's lock a double lock of the parent's).
BOOST_AUTO_TEST_CASE(a_forked_child_uses_an_inherited_object_as_its_own,
                     *boost::unit_test::precondition(pipc_test::not_under_thread_sanitizer)) {
    mutex_name n;
    asio::io_context ctx;
    async_robust_mutex m(ctx, n, create_opts());
    lock_outcome first, second;
    m.async_lock(first.handler());
    run_until(ctx, [&] { return first.done; });
    BOOST_REQUIRE(!first.ec);
    m.async_lock(second.handler()); // waits for our own unlock
    // The holder must not be inside the state's mutex at the fork: it has gone to sleep.
    BOOST_TEST_REQUIRE(pipc_test::other_threads_asleep());
    pipc_test::handshake child_timed_out, parent_unlocked;
    ctx.notify_fork(asio::execution_context::fork_prepare);
    pipc_test::child_process child(
        [&] {
            ctx.notify_fork(asio::execution_context::fork_child);
            if (m.owns_lock()) return false;
            error_code ec;
            m.unlock(ec);
            if (ec != errc::not_owner) return false;
            lock_outcome mine;
            m.async_lock_for(200ms, mine.handler());
            if (!run_in_child_until(ctx, [&] { return mine.done && second.done; })) return false;
            if (second.ec != asio::error::operation_aborted || mine.ec != pipc::condition::busy)
                return false;
            child_timed_out.signal();
            if (parent_unlocked.wait() != 'U') return false;
            lock_outcome again;
            m.async_lock(again.handler());
            if (!run_in_child_until(ctx, [&] { return again.done; }) || again.ec) return false;
            if (!m.owns_lock()) return false;
            // The child's own holder asleep on the object's condition variable, which the copy
            // still counted the parent's holder a waiter of: the notifies of unlock() and close()
            // must reach it (they blocked forever in glibc's group switch before).
            if (!pipc_test::other_threads_asleep()) return false;
            m.unlock();
            m.close();
            robust_mutex probe(n.str());
            const bool free = probe.try_lock_for(10s, ec) && !ec;
            if (free) probe.unlock();
            return free;
        },
        30);
    ctx.notify_fork(asio::execution_context::fork_parent);
    BOOST_REQUIRE(child_timed_out.wait() == '!');
    BOOST_TEST(m.owns_lock());
    m.unlock();
    run_until(ctx, [&] { return second.done; });
    BOOST_TEST(!second.ec);
    BOOST_TEST(second.calls == 1);
    m.unlock();
    check_free(n.str());
    parent_unlocked.signal('U');
    BOOST_TEST(child.succeeded());
    check_free(n.str());
}

BOOST_AUTO_TEST_SUITE_END()

// The opt-in fast path (set_lock_on_calling_thread): an uncontended lock is taken by the thread
// that calls async_lock, completes through a post, and is unlocked inline by that thread only.
BOOST_FIXTURE_TEST_SUITE(lock_on_the_calling_thread, watchdog)

namespace {

/// What a second handle on *this* thread gets: already_owner when this thread owns the mutex
/// (the fast path took it here), busy when another thread (the holder) owns it.
error_code probe_here(const std::string& name) {
    robust_mutex probe(name);
    error_code ec;
    if (probe.try_lock(ec)) {
        probe.unlock();
        return {};
    }
    return ec;
}

} // namespace

BOOST_AUTO_TEST_CASE(an_uncontended_lock_is_taken_by_the_calling_thread) {
    mutex_name n;
    asio::io_context ctx;
    async_robust_mutex m(ctx, n, create_opts());
    BOOST_TEST(!m.lock_on_calling_thread());
    m.set_lock_on_calling_thread(true);
    BOOST_TEST(m.lock_on_calling_thread());
    for (int round = 0; round < 3; ++round) {
        lock_outcome out;
        m.async_lock(out.handler());
        BOOST_TEST(!out.done); // posted, never run inside the initiating call
        BOOST_TEST((probe_here(n.str()) == errc::already_owner)); // this thread owns it
        run_until(ctx, [&] { return out.done; });
        BOOST_TEST(!out.ec);
        BOOST_TEST((out.result == lock_result::acquired));
        BOOST_TEST(m.owns_lock());
        m.unlock();
        // Released inline: free at once, for this thread too.
        BOOST_TEST(!m.owns_lock());
        BOOST_TEST(!probe_here(n.str()));
        check_free(n.str());
    }
    // Off again: the holder thread takes it.
    m.set_lock_on_calling_thread(false);
    lock_outcome out;
    m.async_lock(out.handler());
    run_until(ctx, [&] { return out.done; });
    BOOST_REQUIRE(!out.ec);
    BOOST_TEST((probe_here(n.str()) != errc::already_owner));
    m.unlock();
    check_free(n.str());
}

BOOST_AUTO_TEST_CASE(unlock_and_consistent_from_another_thread_are_refused) {
    mutex_name n;
    asio::io_context ctx;
    async_robust_mutex m(ctx, n, create_opts());
    m.set_lock_on_calling_thread(true);
    lock_outcome out;
    m.async_lock(out.handler());
    run_until(ctx, [&] { return out.done; });
    BOOST_REQUIRE(!out.ec);
    error_code unlock_ec, consistent_ec;
    std::thread([&] {
        m.unlock(unlock_ec);
        m.consistent(consistent_ec);
    }).join();
    BOOST_TEST((unlock_ec == errc::not_owner));
    BOOST_TEST((unlock_ec == pipc::condition::permissions));
    BOOST_TEST((consistent_ec == errc::not_owner));
    BOOST_TEST(m.owns_lock()); // nothing changed
    BOOST_TEST((probe_here(n.str()) == errc::already_owner));
    m.unlock();
    check_free(n.str());
}

// Contended: the fast path fails and the request goes to the holder (which waits for the
// blocking owner, and can be cancelled as always); a second request while the fast path's lock
// is held waits for its unlock, first come, first served.
BOOST_AUTO_TEST_CASE(contended_requests_go_to_the_holder) {
    mutex_name n;
    asio::io_context ctx;
    async_robust_mutex m(ctx, n, create_opts());
    m.set_lock_on_calling_thread(true);
    lock_outcome first, second;
    m.async_lock(first.handler());
    m.async_lock(second.handler()); // queued behind the first
    run_until(ctx, [&] { return first.done; });
    BOOST_REQUIRE(!first.ec);
    ctx.restart();
    ctx.poll();
    BOOST_TEST(!second.done);
    m.unlock(); // inline; the holder, waiting in clocklock, gets it
    run_until(ctx, [&] { return second.done; });
    BOOST_REQUIRE(!second.ec);
    BOOST_TEST((probe_here(n.str()) != errc::already_owner)); // the holder has it
    std::thread([&] { m.unlock(); }).join(); // a holder lock: any thread may unlock
    check_free(n.str());

    pipc_test::handshake locked, release;
    const pid_t pid = fork_blocking_holder(n.str(), locked, &release);
    BOOST_REQUIRE(locked.wait() == 'L');
    asio::cancellation_signal sig;
    lock_outcome busy;
    m.async_lock(asio::bind_cancellation_slot(sig.slot(), busy.handler()));
    sig.emit(asio::cancellation_type::terminal);
    run_until(ctx, [&] { return busy.done; });
    BOOST_TEST((busy.ec == asio::error::operation_aborted));
    BOOST_TEST(!m.owns_lock());
    release.signal();
    reap(pid);
    check_free(n.str());
}

// A cancellation after the fast path granted the lock has no effect: the operation succeeds and
// the caller owns (and unlocks) it; nothing is left held either way.
BOOST_AUTO_TEST_CASE(cancellation_after_a_fast_path_grant) {
    mutex_name n;
    asio::io_context ctx;
    async_robust_mutex m(ctx, n, create_opts());
    m.set_lock_on_calling_thread(true);
    for (int round = 0; round < 20; ++round) {
        asio::cancellation_signal sig;
        lock_outcome out;
        m.async_lock(asio::bind_cancellation_slot(sig.slot(), out.handler()));
        sig.emit(round % 2 ? asio::cancellation_type::terminal : asio::cancellation_type::partial);
        m.cancel();
        run_until(ctx, [&] { return out.done; });
        BOOST_REQUIRE(!out.ec);
        BOOST_REQUIRE(m.owns_lock());
        m.unlock();
        check_free(n.str());
    }
    // Cancelled from another thread while the grant is posted: same outcome.
    for (int round = 0; round < 50; ++round) {
        asio::cancellation_signal sig;
        lock_outcome out;
        m.async_lock(asio::bind_cancellation_slot(sig.slot(), out.handler()));
        std::thread t([&] { m.cancel(); });
        run_until(ctx, [&] { return out.done; });
        t.join();
        BOOST_REQUIRE(!out.ec);
        m.unlock();
        check_free(n.str());
    }
}

// close() or the completion's destruction before delivery: the lock the fast path took goes
// back on this thread, cleanly (the next locker sees acquired, not owner_dead).
BOOST_AUTO_TEST_CASE(an_undelivered_fast_path_lock_goes_back) {
    mutex_name n;
    robust_mutex creator(n, create_opts());
    {
        asio::io_context ctx;
        lock_outcome out;
        async_robust_mutex m(ctx, n);
        m.set_lock_on_calling_thread(true);
        m.async_lock(out.handler());
        BOOST_TEST((probe_here(n.str()) == errc::already_owner));
        m.close();
        run_until(ctx, [&] { return out.done; });
        BOOST_TEST((out.ec == asio::error::operation_aborted));
        check_free(n.str());
    }
    {
        bool called = false;
        {
            asio::io_context ctx;
            async_robust_mutex m(ctx, n);
            m.set_lock_on_calling_thread(true);
            m.async_lock([&](error_code, lock_result) { called = true; });
            BOOST_TEST((probe_here(n.str()) == errc::already_owner));
        } // the object, then the context with the completion queued
        BOOST_TEST(!called);
        error_code ec;
        robust_mutex probe(n);
        BOOST_REQUIRE(probe.try_lock(ec));
        BOOST_TEST(!ec); // acquired, not owner_dead
        probe.unlock();
    }
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
// No holder thread can be started (fault injection through the syscall table).

BOOST_FIXTURE_TEST_SUITE(no_holder_thread, watchdog)

namespace {

std::atomic<int> threads_allowed{0}; ///< Holder starts that still succeed.
std::atomic<int> thread_starts{0};

int limited_threads(::pthread_t* t, const ::pthread_attr_t* attr, void* (*start)(void*),
                    void* arg) {
    ++thread_starts;
    if (threads_allowed.fetch_sub(1) > 0)
        return pipc::detail::real_sys().pthread_create(t, attr, start, arg);
    return EAGAIN; // as under RLIMIT_NPROC, or with no memory for a stack
}

constexpr auto no_thread = boost::system::errc::resource_unavailable_try_again; // EAGAIN

} // namespace

// A lock that has to wait for the holder, which cannot be started: it completes with the error
// of the start, once, through the context (never inside async_lock), and leaves no work behind;
// the next lock starts the holder again. With the fast path on, the try on the calling thread
// fails first (the mutex is held) and the same happens.
BOOST_AUTO_TEST_CASE(no_holder_thread_fails_the_lock_and_the_next_one_retries) {
    mutex_name n;
    pipc_test::fault_scope faults;
    robust_mutex other(n, create_opts());
    other.lock(); // held by another object: the request must wait, on a holder
    asio::io_context ctx;
    pipc_test::io_thread = std::this_thread::get_id();
    pipc_test::work_released_elsewhere = 0;
    pipc::basic_async_robust_mutex m(pipc_test::work_release_executor_of(ctx), n);
    for (const bool fast : {false, true}) {
        BOOST_TEST_CONTEXT("fast path " << fast) {
            m.set_lock_on_calling_thread(fast);
            threads_allowed = 0;
            thread_starts = 0;
            faults.table().pthread_create = limited_threads;
            int calls = 0;
            error_code ec;
            auto owned = std::make_shared<int>(0);
            const std::weak_ptr<int> handler_alive = owned;
            m.async_lock([&calls, &ec, owned = std::move(owned)](error_code e, lock_result) {
                ++calls;
                ec = e;
            });
            BOOST_TEST(calls == 0); // never inside the initiating call
            BOOST_TEST(thread_starts.load() == 1);
            // The work it held is released: run() returns (bounded: a queued op would hang).
            ctx.restart();
            BOOST_REQUIRE(pipc_test::run_to_completion(ctx, std::chrono::seconds(20)));
            BOOST_TEST(calls == 1);
            BOOST_TEST((ec == no_thread));
            BOOST_TEST(handler_alive.expired()); // the handler (and the operation) went away
            BOOST_TEST(!m.owns_lock());
        }
    }
    // The condition may be transient: the next lock starts the holder and waits on it.
    faults.table().pthread_create = pipc::detail::real_sys().pthread_create;
    lock_outcome next;
    m.async_lock(next.handler());
    ctx.restart();
    ctx.poll();
    BOOST_TEST(!next.done); // the holder waits for `other`
    other.unlock();
    run_until(ctx, [&] { return next.done; });
    BOOST_TEST(next.calls == 1);
    BOOST_TEST(!next.ec);
    BOOST_TEST(m.owns_lock());
    m.unlock();
    BOOST_TEST(pipc_test::work_released_elsewhere == 0);
    check_free(n.str());
}

namespace {

/// Makes the mutex owner-dead: a child takes it and is killed holding it.
void make_owner_dead(const std::string& name) {
    pipc_test::handshake locked;
    const pid_t pid = fork_blocking_holder(name, locked, nullptr);
    BOOST_REQUIRE(locked.wait() == 'L');
    ::kill(pid, SIGKILL);
    reap(pid);
}

/// Has `m`'s holder take the owner-dead lock for a first request and abandon it (the grant is
/// destroyed without running), with `queued` and `timed` waiting behind it and no successor
/// allowed to start. Returns once both have completed.
void abandon_without_a_successor(async_robust_mutex& m, asio::io_context& ctx,
                                 pipc_test::fault_scope& faults, lock_outcome& queued,
                                 lock_outcome& timed) {
    threads_allowed = 1; // the first holder starts, its successor does not
    thread_starts = 0;
    faults.table().pthread_create = limited_threads;
    bool first_called = false;
    {
        asio::io_context elsewhere;
        m.async_lock(
            asio::bind_executor(elsewhere, [&](error_code, lock_result) { first_called = true; }));
        m.async_lock(queued.handler());
        m.async_lock_for(60s, timed.handler());
        // The grant (owner_dead) runs on ctx first, which hands it to `elsewhere`.
        const auto until = std::chrono::steady_clock::now() + 20s;
        ctx.restart();
        while (ctx.run_one_for(100ms) == 0) BOOST_REQUIRE(std::chrono::steady_clock::now() < until);
    } // `elsewhere` is destroyed with the grant queued: the holder abandons the lock
    run_until(ctx, [&] { return queued.done && timed.done; });
    BOOST_TEST(!first_called);
    BOOST_TEST(thread_starts.load() == 2);
    BOOST_TEST((queued.ec == no_thread));
    BOOST_TEST((timed.ec == no_thread));
    ctx.restart();
    BOOST_REQUIRE(pipc_test::run_to_completion(ctx, std::chrono::seconds(20))); // no work left
    BOOST_TEST(queued.calls == 1);
    BOOST_TEST(timed.calls == 1);
    BOOST_TEST(!m.owns_lock());
    faults.table().pthread_create = pipc::detail::real_sys().pthread_create;
}

} // namespace

// The holder abandons an owner-dead lock nobody repairs and its successor cannot be started:
// the requests queued behind it (timed or not) fail with the error instead of waiting for a
// thread that does not exist, and the process goes on. The next lock starts a holder again
// (which joins the one that ended) and gets the abandoned lock, owner-dead.
BOOST_AUTO_TEST_CASE(no_successor_for_an_abandoned_lock_fails_the_queued_locks) {
    mutex_name n;
    robust_mutex creator(n, create_opts());
    pipc_test::fault_scope faults;
    make_owner_dead(n.str());
    asio::io_context ctx;
    async_robust_mutex m(ctx, n);
    lock_outcome queued, timed;
    abandon_without_a_successor(m, ctx, faults, queued, timed);

    lock_outcome again;
    m.async_lock(again.handler());
    run_until(ctx, [&] { return again.done; });
    BOOST_TEST(again.calls == 1);
    BOOST_REQUIRE(!again.ec);
    BOOST_TEST((again.result == lock_result::owner_dead));
    m.consistent();
    m.unlock();
    check_free(n.str());
}

// The same, then close(): it joins the holder that ended (no successor to join it) and the lock
// stays owner-dead for the next locker.
BOOST_AUTO_TEST_CASE(close_after_an_abandon_without_a_successor) {
    mutex_name n;
    robust_mutex creator(n, create_opts());
    pipc_test::fault_scope faults;
    make_owner_dead(n.str());
    asio::io_context ctx;
    async_robust_mutex m(ctx, n);
    lock_outcome queued, timed;
    abandon_without_a_successor(m, ctx, faults, queued, timed);
    m.close();
    robust_mutex probe(n);
    error_code ec;
    BOOST_REQUIRE(probe.try_lock_for(10s, ec));
    BOOST_TEST((ec == errc::owner_dead));
    probe.consistent();
    probe.unlock();
    check_free(n.str());
}

BOOST_AUTO_TEST_SUITE_END()
