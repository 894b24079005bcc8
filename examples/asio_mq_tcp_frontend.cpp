// SPDX-License-Identifier: BSL-1.0
// asio_mq_tcp_frontend: an Asio TCP front end that forwards each request line to a worker
// process over a message queue and answers the client with the worker's reply.
//
// Run without arguments: listens on 127.0.0.1 (an ephemeral port), forks the worker, connects
// three TCP clients of its own that send 50 lines each and check every answer, then stops the
// worker, removes the queues and exits 0. With a port argument ("asio_mq_tcp_frontend 7000")
// it serves real clients (try `nc 127.0.0.1 7000`) until SIGINT/SIGTERM.
//
// Requests carry a correlation id ("<id> <line>"), so replies from the one worker queue are
// routed back to the right connection whatever order they come in.
#include <pipc/asio/async_message_queue.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <istream>
#include <map>
#include <string>

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr int demo_clients = 3, demo_lines = 50;

pipc::message_queue::options endpoint(pipc::access a) {
    pipc::message_queue::options o;
    o.access = a;
    return o;
}

// ---- the worker process: reverses each line --------------------------------------------------

int run_worker(const std::string& req_name, const std::string& rep_name) {
    asio::io_context ctx;
    pipc::async_message_queue requests(ctx, req_name, endpoint(pipc::access::read_only));
    pipc::async_message_queue replies(ctx, rep_name, endpoint(pipc::access::write_only));
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            for (;;) {
                pipc::message m = co_await requests.async_receive_message(asio::use_awaitable);
                std::string text(m.text());
                if (text == "quit") co_return;
                const auto space = text.find(' ');
                std::reverse(text.begin() + static_cast<std::ptrdiff_t>(space) + 1, text.end());
                co_await replies.async_send(asio::buffer(text), 0, asio::use_awaitable);
            }
        },
        [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    ctx.run();
    return 0;
}

// ---- the front end ------------------------------------------------------------------------------

// Replies waiting to be picked up by their connection, keyed by correlation id. A connection
// waits on a timer that never expires by itself; the dispatcher cancels it to wake it up.
struct pending_reply {
    asio::steady_timer* wake;
    std::string reply;
    bool ready = false;
};

class front_end {
public:
    front_end(asio::io_context& ctx, const std::string& req_name, const std::string& rep_name)
        : ctx_(ctx), requests_(ctx, req_name, endpoint(pipc::access::write_only)),
          replies_(ctx, rep_name, endpoint(pipc::access::read_only)) {}

    // Routes every reply of the worker to the connection that asked.
    asio::awaitable<void> dispatch_replies() {
        for (;;) {
            auto [ec, m] =
                co_await replies_.async_receive_message(asio::as_tuple(asio::use_awaitable));
            if (ec) co_return; // cancelled at shutdown
            const std::string text(m.text());
            const auto id = std::strtoull(text.c_str(), nullptr, 10);
            if (auto it = pending_.find(id); it != pending_.end()) {
                it->second.reply = text.substr(text.find(' ') + 1);
                it->second.ready = true;
                it->second.wake->cancel();
            }
        }
    }

    // One TCP connection: each line becomes a request; the reply goes back as a line.
    asio::awaitable<void> session(tcp::socket socket) {
        asio::streambuf in;
        asio::steady_timer wake(ctx_, asio::steady_timer::time_point::max());
        for (;;) {
            auto [ec, n] = co_await asio::async_read_until(socket, in, '\n',
                                                           asio::as_tuple(asio::use_awaitable));
            if (ec) co_return; // client went away
            std::string line;
            std::istream is(&in);
            std::getline(is, line);
            const std::uint64_t id = next_id_++;
            auto& slot = pending_[id];
            slot.wake = &wake;
            const std::string request = std::to_string(id) + " " + line;
            co_await requests_.async_send(asio::buffer(request), 0, asio::use_awaitable);
            while (!pending_[id].ready) {
                wake.expires_at(asio::steady_timer::time_point::max());
                co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
            }
            const std::string reply = pending_[id].reply + "\n";
            pending_.erase(id);
            co_await asio::async_write(socket, asio::buffer(reply), asio::use_awaitable);
        }
    }

