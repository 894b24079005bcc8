// SPDX-License-Identifier: BSL-1.0
// Rendering a run: the terminal table with ratios to the floors, the JSON document, the SVG
// percentile plot (hand-written, no plotting library), and the comparison with an earlier run.
#include "report.hpp"

#include <pipc/version.hpp>

#include <boost/json.hpp>
#include <boost/version.hpp>

#include <gnu/libc-version.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace pipc_bench::detail {
namespace json = boost::json;

namespace {

std::string variant_key(const cell_result& c) {
    return c.transport + "/" + c.impl;
}

/// The floor cell of `c` in the same run and pinning, or nullptr (also for floors themselves).
const cell_result* find_floor(const run_result& r, const cell_result& c) {
    const std::string f = floor_of(c);
    if (f.empty()) return nullptr;
    const auto slash = f.find('/');
    const std::string ft = f.substr(0, slash), fi = f.substr(slash + 1);
    const cell_result* best = nullptr;
    for (const auto& x : r.cells) {
        if (!x.ok || x.transport != ft || x.impl != fi || x.pin != c.pin) continue;
        if (ft == "sem") return &x;
        if (x.size == c.size) return &x;
        // Payload-less baselines (eventfd) compare with the smallest mq message.
        if (c.size == 0 && (!best || x.size < best->size)) best = &x;
    }
    return best;
}

const cell_result* find_cell(const run_result& r, const cell_result& c, const char* transport,
                             const char* impl) {
    for (const auto& x : r.cells)
        if (x.ok && x.transport == transport && x.impl == impl && x.pin == c.pin &&
            x.size == c.size)
            return &x;
    return nullptr;
}

std::string fmt(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

std::string ratio(double a, double b) {
    if (b <= 0) return "-";
    return fmt("%.2f", a / b);
}

std::string read_file(const char* path) {
    std::ifstream f(path);
    std::string s;
    std::getline(f, s);
    return s;
}

std::string cpu_model() {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("model name", 0) == 0) {
            const auto colon = line.find(':');
            return colon == std::string::npos ? line : line.substr(colon + 2);
        }
    return "unknown";
}

std::string pin_description(const run_result& r, const std::string& pin) {
    if (pin == "same-cpu" && !r.cpus.empty())
        return "initiator and peer both on CPU " + std::to_string(r.cpus[0]);
    if (pin == "cross-cpu" && r.cpus.size() > 1)
        return "initiator on CPU " + std::to_string(r.cpus[0]) + ", peer on CPU " +
               std::to_string(r.cpus[1]);
    if (pin == "none") return "no affinity set (the scheduler decides; bimodal on this kind of VM)";
    return pin;
}

/// Pins in the order the run used them.
std::vector<std::string> pins_of(const run_result& r) {
    std::vector<std::string> pins;
    for (const auto& c : r.cells)
        if (std::find(pins.begin(), pins.end(), c.pin) == pins.end()) pins.push_back(c.pin);
    return pins;
}

// ---- a small pretty printer: Boost.JSON's serializer writes doubles as "2.75E0" ------------

void pretty(std::ostream& os, const json::value& v, int indent, bool compact_objects) {
    const std::string pad(std::size_t(indent) * 2, ' ');
    switch (v.kind()) {
    case json::kind::object: {
        const auto& o = v.get_object();
        if (o.empty()) {
            os << "{}";
            break;
        }
        if (compact_objects) {
            os << "{";
            bool first = true;
            for (const auto& kv : o) {
                os << (first ? "" : ", ") << json::serialize(json::string(kv.key())) << ": ";
                pretty(os, kv.value(), indent, true);
                first = false;
            }
            os << "}";
            break;
        }
        os << "{\n";
        bool first = true;
        for (const auto& kv : o) {
            if (!first) os << ",\n";
            os << pad << "  " << json::serialize(json::string(kv.key())) << ": ";
            // Arrays of objects (the result rows) print one row per line: easy to grep and diff.
            pretty(os, kv.value(), indent + 1, false);
            first = false;
        }
        os << "\n" << pad << "}";
        break;
    }
    case json::kind::array: {
        const auto& a = v.get_array();
        if (a.empty()) {
            os << "[]";
            break;
        }
        const bool rows = a.front().is_object();
        if (!rows) {
            os << "[";
            for (std::size_t i = 0; i < a.size(); ++i) {
                if (i) os << ", ";
                pretty(os, a[i], indent, true);
            }
            os << "]";
            break;
        }
        os << "[\n";
        for (std::size_t i = 0; i < a.size(); ++i) {
            os << pad << "  ";
            pretty(os, a[i], indent + 1, true);
            os << (i + 1 < a.size() ? ",\n" : "\n");
        }
        os << pad << "]";
        break;
    }
    case json::kind::double_: {
        const double d = v.get_double();
        if (!std::isfinite(d)) {
            os << "null";
            break;
        }
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.4f", d);
        std::string s = buf;
        while (s.size() > 1 && s.back() == '0') s.pop_back();
        if (s.back() == '.') s += '0';
        os << s;
        break;
    }
    default:
        os << json::serialize(v);
    }
}

json::array int_array(const std::vector<int>& v) {
    json::array a;
    for (int x : v) a.push_back(x);
    return a;
}

double round3(double v) {
    return std::round(v * 1000.0) / 1000.0;
}

} // namespace

