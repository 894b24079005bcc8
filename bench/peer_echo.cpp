// SPDX-License-Identifier: BSL-1.0
// pipc-bench-echo: the reference peer for `pipc-bench --peer-mq` / `--peer-sem`.
//
// Protocol (bench/README.md): the client sends a request whose first 8 bytes are a sequence
// number; the service answers on the reply queue with a message whose first 8 bytes are the same
// 8 bytes, unchanged (this echo sends the whole request back). Semaphores: each post of REQUEST
// is answered by one post of REPLY. The echo creates both objects if missing, serves until
// SIGINT/SIGTERM (or --count requests), then unlinks what it created.
#include <pipc/message_queue.hpp>
#include <pipc/semaphore.hpp>

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

namespace {
volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop(int) {
    g_stop = 1;
}

std::pair<std::string, std::string> split(const std::string& s) {
    const auto comma = s.find(',');
    if (comma == std::string::npos) throw std::runtime_error("expected REQUEST,REPLY");
    return {s.substr(0, comma), s.substr(comma + 1)};
}
} // namespace

int main(int argc, char** argv) {
    CLI::App app{"pipc-bench-echo: echo peer for `pipc-bench --peer-mq/--peer-sem`"};
    std::string mq, sem;
    long depth = 10, size = 8192;
    unsigned long long count = 0;
    app.add_option("--mq", mq, "REQUEST,REPLY message queues to serve");
    app.add_option("--sem", sem, "REQUEST,REPLY semaphores to serve");
    app.add_option("--depth", depth, "Capacity of queues it creates (default 10)");
    app.add_option("--max-size", size, "Message size limit of queues it creates (default 8192)");
    app.add_option("--count", count, "Exit after this many requests (default: until a signal)");
    CLI11_PARSE(app, argc, argv);
    if (mq.empty() == sem.empty()) {
        std::fprintf(stderr, "pipc-bench-echo: give exactly one of --mq or --sem\n");
        return 2;
    }

    struct sigaction sa {};
    sa.sa_handler = on_stop; // no SA_RESTART: a blocked receive returns with condition::signal
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);

    try {
        const auto [req_name, rep_name] = split(mq.empty() ? sem : mq);
        unsigned long long served = 0;
        pipc::error_code ec;
        if (!mq.empty()) {
            pipc::message_queue::options o;
            o.open = pipc::open_mode::open_or_create;
            o.max_messages = depth;
            o.max_message_size = size;
            o.on_signal = pipc::signal_policy::report;
            pipc::message_queue req(req_name, o), rep(rep_name, o);
            std::vector<std::byte> buf(std::size_t(req.max_message_size()));
            while (!g_stop && (count == 0 || served < count)) {
                const auto r = req.receive(buf, ec);
                if (ec) break;
                rep.send(std::span<const std::byte>(buf.data(), r.size), r.priority, ec);
                if (ec) break;
                ++served;
            }
            if (req.created()) req.unlink();
            if (rep.created()) rep.unlink();
        } else {
            pipc::semaphore::options o;
            o.open = pipc::open_mode::open_or_create;
            o.on_signal = pipc::signal_policy::report;
            pipc::semaphore req(req_name, o), rep(rep_name, o);
            while (!g_stop && (count == 0 || served < count)) {
                req.acquire(ec);
                if (ec) break;
                rep.release(1, ec);
                if (ec) break;
                ++served;
            }
            if (req.created()) req.unlink();
            if (rep.created()) rep.unlink();
        }
        if (ec && !g_stop) {
            std::fprintf(stderr, "pipc-bench-echo: %s\n", ec.message().c_str());
            return 1;
        }
        std::fprintf(stderr, "pipc-bench-echo: served %llu requests\n", served);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pipc-bench-echo: %s\n", e.what());
        return 1;
    }
    return 0;
}
