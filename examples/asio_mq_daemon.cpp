// SPDX-License-Identifier: BSL-1.0
// asio_mq_daemon: an event-driven daemon that serves a message queue and shuts down cleanly on
// SIGTERM (or SIGINT) through boost::asio::signal_set.
//
//   asio_mq_daemon                 self-demo: forks the daemon, submits 500 jobs, reads the
//                                  results, sends SIGTERM, checks the daemon exited 0, removes
//                                  the queues, exits 0.
//   asio_mq_daemon serve JOBS OUT  runs the daemon on existing queues until SIGTERM/SIGINT.
//
// Shutdown is clean: the signal handler cancels the queue operations (a cancelled receive
// consumes no message, so any job still queued stays for the next daemon), lets the current
// job's result be sent, and the io_context runs out of work.
#include <pipc/asio/async_message_queue.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

namespace asio = boost::asio;

namespace {

constexpr int jobs = 500;

pipc::message_queue::options endpoint(pipc::access a) {
    pipc::message_queue::options o;
    o.access = a;
    return o;
}

// The daemon; `ready_fd` (if >= 0) gets one byte once SIGTERM is handled by the signal_set.
int run_daemon(const std::string& jobs_name, const std::string& out_name, int ready_fd) {
    asio::io_context ctx;
    pipc::async_message_queue in(ctx, jobs_name, endpoint(pipc::access::read_only));
    pipc::async_message_queue out(ctx, out_name, endpoint(pipc::access::write_only));
    asio::signal_set signals(ctx, SIGTERM, SIGINT);
    long served = 0;
    bool stopping = false;
    signals.async_wait([&](pipc::error_code ec, int signo) {
        if (ec) return;
        stopping = true; // in case the loop is between receives right now
        std::printf("daemon: signal %d, stopping after %ld jobs\n", signo, served);
        in.cancel(); // the pending receive ends with operation_aborted, taking nothing
    });
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            while (!stopping) {
                auto [ec, job] =
                    co_await in.async_receive_message(asio::as_tuple(asio::use_awaitable));
                if (ec == asio::error::operation_aborted) break;
                if (ec) throw pipc::error(ec, "receive");
                const std::string result = "done: " + std::string(job.text());
                co_await out.async_send(asio::buffer(result), job.priority, asio::use_awaitable);
                ++served;
            }
            signals.cancel(); // nothing else keeps the context busy
        },
        [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    if (ready_fd >= 0) {
        const char c = '!';
        (void)!::write(ready_fd, &c, 1);
        ::close(ready_fd);
    }
    ctx.run();
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc == 4 && std::strcmp(argv[1], "serve") == 0) {
        try {
            return run_daemon(argv[2], argv[3], -1);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "daemon: %s\n", e.what());
            return 1;
        }
    }

    pipc::message_queue::options create;
    create.max_messages = 10;
    create.max_message_size = 128;
    pipc::message_queue jobs_q(pipc::unique_name, create), out_q(pipc::unique_name, create);
    const std::string jobs_name = jobs_q.name(), out_name = out_q.name();

    int ready[2];
    if (::pipe(ready) != 0) return 1;
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(ready[0]);
        int status = 2;
        try {
            status = run_daemon(jobs_name, out_name, ready[1]);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "daemon: %s\n", e.what());
        }
        std::fflush(nullptr);
        ::_exit(status);
    }
    ::close(ready[1]);
    char c = 0;
    bool ok = pid > 0 && ::read(ready[0], &c, 1) == 1; // the daemon's signal_set is in place
    ::close(ready[0]);

    // The client side needs no event loop: the blocking core calls are enough.
    int good = 0;
    for (int i = 0; ok && i < jobs; ++i) {
        jobs_q.send("job " + std::to_string(i));
        if (out_q.receive().text() == "done: job " + std::to_string(i)) ++good;
    }
    if (pid > 0) ::kill(pid, SIGTERM);
    int status = 0;
    if (pid > 0) ::waitpid(pid, &status, 0);
    jobs_q.unlink();
    out_q.unlink();
    ok = ok && good == jobs && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    std::printf("%d/%d jobs served; daemon %s\n", good, jobs,
                ok ? "exited 0 after SIGTERM" : "FAILED");
    return ok ? 0 : 1;
}