namespace {

/// One speed target (the overhead and throughput goals in bench/README.md), as read from this run.
struct target {
    std::string what;
    std::string goal; ///< e.g. "<= 1.05"
    std::optional<double> value;
    bool met = false;
};

const cell_result* cell_at(const run_result& r, const char* pin, const char* transport,
                           const char* impl, std::size_t size) {
    for (const auto& c : r.cells)
        if (c.ok && c.pin == pin && c.transport == transport && c.impl == impl && c.size == size)
            return &c;
    return nullptr;
}

/// The speed targets: same CPU, 64 B (semaphores: no payload), p50 unless said otherwise.
std::vector<target> targets(const run_result& r) {
    std::vector<target> out;
    auto add = [&](std::string what, const cell_result* a, const cell_result* b, double goal,
                   bool at_most, double (*pick)(const cell_result&)) {
        target t;
        t.what = std::move(what);
        t.goal = std::string(at_most ? "<= " : ">= ") + fmt("%.2f", goal);
        if (a && b && pick(*b) > 0) {
            t.value = pick(*a) / pick(*b);
            t.met = at_most ? *t.value <= goal : *t.value >= goal;
        }
        out.push_back(std::move(t));
    };
    auto p50 = [](const cell_result& c) { return c.stats.p50; };
    auto p99 = [](const cell_result& c) { return c.stats.p99; };
    auto tput = [](const cell_result& c) { return c.stats.msgs_per_s.value_or(0.0); };
    const char* s = "same-cpu";
    const auto* mq_raw = cell_at(r, s, "mq", "raw", 64);
    const auto* mq_epoll = cell_at(r, s, "mq", "raw-epoll", 64);
    const auto* mq_pipc = cell_at(r, s, "mq", "pipc-blocking", 64);
    const auto* mq_async = cell_at(r, s, "mq", "pipc-async", 64);
    const auto* mq_notify = cell_at(r, s, "mq", "pipc-async-notify", 64);
    const auto* mq_bip = cell_at(r, s, "mq", "boost-interprocess", 64);
    const auto* sem_raw = cell_at(r, s, "sem", "raw", 0);
    const auto* sem_pipc = cell_at(r, s, "sem", "pipc-blocking", 0);
    const auto* sem_async = cell_at(r, s, "sem", "pipc-async", 0);
    add("mq pipc-blocking / mq raw, p50", mq_pipc, mq_raw, 1.05, true, p50);
    add("mq pipc-async / mq raw-epoll, p50", mq_async, mq_epoll, 1.10, true, p50);
    add("mq pipc-async / boost-interprocess, p50", mq_async, mq_bip, 1.0, true, p50);
    add("mq pipc-async / boost-interprocess, p99", mq_async, mq_bip, 1.0, true, p99);
    add("mq pipc-async-notify / mq raw, p50", mq_notify, mq_raw, 2.5, true, p50);
    add("mq pipc-async / mq raw, msgs/s", mq_async, mq_raw, 0.9, false, tput);
    // The async receive loop's stream against what an event loop can do on one CPU, and against
    // a blocking receive across CPUs (where the receiver sleeps less than its sender sends).
    add("mq pipc-async / mq raw-epoll, msgs/s", mq_async, mq_epoll, 0.9, false, tput);
    add("mq pipc-async / mq raw, cross-cpu msgs/s", cell_at(r, "cross-cpu", "mq", "pipc-async", 64),
        cell_at(r, "cross-cpu", "mq", "raw", 64), 0.9, false, tput);
    // Channels against the kernel queue (64 B), and zero-copy 1 MiB messages against a pipe
    // carrying the same size (msgs/s of equal sizes: the ratio of bytes/s).
    const auto* ch_copy = cell_at(r, s, "channel", "pipc-blocking", 64);
    const auto* ch_zc = cell_at(r, s, "channel", "pipc-blocking-zc", 64);
    constexpr std::size_t mib = std::size_t{1024} * 1024;
    add("channel pipc-blocking / mq raw, p50", ch_copy, mq_raw, 1.0, true, p50);
    add("channel pipc-blocking-zc / mq raw, p50", ch_zc, mq_raw, 1.0, true, p50);
    add("channel pipc-blocking / mq raw, msgs/s", ch_copy, mq_raw, 10.0, false, tput);
    add("channel pipc-blocking-zc / mq raw, msgs/s", ch_zc, mq_raw, 10.0, false, tput);
    // The same one-way stream with the channel at its default 64 slots (mq stays at msg_max).
    add("channel pipc-blocking-cap64 / mq raw, msgs/s",
        cell_at(r, s, "channel", "pipc-blocking-cap64", 64), mq_raw, 10.0, false, tput);
    add("channel pipc-blocking-zc-cap64 / mq raw, msgs/s",
        cell_at(r, s, "channel", "pipc-blocking-zc-cap64", 64), mq_raw, 10.0, false, tput);
    // The asynchronous channel against the asynchronous queue, and every channel against
    // Boost.Interprocess's message_queue at p50 and p99 in both pinnings.
    add("channel pipc-async / mq pipc-async, p50", cell_at(r, s, "channel", "pipc-async", 64),
        mq_async, 1.0, true, p50);
    for (const char* pin : {"same-cpu", "cross-cpu"}) {
        const auto* bip = cell_at(r, pin, "mq", "boost-interprocess", 64);
        for (const char* impl : {"pipc-blocking", "pipc-async", "pipc-async-zc"}) {
            const auto* c = cell_at(r, pin, "channel", impl, 64);
            const std::string what =
                std::string("channel ") + impl + " / boost-interprocess, " + pin;
            add(what + " p50", c, bip, 1.0, true, p50);
            add(what + " p99", c, bip, 1.0, true, p99);
        }
    }
    add("channel pipc-blocking-zc / pipe raw, bytes/s 1 MiB",
        cell_at(r, s, "channel", "pipc-blocking-zc", mib), cell_at(r, s, "pipe", "raw", mib), 10.0,
        false, tput);
    add("sem pipc-blocking / sem raw, p50", sem_pipc, sem_raw, 1.05, true, p50);
    add("sem pipc-async / sem raw, p50", sem_async, sem_raw, 3.0, true, p50);
    // A free semaphore: co_await async_acquire against a bare sem_trywait (one process).
    add("sem pipc-async-free / sem raw-free (co_await vs sem_trywait), p50",
        cell_at(r, s, "sem", "pipc-async-free", 0), cell_at(r, s, "sem", "raw-free", 0), 2.0, true,
        p50);
    const auto* lock_raw = cell_at(r, s, "lock", "raw", 0);
    add("lock pipc-blocking / lock raw, p50", cell_at(r, s, "lock", "pipc-blocking", 0), lock_raw,
        1.10, true, p50);
    add("lock pipc-async / lock raw, p50", cell_at(r, s, "lock", "pipc-async", 0), lock_raw, 3.0,
        true, p50);
    // Spinning wait strategies: adaptive must cost (almost) nothing where spinning cannot pay
    // (one CPU) and keep most of spin's gain across CPUs.
    for (const char* t : {"mq", "sem", "channel"}) {
        const std::size_t size = std::string(t) == "sem" ? 0 : 64;
        for (const char* base : {"pipc-blocking", "pipc-async"}) {
            const std::string adaptive = std::string(base) + "-adaptive";
            const std::string spin = std::string(base) + "-spin";
            std::string what = t;
            what.append(" ").append(adaptive).append(" / ");
            add(what + base + ", p50", cell_at(r, s, t, adaptive.c_str(), size),
                cell_at(r, s, t, base, size), 1.1, true, p50);
            what.append(spin).append(", cross-cpu p50");
            add(what, cell_at(r, "cross-cpu", t, adaptive.c_str(), size),
                cell_at(r, "cross-cpu", t, spin.c_str(), size), 1.5, true, p50);
        }
    }
    // Spinning across CPUs, in absolute time: the kernel's wake-up is what spinning avoids, so
    // the goal is a few polls' worth, not a ratio (a semaphore or channel poll is a user-space
    // atomic, a queue poll a system call).
    auto add_us = [&](const char* t, const char* impl, std::size_t size, double p50_goal) {
        const auto* c = cell_at(r, "cross-cpu", t, impl, size);
        for (const bool tail : {false, true}) {
            target g;
            g.what =
                std::string(t) + " " + impl + (tail ? ", cross-cpu p99 us" : ", cross-cpu p50 us");
            const double goal = tail ? 10.0 : p50_goal;
            g.goal = "<= " + fmt("%.2f", goal);
            if (c) {
                g.value = tail ? c->stats.p99 : c->stats.p50;
                g.met = *g.value <= goal;
            }
            out.push_back(std::move(g));
        }
    };
    add_us("sem", "pipc-blocking-spin", 0, 1.0);
    add_us("sem", "pipc-async-spin", 0, 1.0);
    add_us("mq", "pipc-blocking-spin", 64, 3.0);
    add_us("mq", "pipc-async-spin", 64, 3.0);
    // ... and against the bare polling loop in the same run (the floor of a spinning queue).
    const auto* mq_raw_spin = cell_at(r, "cross-cpu", "mq", "raw-spin", 64);
    add_us("mq", "raw-spin", 64, 3.0);
    for (const char* impl : {"pipc-blocking-spin", "pipc-async-spin"})
        add(std::string("mq ") + impl + " / mq raw-spin, cross-cpu p50",
            cell_at(r, "cross-cpu", "mq", impl, 64), mq_raw_spin, 1.1, true, p50);
    add_us("channel", "pipc-blocking-spin", 64, 1.0);
    add_us("channel", "pipc-async-spin", 64, 1.0);
    // The same awaited with the deferred token (Asio's default from Boost 1.87).
    add_us("channel", "pipc-async-deferred-spin", 64, 1.0);
    if (r.instrument.ns_per_sample > 0) {
        target t;
        t.what = "instrument cost per sample, ns";
        t.goal = "<= 50";
        t.value = r.instrument.ns_per_sample;
        t.met = *t.value <= 50;
        out.push_back(std::move(t));
    }
    return out;
}

} // namespace

