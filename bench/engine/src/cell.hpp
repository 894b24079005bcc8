// SPDX-License-Identifier: BSL-1.0
// cell.hpp - what a variant implements, and the generic two-process measuring loops.
//
// A variant is registered as a `variant` (transport, impl, payload?, run function). Its run
// function executes inside a fresh runner process: it creates its objects, forks the peer with
// run_pair(), measures, and fills a `measurement`. Blocking variants only describe an endpoint
// (send/recv) and reuse measure_blocking<>(); async variants write their own coroutine loops with
// the same helpers (seq_put/seq_get, record_sample) so every variant is timed the same way.
#pragma once

#include <pipc/wait_strategy.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace pipc_bench::detail {

/// One cell as the runner sees it.
struct cell_spec {
    std::string transport, impl, pin;
    std::size_t size = 0;          ///< Message bytes (>= 8); payload-less variants ignore it.
    std::uint64_t round_trips = 0; ///< Timed.
    std::uint64_t warmup = 0;      ///< Untimed, before.
    std::uint64_t tput_msgs = 0;   ///< Measured one-way messages (0: skip).
    std::uint64_t tput_warmup = 0; ///< One-way messages before the throughput clock starts.
    long depth = 10;               ///< Queue capacity / credit window.
    int cpu_initiator = -1, cpu_peer = -1; ///< -1: not pinned.
    unsigned timeout_s = 60;               ///< Watchdog (alarm) of the runner and of the peer.
    std::vector<std::string>
        names; ///< Fresh names ("/pipc-..."); the parent unlinks them all after.
};

/// What the runner measured.
struct measurement {
    std::vector<std::int64_t> samples_ns; ///< Preallocated by the caller: one per round trip.
    double msgs_per_s = -1;               ///< < 0: not measured.
    double switches_per_rt = -1;          ///< Initiator process's context switches per round trip.
    double peer_switches_per_rt = -1;     ///< The same for the peer process.
    /// CPU time (user + system, all threads) of both processes per timed round trip, in us:
    /// what a wait strategy's spinning costs. < 0: not measured.
    double cpu_us_per_rt = -1;
    /// Context switches of both processes per timed stream message. < 0: not measured.
    double stream_switches_per_msg = -1;
    long depth = 0; ///< Effective in-flight limit of the throughput phase.
};

struct variant {
    std::string transport;
    std::string impl;
    bool payload = true; ///< False: no message body (sem, eventfd); run once per pin, size 0.
    std::function<void(const cell_spec&, measurement&)> run;
};

/// Every variant of this build, in display order.
const std::vector<variant>& registry();
void register_blocking_variants(std::vector<variant>& out);
/// Adds pipc-async / pipc-async-notify variants when the Asio headers are present.
void register_async_variants(std::vector<variant>& out);
/// Adds pipc-async-public: the descriptor backend on the public-API wait path
/// (PIPC_ASIO_PUBLIC_REACTOR_PATH), compiled from variants_async.cpp a second time.
void register_async_public_variants(std::vector<variant>& out);
/// Adds transport "lock": the robust-mutex hand-off ring (variants_lock.cpp).
void register_lock_variants(std::vector<variant>& out);

/// Context switches (voluntary + involuntary) of the whole calling process so far: every thread,
/// so helper threads of an async variant count too.
std::int64_t process_switches() noexcept;
/// CPU time (user + system, getrusage RUSAGE_SELF: every thread) of the calling process so far, ns.
std::int64_t process_cpu_ns() noexcept;

/// How a variant's pipc objects wait: the `-spin` and `-adaptive` variants of pipc-blocking and
/// pipc-async use pipc::wait_strategy::spin() / adaptive() (default budgets, 20 us) on every
/// object, the plain ones the default block(). adaptive() alone reads the affinity of the thread
/// that makes it, and the runner is pinned to one CPU by then (never spins, even with the peer on
/// another CPU); the variant passes the machine's CPU count instead, as a pinned deployment
/// should, and lets the strategy learn whether spinning pays.
enum class spin_mode { block, spin, adaptive };
inline pipc::wait_strategy strategy_for(spin_mode m) {
    switch (m) {
    case spin_mode::spin:
        return pipc::wait_strategy::spin();
    case spin_mode::adaptive:
        return pipc::wait_strategy::adaptive(); // 20 us; learns even though we are pinned
    case spin_mode::block:
        break;
    }
    return pipc::wait_strategy::block();
}
/// The impl name of a variant with this spin mode: "pipc-blocking" -> "pipc-blocking-spin".
inline std::string spin_impl(const char* base, spin_mode m) {
    switch (m) {
    case spin_mode::spin:
        return std::string(base) + "-spin";
    case spin_mode::adaptive:
        return std::string(base) + "-adaptive";
    case spin_mode::block:
        break;
    }
    return base;
}

