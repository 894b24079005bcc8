// SPDX-License-Identifier: BSL-1.0
// asio_mq_request_reply: a co_await request/reply service between two processes over two
// POSIX message queues.
//
// Run without arguments: creates two queues with generated names, forks the service, makes
// 1000 round trips as the client, stops the service, removes the queues and exits 0.
// Pass "notify" to use the mq_notify backend instead of the descriptor backend.
#include <pipc/asio/async_message_queue.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

namespace asio = boost::asio;

namespace {

constexpr int round_trips = 1000;

pipc::message_queue::options endpoint(pipc::access a) {
    pipc::message_queue::options o;
    o.access = a;
    return o;
}

// The service: answers every request with its upper-case version until it receives "quit".
asio::awaitable<void> serve(pipc::async_message_queue& requests,
                            pipc::async_message_queue& replies) {
    for (;;) {
        pipc::message request = co_await requests.async_receive_message(asio::use_awaitable);
        if (request.text() == "quit") co_return;
        std::string reply(request.text());
        std::transform(reply.begin(), reply.end(), reply.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        co_await replies.async_send(asio::buffer(reply), request.priority, asio::use_awaitable);
    }
}

// The client: one request at a time, each awaited reply checked.
asio::awaitable<void> client(pipc::async_message_queue& requests,
                             pipc::async_message_queue& replies, int& good) {
    for (int i = 0; i < round_trips; ++i) {
        const std::string request = "request number " + std::to_string(i);
        co_await requests.async_send(asio::buffer(request), 1, asio::use_awaitable);
        pipc::message reply = co_await replies.async_receive_message(asio::use_awaitable);
        if (reply.text() == "REQUEST NUMBER " + std::to_string(i)) ++good;
    }
    co_await requests.async_send(asio::buffer(std::string_view("quit")), 0, asio::use_awaitable);
}

int run_service(const std::string& req_name, const std::string& rep_name, pipc::mq_backend b) {
    asio::io_context ctx;
    pipc::async_message_queue requests(ctx, req_name, endpoint(pipc::access::read_only), b);
    pipc::async_message_queue replies(ctx, rep_name, endpoint(pipc::access::write_only), b);
    int status = 0;
    asio::co_spawn(ctx, serve(requests, replies), [&](std::exception_ptr e) {
        if (e) status = 1;
    });
    ctx.run();
    return status;
}

} // namespace

int main(int argc, char** argv) {
    const auto backend = argc > 1 && std::strcmp(argv[1], "notify") == 0
                             ? pipc::mq_backend::notify
                             : pipc::mq_backend::descriptor;
    pipc::message_queue::options create;
    create.max_messages = 10;
    create.max_message_size = 256;
    // Generated names, created exclusively: no clash with anything already there.
    pipc::message_queue req_q(pipc::unique_name, create), rep_q(pipc::unique_name, create);
    const std::string req_name = req_q.name(), rep_name = rep_q.name();
    req_q.close();
    rep_q.close();

    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        int status = 2;
        try {
            status = run_service(req_name, rep_name, backend);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "service: %s\n", e.what());
        }
        std::fflush(nullptr);
        ::_exit(status);
    }

    int good = 0;
    bool failed = pid < 0;
    if (!failed) {
        try {
            asio::io_context ctx;
            pipc::async_message_queue requests(ctx, req_name, endpoint(pipc::access::write_only),
                                               backend);
            pipc::async_message_queue replies(ctx, rep_name, endpoint(pipc::access::read_only),
                                              backend);
            asio::co_spawn(ctx, client(requests, replies, good), [&](std::exception_ptr e) {
                if (e) failed = true;
            });
            ctx.run();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "client: %s\n", e.what());
            failed = true;
            ::kill(pid, SIGTERM);
        }
    }
    int status = 0;
    if (pid > 0) ::waitpid(pid, &status, 0);
    pipc::error_code ignored;
    pipc::unlink_message_queue(req_name, ignored);
    pipc::unlink_message_queue(rep_name, ignored);

    const bool ok = !failed && good == round_trips && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    std::printf("%d/%d replies correct, service %s\n", good, round_trips,
                ok ? "stopped cleanly" : "FAILED");
    return ok ? 0 : 1;
}