std::string floor_of(const cell_result& c) {
    if (c.impl == "peer") return "";
    if (c.transport == "mq") return c.impl == "raw" ? "" : "mq/raw";
    if (c.transport == "channel") return "mq/raw";
    if (c.transport == "sem" && c.impl.find("-free") != std::string::npos) // one process, batches
        return c.impl == "raw-free" ? "" : "sem/raw-free";
    if (c.transport == "sem") return c.impl == "raw" ? "" : "sem/raw";
    if (c.transport == "shm") return "sem/raw";
    if (c.transport == "pipe" || c.transport == "eventfd") return "mq/raw";
    if (c.transport == "lock") return c.impl == "raw" ? "" : "lock/raw";
    return "";
}

// ---- table --------------------------------------------------------------------------------

void print_table(const run_result& r, const options& o, std::FILE* out) {
    std::fprintf(out, "pipc-bench %s  %s  %s\n", pipc::version_string, r.started_utc.c_str(),
                 cpu_model().c_str());
    if (!r.cells.empty())
        std::fprintf(out,
                     "%llu timed round trips per cell after %llu warm-up; throughput: %llu one-way "
                     "messages sent back to back, timed on the receiver, at most %ld in flight "
                     "(queue depth / credit window; channel: the depth rounded up to a power of "
                     "two, *-cap64: 64 slots; pipe and eventfd: kernel buffer)\n",
                     (unsigned long long)r.cells.front().round_trips,
                     (unsigned long long)r.cells.front().warmup,
                     (unsigned long long)r.cells.front().throughput_msgs, o.queue_depth);
    if (r.instrument.ns_per_sample > 0)
        std::fprintf(
            out,
            "instrument: %.0f ns per recorded sample (median of one clock read + store; goal "
            "< 50 ns; mean incl. preemptions %.1f ns)\n",
            r.instrument.ns_per_sample, r.instrument.mean_ns);
    std::fprintf(out,
                 "latency: round trip in us, nearest-rank percentiles. xp50/xp99/xtput: ratio to "
                 "the floor of the same run and pinning\n(mq/* and channel/* vs mq/raw at the same "
                 "size; sem/* "
                 "and shm/* vs sem/raw; pipe and eventfd vs mq/raw as kernel baselines); xepoll: "
                 "vs mq/raw-epoll, the event-loop floor. cs/msg: context switches of both "
                 "processes per message of the one-way stream (blocking variants); cs/rt: the "
                 "same per timed round trip; cpu/rt: their CPU time (user + "
                 "sys, getrusage) per timed round trip in us, what spinning costs.\n");
    for (const auto& pin : pins_of(r)) {
        std::fprintf(out, "\n== %s: %s ==\n", pin.c_str(), pin_description(r, pin).c_str());
        std::fprintf(out,
                     "%-8s %-22s %5s %8s %8s %8s %8s %9s %10s %6s %5s %6s  %-8s %6s %6s %6s %6s\n",
                     "transp", "impl", "size", "p50", "p90", "p99", "p99.9", "max", "msgs/s",
                     "cs/msg", "cs/rt", "cpu/rt", "floor", "xp50", "xp99", "xtput", "xepoll");
        std::vector<const cell_result*> rows;
        for (const auto& c : r.cells)
            if (c.pin == pin) rows.push_back(&c);
        // Already in plan order: by size, then registry order; payload-less rows sit with the
        // first size.
        for (const cell_result* c : rows) {
            const std::string size = c->size ? std::to_string(c->size) : "-";
            if (!c->ok) {
                std::fprintf(out, "%-8s %-22s %5s  FAILED: %s\n", c->transport.c_str(),
                             c->impl.c_str(), size.c_str(), c->error.c_str());
                continue;
            }
            const auto& s = c->stats;
            const std::string tput = s.msgs_per_s ? fmt("%.0f", *s.msgs_per_s) : "-";
            std::string floor = "(floor)", xp50 = "", xp99 = "", xt = "", xe = "";
            if (const cell_result* f = find_floor(r, *c)) {
                floor = floor_of(*c);
                xp50 = ratio(s.p50, f->stats.p50);
                xp99 = ratio(s.p99, f->stats.p99);
                if (s.msgs_per_s && f->stats.msgs_per_s)
                    xt = ratio(*s.msgs_per_s, *f->stats.msgs_per_s);
            } else if (!floor_of(*c).empty()) {
                floor = floor_of(*c) + "?";
            } else if (c->impl == "peer") {
                floor = "";
            }
            if (c->transport == "mq" && c->impl != "raw" && c->impl != "raw-epoll")
                if (const cell_result* e = find_cell(r, *c, "mq", "raw-epoll"))
                    xe = ratio(s.p50, e->stats.p50);
            const std::string cs = s.switches_per_rt && s.peer_switches_per_rt
                                       ? fmt("%.1f", *s.switches_per_rt + *s.peer_switches_per_rt)
                                       : "-";
            const std::string cpu = s.cpu_us_per_rt ? fmt("%.2f", *s.cpu_us_per_rt) : "-";
            const std::string stream_cs =
                s.stream_switches_per_msg ? fmt("%.3f", *s.stream_switches_per_msg) : "-";
            std::fprintf(out,
                         "%-8s %-22s %5s %8.2f %8.2f %8.2f %8.2f %9.2f %10s %6s %5s %6s  %-8s %6s "
                         "%6s %6s %6s\n",
                         c->transport.c_str(), c->impl.c_str(), size.c_str(), s.p50, s.p90, s.p99,
                         s.p999, s.max, tput.c_str(), stream_cs.c_str(), cs.c_str(), cpu.c_str(),
                         floor.c_str(), xp50.c_str(), xp99.c_str(), xt.c_str(), xe.c_str());
        }
    }
    if (!r.cells.empty() && r.cells.front().impl != "peer") {
        std::fprintf(
            out, "\nSpeed targets (pipc's overhead and throughput goals; same-cpu, 64 B, ratios "
                 "from this run; "
                 "'-' = not in this run):\n");
        for (const auto& t : targets(r))
            std::fprintf(out, "  %-4s %-44s %7s  (goal %s)\n",
                         t.value ? (t.met ? "ok" : "MISS") : "-", t.what.c_str(),
                         t.value ? fmt("%.2f", *t.value).c_str() : "-", t.goal.c_str());
    }
    bool async = false;
    for (const auto& c : r.cells) async = async || c.impl.rfind("pipc-async", 0) == 0;
    if (!async && !r.cells.empty() && r.cells.front().impl != "peer")
        std::fprintf(out,
                     "\n(no pipc-async variants in this build/run: see `pipc-bench --list`)\n");
    std::fprintf(out, "\n%zu cells in %.1f s\n", r.cells.size(), r.elapsed_s);
}

