// SPDX-License-Identifier: BSL-1.0
// examples/asio_semaphore_producer_consumer.cpp - "data ready" signalling between two processes
// through a shared-memory buffer and two named semaphores, both sides written as coroutines.
//
// `slot_free` (initially 1) says the producer may write the buffer, `data_ready` (initially 0)
// says the consumer may read it. The producer is a forked child; the consumer checks every
// message and the final "quit". Everything is unlinked at the end.
#include <pipc/asio/async_semaphore.hpp>
#include <pipc/shared_memory.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

namespace asio = boost::asio;

constexpr int messages = 20;

/// The layout of the shared buffer (trivially copyable, so it can live in shared memory).
struct slot {
    std::uint32_t length;
    char text[252];
};

struct names {
    std::string buffer, slot_free, data_ready;
};

std::string message_text(int i) {
    return "message #" + std::to_string(i);
}

asio::awaitable<void> produce(const names& n) {
    auto ex = co_await asio::this_coro::executor;
    pipc::async_semaphore slot_free(ex, n.slot_free), data_ready(ex, n.data_ready);
    pipc::shared_memory shm(n.buffer);
    const pipc::mapping map = shm.map();
    slot& s = map.as<slot>();
    for (int i = 0; i <= messages; ++i) {
        co_await slot_free.async_acquire_for(std::chrono::seconds(20), asio::use_awaitable);
        const std::string text = i < messages ? message_text(i) : "quit";
        std::memcpy(s.text, text.data(), text.size());
        s.length = static_cast<std::uint32_t>(text.size());
        data_ready.release(); // the post is the "data ready" signal (and a memory barrier)
    }
}

asio::awaitable<bool> consume(const names& n) {
    auto ex = co_await asio::this_coro::executor;
    pipc::async_semaphore slot_free(ex, n.slot_free), data_ready(ex, n.data_ready);
    pipc::shared_memory shm(n.buffer);
    const pipc::mapping map = shm.map();
    const slot& s = map.as<slot>();
    for (int i = 0;; ++i) {
        // A timed wait, so a dead producer cannot hang the example.
        co_await data_ready.async_acquire_for(std::chrono::seconds(20), asio::use_awaitable);
        const std::string text(s.text, s.length);
        slot_free.release();
        std::cout << "consumer got \"" << text << "\"\n";
        if (text == "quit") co_return i == messages;
        if (text != message_text(i)) co_return false;
    }
}

int main() {
    pipc::shared_memory buffer(pipc::unique_name,
                               {.open = pipc::open_mode::create_exclusive, .size = sizeof(slot)});
    pipc::semaphore slot_free(pipc::unique_name,
                              {.open = pipc::open_mode::create_exclusive, .initial_value = 1});
    pipc::semaphore data_ready(pipc::unique_name, {.open = pipc::open_mode::create_exclusive});
    const names n{buffer.name(), slot_free.name(), data_ready.name()};
    int status = 1;
    try {
        std::fflush(nullptr);
        const pid_t producer = ::fork(); // before any thread exists in this process
        if (producer < 0) throw std::runtime_error("fork failed");
        if (producer == 0) {
            int rc = 0;
            try {
                asio::io_context ctx;
                asio::co_spawn(ctx, produce(n), [](std::exception_ptr e) {
                    if (e) std::rethrow_exception(e);
                });
                ctx.run();
            } catch (const std::exception& e) {
                std::cerr << "producer: " << e.what() << '\n';
                rc = 1;
            }
            ::_exit(rc);
        }
        asio::io_context ctx;
        bool ok = false;
        asio::co_spawn(ctx, consume(n), [&](std::exception_ptr e, bool result) {
            if (e) std::rethrow_exception(e);
            ok = result;
        });
        ctx.run();
        int st = 0;
        ::waitpid(producer, &st, 0);
        if (ok && WIFEXITED(st) && WEXITSTATUS(st) == 0) status = 0;
        std::cout << (status == 0 ? "all messages received in order\n" : "FAILED\n");
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << '\n';
    }
    buffer.unlink();
    slot_free.unlink();
    data_ready.unlink();
    return status;
}
