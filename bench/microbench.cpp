// SPDX-License-Identifier: BSL-1.0
// pipc-microbench: single-process per-call overheads, pipc's call next to the raw syscall it
// wraps. Nothing blocks: every pair leaves the object as it found it.
#include <pipc/channel.hpp>
#include <pipc/message_queue.hpp>
#include <pipc/name.hpp>
#if __has_include(<pipc/robust_mutex.hpp>)
#include <pipc/robust_mutex.hpp>
#endif
#include <pipc/semaphore.hpp>
#include <pipc/shared_memory.hpp>

#if __has_include(<pipc/asio/async_semaphore.hpp>)
#include <pipc/asio/async_semaphore.hpp>
#endif
#if __has_include(<pipc/asio/async_message_queue.hpp>)
#include <pipc/asio/async_message_queue.hpp>
#endif
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>

namespace {

/// A fresh named object per benchmark, unlinked at once (the handle keeps it alive).
struct queue_fixture {
    pipc::message_queue q;
    explicit queue_fixture(long size = 64) {
        pipc::message_queue::options o;
        o.open = pipc::open_mode::create_exclusive;
        o.max_messages = 10;
        o.max_message_size = size;
        q.open(pipc::unique_name, o);
        q.unlink();
    }
};

struct sem_fixture {
    pipc::semaphore s;
    sem_fixture() {
        pipc::semaphore::options o;
        s.open(pipc::unique_name, o);
        s.unlink();
    }
};

timespec expired() {
    return timespec{0, 0};
}

void BM_mq_raw_timedsend_timedreceive(benchmark::State& st) {
    queue_fixture f;
    std::array<char, 64> msg{}, buf{};
    const timespec ts = expired();
    for (auto _ : st) {
        if (::mq_timedsend(f.q.native_handle(), msg.data(), msg.size(), 0, &ts) != 0)
            st.SkipWithError("mq_timedsend");
        if (::mq_timedreceive(f.q.native_handle(), buf.data(), buf.size(), nullptr, &ts) < 0)
            st.SkipWithError("mq_timedreceive");
    }
}
BENCHMARK(BM_mq_raw_timedsend_timedreceive);

void BM_mq_raw_send_receive(benchmark::State& st) {
    queue_fixture f;
    std::array<char, 64> msg{}, buf{};
    for (auto _ : st) {
        ::mq_send(f.q.native_handle(), msg.data(), msg.size(), 0);
        ::mq_receive(f.q.native_handle(), buf.data(), buf.size(), nullptr);
    }
}
BENCHMARK(BM_mq_raw_send_receive);

void BM_mq_pipc_try_send_try_receive(benchmark::State& st) {
    queue_fixture f;
    std::array<std::byte, 64> msg{}, buf{};
    for (auto _ : st) {
        if (!f.q.try_send(msg)) st.SkipWithError("try_send");
        auto r = f.q.try_receive(buf);
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(BM_mq_pipc_try_send_try_receive);

void BM_mq_pipc_send_receive(benchmark::State& st) {
    queue_fixture f;
    std::array<std::byte, 64> msg{}, buf{};
    for (auto _ : st) {
        f.q.send(std::span<const std::byte>(msg));
        auto r = f.q.receive(std::span<std::byte>(buf));
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(BM_mq_pipc_send_receive);

void BM_mq_pipc_try_receive_empty(benchmark::State& st) {
    queue_fixture f;
    std::array<std::byte, 64> buf{};
    for (auto _ : st) {
        auto r = f.q.try_receive(buf);
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(BM_mq_pipc_try_receive_empty);

void BM_mq_raw_timedreceive_empty(benchmark::State& st) {
    queue_fixture f;
    std::array<char, 64> buf{};
    const timespec ts = expired();
    for (auto _ : st) {
        auto r = ::mq_timedreceive(f.q.native_handle(), buf.data(), buf.size(), nullptr, &ts);
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(BM_mq_raw_timedreceive_empty);

void BM_mq_raw_getattr(benchmark::State& st) {
    queue_fixture f;
    mq_attr a{};
    for (auto _ : st) {
        ::mq_getattr(f.q.native_handle(), &a);
        benchmark::DoNotOptimize(a);
    }
}
BENCHMARK(BM_mq_raw_getattr);

void BM_mq_pipc_current_messages(benchmark::State& st) {
    queue_fixture f;
    for (auto _ : st) benchmark::DoNotOptimize(f.q.current_messages());
}
BENCHMARK(BM_mq_pipc_current_messages);

void BM_sem_raw_post_trywait(benchmark::State& st) {
    sem_fixture f;
    for (auto _ : st) {
        ::sem_post(f.s.native_handle());
        ::sem_trywait(f.s.native_handle());
    }
}
BENCHMARK(BM_sem_raw_post_trywait);

void BM_sem_pipc_release_try_acquire(benchmark::State& st) {
    sem_fixture f;
    for (auto _ : st) {
        f.s.release();
        benchmark::DoNotOptimize(f.s.try_acquire());
    }
}
BENCHMARK(BM_sem_pipc_release_try_acquire);

void BM_sem_raw_post_wait(benchmark::State& st) {
    sem_fixture f;
    for (auto _ : st) {
        ::sem_post(f.s.native_handle());
        ::sem_wait(f.s.native_handle());
    }
}
BENCHMARK(BM_sem_raw_post_wait);

void BM_sem_pipc_release_acquire(benchmark::State& st) {
    sem_fixture f;
    for (auto _ : st) {
        f.s.release();
        f.s.acquire();
    }
}
BENCHMARK(BM_sem_pipc_release_acquire);

void BM_sem_raw_trywait_empty(benchmark::State& st) {
    sem_fixture f;
    for (auto _ : st) benchmark::DoNotOptimize(::sem_trywait(f.s.native_handle()));
}
BENCHMARK(BM_sem_raw_trywait_empty);

void BM_sem_pipc_try_acquire_empty(benchmark::State& st) {
    sem_fixture f;
    for (auto _ : st) benchmark::DoNotOptimize(f.s.try_acquire());
}
BENCHMARK(BM_sem_pipc_try_acquire_empty);

void BM_sem_raw_getvalue(benchmark::State& st) {
    sem_fixture f;
    int v = 0;
    for (auto _ : st) {
        ::sem_getvalue(f.s.native_handle(), &v);
        benchmark::DoNotOptimize(v);
    }
}
BENCHMARK(BM_sem_raw_getvalue);

void BM_sem_pipc_value(benchmark::State& st) {
    sem_fixture f;
    for (auto _ : st) benchmark::DoNotOptimize(f.s.value());
}
BENCHMARK(BM_sem_pipc_value);

void BM_sem_raw_open_close(benchmark::State& st) {
    sem_fixture f;
    pipc::semaphore named(pipc::unique_name);
    const std::string name = named.name();
    for (auto _ : st) {
        sem_t* p = ::sem_open(name.c_str(), 0);
        benchmark::DoNotOptimize(p);
        ::sem_close(p);
    }
    named.unlink();
}
BENCHMARK(BM_sem_raw_open_close);

void BM_sem_pipc_open_close(benchmark::State& st) {
    pipc::semaphore named(pipc::unique_name);
    const std::string name = named.name();
    for (auto _ : st) {
        pipc::semaphore s(name);
        benchmark::DoNotOptimize(s.native_handle());
    }
    named.unlink();
}
BENCHMARK(BM_sem_pipc_open_close);

void BM_shm_raw_fstat(benchmark::State& st) {
    pipc::shared_memory::options o;
    o.size = 4096;
    pipc::shared_memory m(pipc::unique_name, o);
    m.unlink();
    struct stat sb {};
    for (auto _ : st) {
        ::fstat(m.native_handle(), &sb);
        benchmark::DoNotOptimize(sb);
    }
}
BENCHMARK(BM_shm_raw_fstat);

void BM_shm_pipc_size(benchmark::State& st) {
    pipc::shared_memory::options o;
    o.size = 4096;
    pipc::shared_memory m(pipc::unique_name, o);
    m.unlink();
    for (auto _ : st) benchmark::DoNotOptimize(m.size());
}
BENCHMARK(BM_shm_pipc_size);

/// The bench's instrument: two clock reads per recorded sample.
void BM_clock_gettime_monotonic(benchmark::State& st) {
    timespec ts;
    for (auto _ : st) {
        ::clock_gettime(CLOCK_MONOTONIC, &ts);
        benchmark::DoNotOptimize(ts);
    }
}
BENCHMARK(BM_clock_gettime_monotonic);

#if __has_include(<pipc/asio/async_semaphore.hpp>)
/// A free semaphore: co_await async_acquire completes without a thread hop (target: within 2x
/// of a bare sem_trywait; compare with BM_sem_raw_post_trywait / BM_sem_pipc_release_try_acquire).
void BM_sem_pipc_async_release_acquire(benchmark::State& st) {
    boost::asio::io_context ctx(1);
    sem_fixture f;
    pipc::async_semaphore s(ctx, std::move(f.s));
    boost::asio::co_spawn(
        ctx,
        [&]() -> boost::asio::awaitable<void> {
            for (auto _ : st) {
                s.release();
                co_await s.async_acquire(boost::asio::use_awaitable);
            }
        },
        boost::asio::detached);
    ctx.run();
}
BENCHMARK(BM_sem_pipc_async_release_acquire);
#endif

#if __has_include(<pipc/asio/async_message_queue.hpp>)
/// Never waits: a send then a receive on one queue, both through co_await (the async path's
/// cost when the kernel can proceed at once; compare with BM_mq_pipc_send_receive).
void BM_mq_pipc_async_send_receive(benchmark::State& st) {
    boost::asio::io_context ctx(1);
    queue_fixture f;
    pipc::async_message_queue q(ctx, std::move(f.q));
    std::array<std::byte, 64> msg{}, buf{};
    boost::asio::co_spawn(
        ctx,
        [&]() -> boost::asio::awaitable<void> {
            for (auto _ : st) {
                co_await q.async_send(boost::asio::buffer(msg), 0u, boost::asio::use_awaitable);
                auto r =
                    co_await q.async_receive(boost::asio::buffer(buf), boost::asio::use_awaitable);
                benchmark::DoNotOptimize(r);
            }
        },
        boost::asio::detached);
    ctx.run();
}
BENCHMARK(BM_mq_pipc_async_send_receive);
#endif

#if __has_include(<pipc/robust_mutex.hpp>)
/// The raw floor for the robust mutex: a bare process-shared, robust, error-checking pthread
/// mutex (the same kind pipc::robust_mutex uses), in a shared mapping.
void BM_robust_raw_lock_unlock(benchmark::State& st) {
    void* mem = ::mmap(nullptr, sizeof(::pthread_mutex_t), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    auto* m = static_cast<::pthread_mutex_t*>(mem);
    ::pthread_mutexattr_t a;
    ::pthread_mutexattr_init(&a);
    ::pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    ::pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    ::pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
    ::pthread_mutex_init(m, &a);
    ::pthread_mutexattr_destroy(&a);
    for (auto _ : st) {
        benchmark::DoNotOptimize(::pthread_mutex_lock(m));
        benchmark::DoNotOptimize(::pthread_mutex_unlock(m));
    }
    ::pthread_mutex_destroy(m);
    ::munmap(mem, sizeof(::pthread_mutex_t));
}
BENCHMARK(BM_robust_raw_lock_unlock);

void BM_robust_pipc_lock_unlock(benchmark::State& st) {
    pipc::robust_mutex m(pipc::unique_name);
    m.unlink(); // the handle keeps it alive
    for (auto _ : st) {
        benchmark::DoNotOptimize(m.lock());
        m.unlock();
    }
}
BENCHMARK(BM_robust_pipc_lock_unlock);

void BM_robust_pipc_lock_unlock_ec(benchmark::State& st) {
    pipc::robust_mutex m(pipc::unique_name);
    m.unlink();
    pipc::error_code ec;
    for (auto _ : st) {
        m.lock(ec);
        m.unlock(ec);
    }
}
BENCHMARK(BM_robust_pipc_lock_unlock_ec);

void BM_robust_pipc_try_lock_unlock(benchmark::State& st) {
    pipc::robust_mutex m(pipc::unique_name);
    m.unlink();
    for (auto _ : st) {
        benchmark::DoNotOptimize(m.try_lock());
        m.unlock();
    }
}
BENCHMARK(BM_robust_pipc_try_lock_unlock);

void BM_robust_raw_trylock_unlock(benchmark::State& st) {
    pipc::robust_mutex m(pipc::unique_name);
    m.unlink();
    for (auto _ : st) {
        benchmark::DoNotOptimize(::pthread_mutex_trylock(m.native_handle()));
        ::pthread_mutex_unlock(m.native_handle());
    }
}
BENCHMARK(BM_robust_raw_trylock_unlock);
#endif
timespec pipc_bench_deadline_in_1ms() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 1'000'000;
    if (ts.tv_nsec >= 1'000'000'000) {
        ts.tv_sec += 1;
        ts.tv_nsec -= 1'000'000'000;
    }
    return ts;
}

/// A fresh channel under a generated name, unlinked when the benchmark ends.
struct channel_fixture {
    std::string name = pipc::generate_name();
    pipc::channel ch;
    explicit channel_fixture(std::uint32_t slots = 64, std::uint32_t size = 64) {
        pipc::channel::options o;
        o.open = pipc::open_mode::create_exclusive;
        o.slot_count = slots;
        o.max_message_size = size;
        ch.open(name, o);
    }
    ~channel_fixture() {
        pipc::error_code ignored;
        pipc::channel::unlink(name, ignored);
    }
    channel_fixture(const channel_fixture&) = delete;
    channel_fixture& operator=(const channel_fixture&) = delete;
};

// Same thread, send then receive of 64 B: the per-message cost with no waiting at all, next to
// BM_mq_raw_timedsend_timedreceive.
void BM_channel_try_send_try_receive(benchmark::State& st) {
    channel_fixture f;
    std::array<std::byte, 64> msg{}, buf{};
    for (auto _ : st) {
        if (!f.ch.try_send(msg)) st.SkipWithError("try_send");
        auto r = f.ch.try_receive(buf);
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(BM_channel_try_send_try_receive);

void BM_channel_loan_publish_view_release(benchmark::State& st) {
    channel_fixture f;
    pipc::error_code ec;
    for (auto _ : st) {
        auto loan = f.ch.try_loan(ec);
        std::memset(loan.buffer().data(), 1, 64);
        loan.publish(64);
        auto v = f.ch.try_receive_view(ec);
        benchmark::DoNotOptimize(v.data().data());
    }
}
BENCHMARK(BM_channel_loan_publish_view_release);

// One-way stream of 64 B messages from a producer thread: one iteration is one message received.
// The producer stops at the end; both block (futex or kernel queue) when the other falls behind.
void BM_channel_oneway_thread(benchmark::State& st) {
    channel_fixture f;
    std::atomic<bool> stop{false};
    std::thread producer([&] {
        pipc::channel tx(f.name);
        std::array<std::byte, 64> msg{};
        while (!stop.load(std::memory_order_relaxed))
            tx.send_for(msg, std::chrono::milliseconds(1));
    });
    std::array<std::byte, 64> buf{};
    for (auto _ : st) f.ch.receive(buf);
    stop = true;
    while (f.ch.try_receive(buf)) {
    }
    producer.join();
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_channel_oneway_thread)->UseRealTime();

void BM_mq_raw_oneway_thread(benchmark::State& st) {
    queue_fixture f;
    std::atomic<bool> stop{false};
    std::thread producer([&] {
        std::array<char, 64> msg{};
        while (!stop.load(std::memory_order_relaxed)) {
            const timespec ts = pipc_bench_deadline_in_1ms();
            ::mq_timedsend(f.q.native_handle(), msg.data(), msg.size(), 0, &ts);
        }
    });
    std::array<char, 64> buf{};
    for (auto _ : st) ::mq_receive(f.q.native_handle(), buf.data(), buf.size(), nullptr);
    stop = true;
    const timespec zero = expired();
    while (::mq_timedreceive(f.q.native_handle(), buf.data(), buf.size(), nullptr, &zero) >= 0) {
    }
    producer.join();
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_mq_raw_oneway_thread)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