// ---- Markdown -----------------------------------------------------------------------------

void write_markdown(const run_result& r, const options& o, const std::string& path) {
    std::ostringstream m;
    m << "Measured " << r.started_utc << " on " << cpu_model() << " ("
      << ::sysconf(_SC_NPROCESSORS_ONLN) << " CPUs), pipc " << pipc::version_string << ", with `"
      << r.command_line << "`: ";
    if (!r.cells.empty())
        m << r.cells.front().round_trips << " timed round trips per cell after "
          << r.cells.front().warmup << " warm-up, throughput over "
          << r.cells.front().throughput_msgs
          << " one-way messages (sent back to back, timed on the receiver) with at most "
          << o.queue_depth
          << " in flight (channel: rounded up to a power of two; `*-cap64`: 64 slots). ";
    m << "Round-trip latency in µs (nearest-rank percentiles); ×floor = ratio to the floor of the "
         "same run and pinning (mq: `mq/raw` at the same size; sem and shm: `sem/raw`; pipe and "
         "eventfd: `mq/raw`, as baselines); ×epoll = p50 vs `mq/raw-epoll`. Instrument: "
      << fmt("%.0f", r.instrument.ns_per_sample) << " ns per sample.\n";
    for (const auto& pin : pins_of(r)) {
        m << "\n**" << pin << "** (" << pin_description(r, pin) << ")\n\n";
        m << "| variant | size | p50 | p90 | p99 | p99.9 | max | msgs/s | CPU µs/rt | p50 ×floor "
             "| p99 ×floor | msgs/s ×floor | p50 ×epoll |\n";
        m << "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
        for (const auto& c : r.cells) {
            if (c.pin != pin) continue;
            const std::string size = c.size ? std::to_string(c.size) : "-";
            m << "| " << variant_key(c) << " | " << size << " | ";
            if (!c.ok) {
                m << "failed: " << c.error << " |||||||||||\n";
                continue;
            }
            const auto& s = c.stats;
            std::string xp50 = "floor", xp99 = "", xt = "", xe = "";
            if (const cell_result* f = find_floor(r, c)) {
                xp50 = ratio(s.p50, f->stats.p50);
                xp99 = ratio(s.p99, f->stats.p99);
                if (s.msgs_per_s && f->stats.msgs_per_s)
                    xt = ratio(*s.msgs_per_s, *f->stats.msgs_per_s);
            } else if (!floor_of(c).empty() || c.impl == "peer") {
                xp50 = "";
            }
            if (c.transport == "mq" && c.impl != "raw" && c.impl != "raw-epoll")
                if (const cell_result* e = find_cell(r, c, "mq", "raw-epoll"))
                    xe = ratio(s.p50, e->stats.p50);
            m << fmt("%.2f", s.p50) << " | " << fmt("%.2f", s.p90) << " | " << fmt("%.2f", s.p99)
              << " | " << fmt("%.1f", s.p999) << " | " << fmt("%.0f", s.max) << " | "
              << (s.msgs_per_s ? fmt("%.0f", *s.msgs_per_s) : std::string("-")) << " | "
              << (s.cpu_us_per_rt ? fmt("%.2f", *s.cpu_us_per_rt) : std::string("-")) << " | "
              << xp50 << " | " << xp99 << " | " << xt << " | " << xe << " |\n";
        }
    }
    m << "\nSpeed targets (same-cpu, 64 B):\n\n| target | goal | this run |\n|---|---|---:|\n";
    for (const auto& t : targets(r))
        m << "| " << t.what << " | " << t.goal << " | "
          << (t.value ? fmt("%.2f", *t.value) + (t.met ? "" : " (missed)") : std::string("-"))
          << " |\n";
    std::ofstream f(path);
    f << m.str();
    if (!f) throw std::runtime_error("cannot write " + path);
}