    asio::awaitable<void> accept(tcp::acceptor& acceptor) {
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec) co_return; // acceptor closed
            asio::co_spawn(ctx_, session(std::move(socket)), asio::detached);
        }
    }

    asio::awaitable<void> stop_worker() {
        co_await requests_.async_send(asio::buffer(std::string_view("quit")), 0,
                                      asio::use_awaitable);
        replies_.cancel();
    }

private:
    asio::io_context& ctx_;
    pipc::async_message_queue requests_, replies_;
    std::map<std::uint64_t, pending_reply> pending_;
    std::uint64_t next_id_ = 1;
};

// A demo client: sends lines, checks each reversed answer.
asio::awaitable<void> demo_client(tcp::endpoint where, int client, int& good) {
    tcp::socket socket(co_await asio::this_coro::executor);
    co_await socket.async_connect(where, asio::use_awaitable);
    asio::streambuf in;
    for (int i = 0; i < demo_lines; ++i) {
        const std::string line = "client " + std::to_string(client) + " line " + std::to_string(i);
        co_await asio::async_write(socket, asio::buffer(line + "\n"), asio::use_awaitable);
        co_await asio::async_read_until(socket, in, '\n', asio::use_awaitable);
        std::string answer;
        std::istream is(&in);
        std::getline(is, answer);
        if (answer == std::string(line.rbegin(), line.rend())) ++good;
    }
}

} // namespace

int main(int argc, char** argv) {
    const unsigned short port = argc > 1 ? static_cast<unsigned short>(std::atoi(argv[1])) : 0;
    pipc::message_queue::options create;
    create.max_messages = 10;
    create.max_message_size = 512;
    pipc::message_queue req_q(pipc::unique_name, create), rep_q(pipc::unique_name, create);
    const std::string req_name = req_q.name(), rep_name = rep_q.name();
    req_q.close();
    rep_q.close();

    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        int status = 2;
        try {
            status = run_worker(req_name, rep_name);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "worker: %s\n", e.what());
        }
        std::fflush(nullptr);
        ::_exit(status);
    }

    int good = 0;
    bool failed = pid < 0;
    try {
        asio::io_context ctx;
        front_end fe(ctx, req_name, rep_name);
        tcp::acceptor acceptor(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
        asio::co_spawn(ctx, fe.dispatch_replies(), asio::detached);
        asio::co_spawn(ctx, fe.accept(acceptor), asio::detached);
        int finished = 0; // demo clients done; outlives ctx.run() below
        auto shutdown = [&] {
            acceptor.close();
            asio::co_spawn(ctx, fe.stop_worker(), asio::detached);
        };
        asio::signal_set signals(ctx, SIGINT, SIGTERM);
        if (port != 0) {
            std::printf("listening on 127.0.0.1:%u\n", port);
            std::fflush(stdout);
            signals.async_wait([&](pipc::error_code ec, int) {
                if (!ec) shutdown();
            });
        } else {
            for (int c = 0; c < demo_clients; ++c)
                asio::co_spawn(ctx, demo_client(acceptor.local_endpoint(), c, good),
                               [&](std::exception_ptr e) {
                                   if (e) failed = true;
                                   if (++finished == demo_clients) shutdown();
                               });
        }
        ctx.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "front end: %s\n", e.what());
        failed = true;
        if (pid > 0) ::kill(pid, SIGTERM);
    }
    int status = 0;
    if (pid > 0) ::waitpid(pid, &status, 0);
    pipc::error_code ignored;
    pipc::unlink_message_queue(req_name, ignored);
    pipc::unlink_message_queue(rep_name, ignored);
    const bool worker_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (port != 0) return !failed && worker_ok ? 0 : 1;
    const bool ok = !failed && worker_ok && good == demo_clients * demo_lines;
    std::printf("%d/%d lines answered correctly by the worker; %s\n", good,
                demo_clients * demo_lines, ok ? "clean shutdown" : "FAILED");
    return ok ? 0 : 1;
}
