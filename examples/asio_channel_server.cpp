// SPDX-License-Identifier: BSL-1.0
// asio_channel_server: an Asio server that receives requests from several client processes over
// one MPSC pipc::channel and answers each client over its own SPSC channel, with co_await and no
// helper threads.
//
// Run without arguments: creates the request channel and one reply channel per client, forks
// four clients (blocking pipc::channel calls, 500 requests each), serves them until every client
// said "bye", reaps them, removes every channel (and its doorbells) and exits 0.
#include <pipc/asio/async_channel.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <exception>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace asio = boost::asio;

namespace {

constexpr int clients = 4;
constexpr int requests_each = 500;

// The server's pid names the channels (computed once: the forked clients have other pids).
const std::string& base_name() {
    static const std::string name = "/pipc-example-chan-" + std::to_string(::getpid());
    return name;
}
std::string reply_name(int client) {
    return base_name() + "-reply-" + std::to_string(client);
}

// A client: "<id> <n>" requests, expects "<n*n>" back, then says "<id> bye".
int run_client(int id) {
    try {
        pipc::channel requests(base_name());
        pipc::channel replies(reply_name(id));
        std::array<char, 64> buf{};
        for (int n = 0; n < requests_each; ++n) {
            requests.send(std::to_string(id) + " " + std::to_string(n));
            const auto got = replies.receive_for(std::as_writable_bytes(std::span(buf)),
                                                 std::chrono::seconds(20));
            if (!got || std::string(buf.data(), *got) != std::to_string(n * n)) {
                std::fprintf(stderr, "client %d: bad or missing reply to %d\n", id, n);
                return 1;
            }
        }
        requests.send(std::to_string(id) + " bye");
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "client %d: %s\n", id, e.what());
        return 1;
    }
}

// The server: one receive loop on the MPSC channel; each answer goes out asynchronously too
// (it waits, without blocking the loop's thread, when a client's reply ring is full).
asio::awaitable<void> serve(pipc::async_channel& requests,
                            std::vector<std::unique_ptr<pipc::async_channel>>& replies,
                            int& served) {
    std::array<char, 64> buf{};
    int done = 0;
    while (done < clients) {
        const std::size_t n =
            co_await requests.async_receive(asio::buffer(buf), asio::use_awaitable);
        const std::string req(buf.data(), n);
        const auto space = req.find(' ');
        const int id = std::stoi(req.substr(0, space));
        const std::string arg = req.substr(space + 1);
        if (arg == "bye") {
            ++done;
            continue;
        }
        const long v = std::stol(arg);
        const std::string answer = std::to_string(v * v);
        co_await replies.at(static_cast<std::size_t>(id))
            ->async_send(asio::buffer(answer), asio::use_awaitable);
        ++served;
    }
}

} // namespace

int main() {
    base_name(); // fixed before fork
    asio::io_context ctx;
    const pipc::channel::options create{.open = pipc::open_mode::create_exclusive,
                                        .slot_count = 64,
                                        .max_message_size = 64,
                                        .mode = pipc::channel_mode::mpsc};
    auto cleanup = [] {
        pipc::error_code ignored;
        pipc::unlink_channel(base_name(), ignored);
        for (int c = 0; c < clients; ++c) pipc::unlink_channel(reply_name(c), ignored);
    };
    int rc = 0;
    std::vector<pid_t> kids;
    try {
        pipc::async_channel requests(ctx, base_name(), create);
        std::vector<std::unique_ptr<pipc::async_channel>> replies;
        for (int c = 0; c < clients; ++c)
            replies.push_back(std::make_unique<pipc::async_channel>(
                ctx, reply_name(c),
                pipc::channel::options{.open = pipc::open_mode::create_exclusive,
                                       .slot_count = 4,
                                       .max_message_size = 64,
                                       .mode = pipc::channel_mode::spsc}));
        for (int c = 0; c < clients; ++c) {
            const pid_t pid = ::fork();
            if (pid == 0) {
                ::alarm(60); // a client never outlives a broken server
                ::_exit(run_client(c));
            }
            if (pid < 0) throw std::runtime_error("fork failed");
            kids.push_back(pid);
        }
        int served = 0;
        std::exception_ptr failure;
        asio::co_spawn(ctx, serve(requests, replies, served),
                       [&](std::exception_ptr e) { failure = e; });
        ctx.run_for(std::chrono::seconds(60));
        if (failure) std::rethrow_exception(failure);
        std::printf("served %d requests from %d client processes\n", served, clients);
        if (served != clients * requests_each) rc = 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "server: %s\n", e.what());
        rc = 1;
    }
    for (const pid_t pid : kids) {
        int status = 0;
        if (rc != 0) ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) rc = 1;
    }
    cleanup();
    return rc;
}