// ---- JSON ---------------------------------------------------------------------------------

std::string to_json(const run_result& r, const options& o) {
    json::object doc;
    doc["version"] = pipc::version_string;

    json::object m;
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    m["hostname"] = host;
    utsname u{};
    if (::uname(&u) == 0) {
        m["kernel"] = std::string(u.sysname) + " " + u.release;
        m["arch"] = u.machine;
    }
    m["cpu_model"] = cpu_model();
    m["online_cpus"] = ::sysconf(_SC_NPROCESSORS_ONLN);
    m["cpus_used"] = int_array(r.cpus);
    m["clocksource"] =
        read_file("/sys/devices/system/clocksource/clocksource0/current_clocksource");
    m["cpuidle_driver"] = read_file("/sys/devices/system/cpu/cpuidle/current_driver");
    m["mq_msg_max"] = read_file("/proc/sys/fs/mqueue/msg_max");
    m["mq_msgsize_max"] = read_file("/proc/sys/fs/mqueue/msgsize_max");
    m["glibc"] = ::gnu_get_libc_version();
    m["compiler"] = __VERSION__;
    m["boost"] = std::to_string(BOOST_VERSION / 100000) + "." +
                 std::to_string(BOOST_VERSION / 100 % 1000) + "." +
                 std::to_string(BOOST_VERSION % 100);
#ifdef NDEBUG
    m["optimized"] = true;
#else
    m["optimized"] = false;
#endif
    doc["machine"] = std::move(m);

    json::array results, failures;
    for (const auto& c : r.cells) {
        json::object row;
        row["transport"] = c.transport;
        row["impl"] = c.impl;
        row["pin"] = c.pin;
        row["size"] = c.size;
        row["round_trips"] = c.round_trips;
        if (!c.ok) {
            row["error"] = c.error;
            failures.push_back(std::move(row));
            continue;
        }
        const auto& s = c.stats;
        row["p50_us"] = round3(s.p50);
        row["p90_us"] = round3(s.p90);
        row["p99_us"] = round3(s.p99);
        row["p999_us"] = round3(s.p999);
        row["max_us"] = round3(s.max);
        if (s.msgs_per_s)
            row["msgs_per_s"] = std::round(*s.msgs_per_s);
        else
            row["msgs_per_s"] = nullptr;
        // Extras (allowed by the schema).
        if (s.switches_per_rt) row["ctx_switches_per_rt"] = round3(*s.switches_per_rt);
        if (s.peer_switches_per_rt)
            row["peer_ctx_switches_per_rt"] = round3(*s.peer_switches_per_rt);
        if (s.cpu_us_per_rt) row["cpu_us_per_rt"] = round3(*s.cpu_us_per_rt);
        if (s.stream_switches_per_msg)
            row["stream_ctx_switches_per_msg"] = round3(*s.stream_switches_per_msg);
        row["min_us"] = round3(s.min);
        row["mean_us"] = round3(s.mean);
        row["warmup"] = c.warmup;
        row["throughput_msgs"] = c.throughput_msgs;
        row["depth"] = c.depth;
        row["cpus"] = int_array(c.cpus);
        const std::string floor = floor_of(c);
        if (const cell_result* f = find_floor(r, c)) {
            row["floor"] = floor;
            row["p50_vs_floor"] = round3(s.p50 / f->stats.p50);
            row["p99_vs_floor"] = round3(s.p99 / f->stats.p99);
            if (s.msgs_per_s && f->stats.msgs_per_s)
                row["msgs_per_s_vs_floor"] = round3(*s.msgs_per_s / *f->stats.msgs_per_s);
        }
        if (c.transport == "mq" && c.impl != "raw" && c.impl != "raw-epoll")
            if (const cell_result* e = find_cell(r, c, "mq", "raw-epoll"))
                row["p50_vs_raw_epoll"] = round3(s.p50 / e->stats.p50);
        results.push_back(std::move(row));
    }
    doc["results"] = std::move(results);

    doc["date_utc"] = r.started_utc;
    doc["command"] = r.command_line;
    doc["elapsed_s"] = round3(r.elapsed_s);
    json::object inst;
    inst["ns_per_sample"] = round3(r.instrument.ns_per_sample);
    inst["mean_ns"] = round3(r.instrument.mean_ns);
    doc["instrument"] = std::move(inst);
    json::object opts;
    opts["quick"] = o.quick;
    opts["queue_depth"] = o.queue_depth;
    opts["sizes"] = json::value_from(o.sizes);
    opts["pins"] = json::value_from(o.pins);
    if (!o.peer_mq.empty()) opts["peer_mq"] = o.peer_mq;
    if (!o.peer_sem.empty()) opts["peer_sem"] = o.peer_sem;
    doc["options"] = std::move(opts);
    doc["failures"] = std::move(failures);
    json::array tj;
    for (const auto& t : targets(r)) {
        json::object row;
        row["what"] = t.what;
        row["goal"] = t.goal;
        if (t.value)
            row["value"] = round3(*t.value);
        else
            row["value"] = nullptr;
        row["met"] = t.met;
        tj.push_back(std::move(row));
    }
    doc["targets"] = std::move(tj);

    std::ostringstream os;
    pretty(os, doc, 0, false);
    return os.str();
}

