// SPDX-License-Identifier: BSL-1.0
// The bench options, registered once for both front ends.
#include <pipc_bench/cli.hpp>

#include <cstdio>
#include <exception>
#include <string>

namespace pipc_bench {

void add_bench_options(CLI::App& app, const std::shared_ptr<options>& o) {
    app.add_option("--transports", o->transports,
                   "Transports to run (default all): mq, channel, sem, shm, pipe, eventfd, lock")
        ->delimiter(',');
    app.add_option("--impls", o->impls,
                   "Implementations to run (default all): raw, raw-epoll, raw-spin, raw-free, "
                   "pipc-blocking, pipc-blocking-zc, pipc-blocking-cap64, "
                   "pipc-blocking-zc-cap64, pipc-blocking-spin, pipc-blocking-adaptive, "
                   "pipc-async, pipc-async-zc, pipc-async-spin, pipc-async-adaptive, "
                   "pipc-async-deferred, pipc-async-deferred-spin, "
                   "pipc-async-public, pipc-async-notify, pipc-async-free, pipc-async-free-try, "
                   "boost-interprocess")
        ->delimiter(',');
    app.add_option("--sizes", o->sizes, "Message sizes in bytes, >= 8 (default 64,1024,8192)")
        ->delimiter(',');
    app.add_option("--pins", o->pins, "Pinnings: same-cpu, cross-cpu, none (default all three)")
        ->delimiter(',')
        ->check(CLI::IsMember({"same-cpu", "cross-cpu", "none"}));
    app.add_option("--round-trips,-n", o->round_trips, "Timed round trips per cell (default 20000)")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{100000000}));
    app.add_option("--warmup", o->warmup, "Untimed round trips before timing (default n/10)")
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{100000000}));
    app.add_option("--throughput-msgs", o->throughput_msgs,
                   "Measured one-way messages per cell; 0 skips throughput (default 100000)")
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{1000000000}));
    app.add_option("--depth", o->queue_depth,
                   "Queue capacity / credit window for throughput (default 10, capped by msg_max)")
        ->check(CLI::Range(1L, 65536L));
    app.add_option("--cpus", o->cpus, "Two CPU numbers A,B: same-cpu uses A, cross-cpu A and B")
        ->delimiter(',')
        ->expected(2);
    app.add_option("--timeout", o->cell_timeout_s,
                   "Watchdog per cell in seconds (default: derived)");
    app.add_flag("--quick", o->quick,
                 "Under a minute: 5000 round trips, 30000 streamed, sizes 64,8192, pins "
                 "same-cpu,cross-cpu "
                 "(explicit options still win)");
    app.add_flag("--json", o->json, "Print JSON on stdout instead of the table");
    app.add_option("--json-file", o->json_file, "Also write the JSON to this file");
    app.add_option("--markdown", o->markdown_file,
                   "Also write the table as Markdown (with command, date, pinning) to this file");
    app.add_option("--svg", o->svg_file, "Draw the latency distributions into this SVG file");
    app.add_option("--compare", o->compare_file,
                   "A previous --json output: print each cell's p50 against it (stability check)");
    app.add_flag("!--no-progress", o->progress, "No progress line on stderr");
    app.add_flag("--list", o->list, "List the variants this build has and exit");
    app.add_option("--peer-mq", o->peer_mq,
                   "REQUEST,REPLY: ping a separately started service over two named queues");
    app.add_option("--peer-sem", o->peer_sem,
                   "REQUEST,REPLY: ping a separately started service over two named semaphores");
    app.add_option("--scenario", o->scenario,
                   "matrix (default): the variants; sem-fanout: async semaphore wake-up latency "
                   "against the number of semaphores with waiters (uses --fanout, --pins, -n, "
                   "--warmup, --gap-us, --cpus, --json, --json-file, --markdown, --svg)")
        ->check(CLI::IsMember({"matrix", "sem-fanout"}));
    app.add_option("--fanout", o->fanout,
                   "sem-fanout: numbers of semaphores with waiters (default 1,16,64,256,1024)")
        ->delimiter(',');
    app.add_option("--gap-us", o->gap_us, "sem-fanout: pause between posts in us (default 300)")
        ->check(CLI::Range(0L, 1000000L));
    app.add_option("--peer-wait", o->peer_wait_s,
                   "With --peer-*: wait up to this many seconds for the names to appear");
}

void run_bench_or_throw(const options& opts, const std::string& command_line) {
    int rc = 0;
    try {
        rc = run(opts, command_line);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pipc bench: %s\n", e.what());
        throw CLI::RuntimeError(2);
    }
    if (rc != 0) {
        std::fprintf(stderr, "pipc bench: some cells failed (see above)\n");
        throw CLI::RuntimeError(rc);
    }
}

CLI::App* add_bench_command(CLI::App& app) {
    auto opts = std::make_shared<options>();
    CLI::App* sub = app.add_subcommand(
        "bench", "Measure round-trip latency and throughput against the raw POSIX floors");
    add_bench_options(*sub, opts);
    // The options themselves are recorded in the JSON, so the command name is enough here.
    sub->callback([opts] { run_bench_or_throw(*opts, "pipc bench"); });
    return sub;
}

} // namespace pipc_bench
