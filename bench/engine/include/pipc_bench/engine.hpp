// SPDX-License-Identifier: BSL-1.0
// pipc_bench/engine.hpp - the benchmark engine behind `pipc-bench` and `pipc bench`.
//
// A run is a matrix of cells (variant x message size x pinning). Every cell runs in a freshly
// forked runner process, which forks its peer, so nothing (threads, signal state, Asio services,
// page cache warmth of a previous variant) leaks from one cell into the next.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pipc_bench {

/// Everything a run needs; the CLI fills it.
struct options {
    std::vector<std::string> transports; ///< Empty: all. mq, sem, shm, pipe, eventfd.
    std::vector<std::string> impls;      ///< Empty: all. raw, raw-epoll, pipc-blocking, ...
    // Unset (empty / -1) values take the defaults, or the --quick ones.
    std::vector<std::size_t> sizes;    ///< Default 64,1024,8192 (quick: 64,8192).
    std::vector<std::string> pins;     ///< Default all three (quick: same-cpu,cross-cpu).
    std::int64_t round_trips = -1;     ///< Default 20000 (quick: 3000).
    std::int64_t warmup = -1;          ///< Default round_trips / 10, at least 100.
    std::int64_t throughput_msgs = -1; ///< Default 100000 (quick: 20000); 0 skips it.
    long queue_depth = 10;             ///< mq capacity and sem/shm credit window.
    std::vector<int> cpus;             ///< [A, B]; empty: the first two allowed CPUs.
    double cell_timeout_s = 0;         ///< Watchdog per cell; 0: derived from the work.
    bool quick = false;
    bool json = false;     ///< JSON on stdout instead of the table.
    std::string json_file; ///< Also write the JSON here.
    std::string svg_file;
    std::string markdown_file; ///< The table as Markdown, for READMEs.
    std::string compare_file;  ///< A previous --json output to compare p50 against.
    bool progress = true;
    bool list = false;
    // Measuring a separately started service.
    std::string peer_mq;    ///< "REQUEST,REPLY" queue names.
    std::string peer_sem;   ///< "REQUEST,REPLY" semaphore names.
    double peer_wait_s = 0; ///< Wait this long for the peer's names to appear.
    // Scenarios other than the matrix.
    std::string scenario = "matrix"; ///< "matrix" or "sem-fanout".
    std::vector<int> fanout;         ///< sem-fanout: N values (default 1,16,64,256,1024).
    long gap_us = 300;               ///< sem-fanout: pause between posts.
};

/// Percentiles etc. of one cell, microseconds.
struct cell_stats {
    double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, min = 0, mean = 0;
    std::optional<double> msgs_per_s;
    /// Context switches of the initiator process (all its threads) per timed round trip.
    std::optional<double> switches_per_rt;
    std::optional<double> peer_switches_per_rt; ///< The same for the peer process.
    /// CPU time (user + system) of both processes per timed round trip, us (getrusage).
    std::optional<double> cpu_us_per_rt;
    /// Context switches of both processes per message of the timed one-way stream: how often
    /// the two sides hand the CPU to each other (blocking variants only).
    std::optional<double> stream_switches_per_msg;
    /// Percentile curve for the plot: (x, latency) with x = -log10(1 - p).
    std::vector<std::pair<double, double>> curve;
};

struct cell_result {
    std::string transport, impl, pin;
    std::size_t size = 0; ///< 0 for payload-less variants (sem, eventfd).
    std::uint64_t round_trips = 0;
    std::uint64_t warmup = 0;
    std::uint64_t throughput_msgs = 0;
    long depth = 0;        ///< In-flight limit of the throughput phase (0: kernel buffer).
    std::vector<int> cpus; ///< CPUs of [initiator, peer]; empty when unpinned.
    bool ok = false;
    std::string error;
    cell_stats stats;
};

/// The instrument: what one recorded sample costs the measuring loop.
struct instrument_cost {
    double ns_per_sample = 0; ///< Median cost of one recorded sample (clock read + store).
    double mean_ns = 0;       ///< Mean of the same, preemptions of the measuring loop included.
};

struct run_result {
    std::vector<cell_result> cells;
    instrument_cost instrument;
    std::vector<int> cpus; ///< [A, B] used for pinning.
    std::string started_utc;
    double elapsed_s = 0;
    std::string command_line;
};

/// Runs the bench described by `opts`, printing what it asks for. Returns the process exit code
/// (0 all cells ok, 1 some cell failed or a peer misbehaved); throws std::runtime_error for
/// unusable options (the message is one line).
int run(const options& opts, const std::string& command_line);

/// The variants this build knows, as "transport/impl" (payload-less ones marked).
std::vector<std::string> variant_names();

} // namespace pipc_bench