// ---- SVG ----------------------------------------------------------------------------------

namespace {
const char* const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
                               "#000000", "#aec7e8", "#ffbb78", "#98df8a"};
} // namespace

std::string svg_escape(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '<')
            o += "&lt;";
        else if (c == '>')
            o += "&gt;";
        else if (c == '&')
            o += "&amp;";
        else
            o += c;
    }
    return o;
}

const char* svg_colour(std::size_t i) {
    return palette[i % (sizeof palette / sizeof *palette)];
}

log_axis::log_axis(double vmin, double vmax, double pixel_lo, double pixel_hi, bool whole_decades)
    : p0(pixel_lo), p1(pixel_hi) {
    vmin = std::max(vmin, 0.01);
    vmax = std::max(vmax, vmin);
    if (whole_decades) {
        vmax = std::max(vmax, vmin * 10);
        lo = std::floor(std::log10(vmin));
        hi = std::ceil(std::log10(vmax));
    } else {
        const double pad = vmax > vmin ? 0.06 * (std::log10(vmax) - std::log10(vmin)) : 0.5;
        lo = std::log10(vmin) - pad;
        hi = std::log10(vmax) + pad;
    }
}

double log_axis::operator()(double v) const {
    return p0 + (p1 - p0) * (std::log10(std::max(v, 1e-3)) - lo) / (hi - lo);
}

