// SPDX-License-Identifier: BSL-1.0
// examples/asio_semaphore_lock.cpp - a named semaphore as a cross-process lock.
//
// Four processes (this one and three forked peers) each run eight coroutines that increment a
// counter in shared memory 100 times. Each increment reads the counter, yields to the other
// coroutines while holding the lock, then writes it back: without the lock, updates would be
// lost. With it, the final count is exact. Everything is unlinked at the end.
#include <pipc/asio/async_semaphore.hpp>
#include <pipc/shared_memory.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

namespace asio = boost::asio;

constexpr int processes = 4;
constexpr int coroutines_per_process = 8;
constexpr int increments = 100;

asio::awaitable<void> increment(pipc::async_semaphore& lock, std::uint64_t& counter) {
    for (int i = 0; i < increments; ++i) {
        co_await lock.async_acquire(asio::use_awaitable);
        const std::uint64_t seen = counter;
        // Let every other coroutine of this process run while we hold the lock.
        co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
        counter = seen + 1;
        lock.release();
    }
}

/// One participant: its own io_context, its own handles, the same named objects.
void participate(const std::string& lock_name, const std::string& counter_name) {
    asio::io_context ctx;
    pipc::async_semaphore lock(ctx, lock_name);
    pipc::shared_memory shm(counter_name);
    const pipc::mapping map = shm.map();
    std::uint64_t& counter = map.as<std::uint64_t>();
    for (int c = 0; c < coroutines_per_process; ++c)
        asio::co_spawn(ctx, increment(lock, counter), [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    ctx.run();
}

int main() {
    // Generated names, created exclusively: nothing else can be using them.
    pipc::semaphore lock(pipc::unique_name,
                         {.open = pipc::open_mode::create_exclusive, .initial_value = 1});
    pipc::shared_memory shm(pipc::unique_name,
                            {.open = pipc::open_mode::create_exclusive, .size = 8});
    const std::string lock_name = lock.name(), counter_name = shm.name();
    int status = 0;
    try {
        // Fork the peers before this process starts any thread (the waiter pool starts lazily).
        std::vector<pid_t> peers;
        for (int p = 1; p < processes; ++p) {
            std::fflush(nullptr);
            const pid_t pid = ::fork();
            if (pid < 0) throw std::runtime_error("fork failed");
            if (pid == 0) {
                int rc = 0;
                try {
                    participate(lock_name, counter_name);
                } catch (const std::exception& e) {
                    std::cerr << "peer: " << e.what() << '\n';
                    rc = 1;
                }
                ::_exit(rc);
            }
            peers.push_back(pid);
        }
        participate(lock_name, counter_name);
        for (pid_t pid : peers) {
            int st = 0;
            ::waitpid(pid, &st, 0);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) status = 1;
        }
        const std::uint64_t expected =
            std::uint64_t{processes} * coroutines_per_process * increments;
        const std::uint64_t got = shm.map_read_only().as<std::uint64_t>();
        std::cout << processes << " processes x " << coroutines_per_process << " coroutines x "
                  << increments << " increments: counter = " << got << " (expected " << expected
                  << ")\n";
        if (got != expected || lock.value() != 1) status = 1;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << '\n';
        status = 1;
    }
    lock.unlink();
    shm.unlink();
    return status;
}