inline std::int64_t now_ns() noexcept {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

[[noreturn]] void fail(const std::string& what);
[[noreturn]] void fail_errno(const std::string& what);

/// Pins the calling thread (and so the threads it creates later) to `cpu`; -1 does nothing.
void pin_to(int cpu);

/// The first 8 bytes of every message carry its sequence number.
inline void seq_put(std::byte* buf, std::uint64_t seq) noexcept {
    std::memcpy(buf, &seq, 8);
}
inline std::uint64_t seq_get(const std::byte* buf) noexcept {
    std::uint64_t v;
    std::memcpy(&v, buf, 8);
    return v;
}
[[noreturn]] void seq_mismatch(const char* where, std::uint64_t expected, std::uint64_t got);
inline void seq_check(const char* where, std::uint64_t expected, std::uint64_t got) {
    if (expected != got) seq_mismatch(where, expected, got);
}

/// Hands a callback to each side: the peer calls `ready()` once its handles are open; the
/// initiator calls `wait_ready()` before its first message, after which all names are unlinked
/// (nothing can leak from a crashed cell). Forks the peer, runs `initiator` in this process,
/// reaps the peer (its failure is an error of the cell) and kills it if the initiator throws.
struct pair_sync {
    std::function<void()> ready;
    std::function<void()> wait_ready;
    /// Peer: hands its context-switch count of the timed round trips to the initiator, then
    /// (second call) its CPU time over them in ns; the generic loops do both.
    std::function<void(std::int64_t)> report;
    /// Initiator: receives those values in the same order (waits for the peer to finish its
    /// round trips).
    std::function<std::int64_t()> collect;
};
void run_pair(const cell_spec& spec, const std::function<void(pair_sync&)>& peer,
              const std::function<void(pair_sync&)>& initiator);

/// Unlinks `name` as every kind of object (mq, sem, shm, robust mutex); missing names are fine.
void unlink_everything(const std::string& name) noexcept;

/// The generic loops for a blocking endpoint E with
///   void send(std::byte* buf, std::size_t n);  void recv(std::byte* buf, std::size_t n);
///   tput_begin_initiator(), tput_begin_peer(), tput_send(), tput_recv() for the stream phase
///   (stream_is_pingpong supplies no-op begins).
template <class E>
void peer_blocking(E& e, const cell_spec& s, std::vector<std::byte>& buf, pair_sync& ps) {
    const std::uint64_t total = s.warmup + s.round_trips;
    std::int64_t cs0 = 0, cpu0 = 0;
    for (std::uint64_t i = 0; i < total; ++i) {
        if (i == s.warmup) {
            cs0 = process_switches();
            cpu0 = process_cpu_ns();
        }
        e.recv(buf.data(), buf.size());
        if constexpr (E::checks_seq) seq_check("peer echo", i, seq_get(buf.data()));
        e.send(buf.data(), buf.size());
    }
    ps.report(process_switches() - cs0);
    ps.report(process_cpu_ns() - cpu0);
    if (s.tput_msgs == 0) return;
    e.tput_begin_peer();
    const std::uint64_t n = s.tput_warmup + s.tput_msgs;
    for (std::uint64_t i = 0; i < n; ++i) {
        if (i == s.tput_warmup) cs0 = process_switches();
        seq_put(buf.data(), i);
        e.tput_send(buf.data(), buf.size());
    }
    ps.report(process_switches() - cs0);
}

template <class E>
void initiator_blocking(E& e, const cell_spec& s, std::vector<std::byte>& buf, measurement& m,
                        pair_sync& ps) {
    std::vector<std::byte> out(buf.size(), std::byte{0x5a});
    for (std::uint64_t i = 0; i < s.warmup; ++i) {
        seq_put(out.data(), i);
        e.send(out.data(), out.size());
        e.recv(buf.data(), buf.size());
        if constexpr (E::checks_seq) seq_check("echo", i, seq_get(buf.data()));
    }
    // One clock read per sample: each round trip ends where the next begins, so the instrument
    // adds one read, one store and the sequence bookkeeping to every sample (measured and
    // reported as the instrument cost).
    std::int64_t* sample = m.samples_ns.data();
    const std::int64_t cs0 = process_switches();
    const std::int64_t cpu0 = process_cpu_ns();
    std::int64_t prev = now_ns();
    for (std::uint64_t i = 0; i < s.round_trips; ++i) {
        const std::uint64_t seq = s.warmup + i;
        seq_put(out.data(), seq);
        e.send(out.data(), out.size());
        e.recv(buf.data(), buf.size());
        const std::int64_t t = now_ns();
        sample[i] = t - prev;
        prev = t;
        if constexpr (E::checks_seq) seq_check("echo", seq, seq_get(buf.data()));
    }
    const std::int64_t cpu = process_cpu_ns() - cpu0;
    m.switches_per_rt = double(process_switches() - cs0) / double(s.round_trips);
    m.peer_switches_per_rt = double(ps.collect()) / double(s.round_trips);
    m.cpu_us_per_rt = double(cpu + ps.collect()) / 1000.0 / double(s.round_trips);
    if (s.tput_msgs == 0) return;
    e.tput_begin_initiator();
    const std::uint64_t n = s.tput_warmup + s.tput_msgs;
    std::int64_t t0 = 0;
    std::int64_t stream_cs0 = process_switches(); // tput_warmup == 0: the window starts here
    for (std::uint64_t i = 0; i < n; ++i) {
        e.tput_recv(buf.data(), buf.size());
        if constexpr (E::checks_seq) seq_check("stream", i, seq_get(buf.data()));
        if (i + 1 == s.tput_warmup) {
            t0 = now_ns();
            stream_cs0 = process_switches();
        }
    }
    const std::int64_t t1 = now_ns();
    m.msgs_per_s = double(s.tput_msgs) * 1e9 / double(t1 - t0);
    const std::int64_t own = process_switches() - stream_cs0;
    m.stream_switches_per_msg = double(own + ps.collect()) / double(s.tput_msgs);
}

/// Default stream operations: the same send/recv (depth limited by the object itself).
struct stream_is_pingpong {
    void tput_begin_initiator() {}
    void tput_begin_peer() {}
};

/// The CPUs this process may run on (sched_getaffinity), in order; empty if unknown.
std::vector<int> allowed_cpus();
/// The current UTC time as ISO 8601 ("2026-12-01T06:40:00Z"), for reports.
std::string utc_now();

} // namespace pipc_bench::detail