void svg_log_grid_y(std::ostream& s, const log_axis& y, double x0, double x1) {
    for (int decade = static_cast<int>(std::floor(y.lo)); decade <= static_cast<int>(y.hi);
         ++decade)
        for (double m : {1.0, 2.0, 5.0}) {
            const double e = decade;
            const double v = m * std::pow(10.0, e);
            if (std::log10(v) > y.hi + 1e-9 || std::log10(v) < y.lo - 1e-9) continue;
            const double py = y(v);
            s << "<line x1=\"" << x0 << "\" x2=\"" << x1 << "\" y1=\"" << py << "\" y2=\"" << py
              << "\" stroke=\"" << (m == 1.0 ? "#bbb" : "#e4e4e4") << "\"/>\n";
            s << "<text x=\"" << x0 - 6 << "\" y=\"" << py + 4 << "\" text-anchor=\"end\">"
              << fmt(v < 1 ? "%.2g" : "%.0f", v) << "</text>\n";
        }
}

void svg_begin(std::ostream& s, double width, double height, const std::string& title) {
    s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" viewBox=\"0 0 " << width << " " << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
    s << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    s << "<text x=\"70\" y=\"24\" font-size=\"15\" font-weight=\"bold\">pipc-bench "
      << pipc::version_string << ": " << svg_escape(title) << " (" << svg_escape(cpu_model())
      << ")</text>\n";
}

void write_text_file(const std::string& path, const std::string& text) {
    std::ofstream f(path);
    f << text;
    if (!f) throw std::runtime_error("cannot write " + path);
}

void write_svg(const run_result& r, const std::string& path) {
    // Panels: one per (pin, size); payload-less variants join the smallest size of their pin.
    struct panel {
        std::string pin;
        std::size_t size;
        std::vector<const cell_result*> cells;
    };
    std::vector<panel> panels;
    for (const auto& pin : pins_of(r)) {
        std::vector<std::size_t> sizes;
        for (const auto& c : r.cells)
            if (c.pin == pin && c.size &&
                std::find(sizes.begin(), sizes.end(), c.size) == sizes.end())
                sizes.push_back(c.size);
        std::sort(sizes.begin(), sizes.end());
        if (sizes.empty()) sizes.push_back(0);
        for (auto sz : sizes) {
            panel p{pin, sz, {}};
            for (const auto& c : r.cells)
                if (c.ok && c.pin == pin && (c.size == sz || (c.size == 0 && sz == sizes.front())))
                    p.cells.push_back(&c);
            if (!p.cells.empty()) panels.push_back(std::move(p));
        }
    }
    // One colour per variant across all panels.
    std::map<std::string, std::string> colour;
    std::size_t next = 0;
    for (const auto& c : r.cells)
        if (!colour.count(variant_key(c))) colour[variant_key(c)] = svg_colour(next++);

    const double W = 980, H = 380, L = 70, R = 250, T = 46, B = 52;
    const double pw = W - L - R, ph = H - T - B;
    std::ostringstream s;
    const double total_h = 40 + H * double(panels.size());
    svg_begin(s, W, total_h, "round-trip latency by percentile (" + r.started_utc + ")");

    for (std::size_t pi = 0; pi < panels.size(); ++pi) {
        const auto& p = panels[pi];
        const double oy = 40 + H * double(pi);
        double ymin = 1e300, ymax = 0, xmax = 1;
        for (const cell_result* c : p.cells)
            for (const auto& [x, y] : c->stats.curve) {
                ymin = std::min(ymin, y);
                ymax = std::max(ymax, y);
                xmax = std::max(xmax, x);
            }
        auto X = [&](double x) { return L + pw * x / xmax; };
        const log_axis Y(ymin, ymax, oy + T + ph, oy + T);
        s << "<g>\n<text x=\"" << L << "\" y=\"" << oy + T - 14 << "\" font-size=\"13\">pin "
          << svg_escape(p.pin) << " (" << svg_escape(pin_description(r, p.pin)) << "), "
          << (p.size ? std::to_string(p.size) + " B messages" : std::string("no payload"))
          << "</text>\n";
        s << "<rect x=\"" << L << "\" y=\"" << oy + T << "\" width=\"" << pw << "\" height=\"" << ph
          << "\" fill=\"none\" stroke=\"#444\"/>\n";
        svg_log_grid_y(s, Y, L, L + pw); // 1, 2, 5 per decade
        s << "<text transform=\"translate(" << L - 48 << "," << oy + T + ph / 2
          << ") rotate(-90)\" text-anchor=\"middle\">round trip (us, log scale)</text>\n";
        // X grid: percentiles.
        const std::pair<double, const char*> ticks[] = {{0, "p0"},     {std::log10(2.0), "p50"},
                                                        {1, "p90"},    {2, "p99"},
                                                        {3, "p99.9"},  {4, "p99.99"},
                                                        {5, "p99.999"}};
        for (const auto& [x, label] : ticks) {
            if (x > xmax + 1e-9) continue;
            s << "<line x1=\"" << X(x) << "\" x2=\"" << X(x) << "\" y1=\"" << oy + T << "\" y2=\""
              << oy + T + ph << "\" stroke=\"#ddd\"/>\n";
            s << "<text x=\"" << X(x) << "\" y=\"" << oy + T + ph + 16
              << "\" text-anchor=\"middle\">" << label << "</text>\n";
        }
        s << "<text x=\"" << L + pw / 2 << "\" y=\"" << oy + T + ph + 36
          << "\" text-anchor=\"middle\">percentile (the right end is the max)</text>\n";
        // Curves and legend.
        double ly = oy + T + 6;
        for (const cell_result* c : p.cells) {
            const std::string col = colour[variant_key(*c)];
            const bool floor = c->impl == "raw";
            s << "<polyline fill=\"none\" stroke=\"" << col << "\" stroke-width=\""
              << (floor ? 2.2 : 1.6) << "\"" << (floor ? " stroke-dasharray=\"6,3\"" : "")
              << " points=\"";
            for (const auto& [x, y] : c->stats.curve)
                s << fmt("%.1f", X(x)) << "," << fmt("%.1f", Y(y)) << " ";
            s << "\"/>\n";
            s << "<line x1=\"" << L + pw + 12 << "\" x2=\"" << L + pw + 36 << "\" y1=\"" << ly
              << "\" y2=\"" << ly << "\" stroke=\"" << col << "\" stroke-width=\"2.2\""
              << (floor ? " stroke-dasharray=\"6,3\"" : "") << "/>\n";
            s << "<text x=\"" << L + pw + 42 << "\" y=\"" << ly + 4 << "\">"
              << svg_escape(variant_key(*c)) << " p50 " << fmt("%.2f", c->stats.p50) << "</text>\n";
            ly += 17;
        }
        s << "</g>\n";
    }
    s << "</svg>\n";
    write_text_file(path, s.str());
}

// ---- comparison ---------------------------------------------------------------------------

void print_comparison(const run_result& r, const std::string& path, std::FILE* out) {
    std::ifstream f(path);
    std::stringstream buf;
    buf << f.rdbuf();
    if (!f) throw std::runtime_error("cannot read " + path);
    json::value doc;
    try {
        doc = json::parse(buf.str());
    } catch (const std::exception& e) {
        throw std::runtime_error(path + ": not JSON (" + e.what() + ")");
    }
    std::map<std::string, double> before;
    auto key = [](const std::string& t, const std::string& i, const std::string& p,
                  std::uint64_t s) { return t + "/" + i + " " + p + " " + std::to_string(s); };
    if (auto* res = doc.as_object().if_contains("results"))
        for (const auto& v : res->as_array()) {
            const auto& o = v.as_object();
            before[key(
                json::value_to<std::string>(o.at("transport")),
                json::value_to<std::string>(o.at("impl")), json::value_to<std::string>(o.at("pin")),
                o.at("size").to_number<std::uint64_t>())] = o.at("p50_us").to_number<double>();
        }
    std::fprintf(out, "\np50 compared with %s (now / before; '!' marks a change over 10%%):\n",
                 path.c_str());
    int same = 0, within = 0;
    for (const auto& c : r.cells) {
        if (!c.ok) continue;
        const auto it = before.find(key(c.transport, c.impl, c.pin, c.size));
        if (it == before.end() || it->second <= 0) continue;
        const double q = c.stats.p50 / it->second;
        const bool ok = std::fabs(q - 1.0) <= 0.10;
        std::fprintf(out, "  %-9s %-26s %5zu  %8.2f -> %8.2f  %5.2f %s\n", c.pin.c_str(),
                     variant_key(c).c_str(), c.size, it->second, c.stats.p50, q, ok ? "" : "!");
        if (c.pin == "same-cpu") {
            ++same;
            within += ok;
        }
    }
    std::fprintf(out, "same-cpu cells with p50 within 10%%: %d of %d\n", within, same);
}

} // namespace pipc_bench::detail
