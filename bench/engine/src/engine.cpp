// SPDX-License-Identifier: BSL-1.0
// The engine: plans the cells, runs each in a fresh forked runner under a watchdog, gathers
// statistics, and hands the run to the reporters. Also the --peer-mq / --peer-sem client.
#include "cell.hpp"
#include "report.hpp"
#include "sem_fanout.hpp"

#include <pipc_bench/engine.hpp>

#include <pipc/message_queue.hpp>
#include <pipc/name.hpp>
#include <pipc/robust_mutex.hpp>
#include <pipc/semaphore.hpp>

#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace pipc_bench {
namespace detail {

// ---- helpers shared by the variants -------------------------------------------------------

void fail(const std::string& what) {
    throw std::runtime_error(what);
}
void fail_errno(const std::string& what) {
    fail(what + ": " + std::strerror(errno));
}

void seq_mismatch(const char* where, std::uint64_t expected, std::uint64_t got) {
    fail(std::string(where) + ": sequence " + std::to_string(got) + ", expected " +
         std::to_string(expected));
}

std::int64_t process_cpu_ns() noexcept {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    const auto ns = [](const timeval& t) {
        return std::int64_t(t.tv_sec) * 1000000000 + std::int64_t(t.tv_usec) * 1000;
    };
    return ns(ru.ru_utime) + ns(ru.ru_stime);
}

std::int64_t process_switches() noexcept {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return std::int64_t(ru.ru_nvcsw) + std::int64_t(ru.ru_nivcsw);
}

void pin_to(int cpu) {
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (::sched_setaffinity(0, sizeof set, &set) != 0)
        fail_errno("sched_setaffinity(CPU " + std::to_string(cpu) + ")");
}

void unlink_everything(const std::string& name) noexcept {
    ::mq_unlink(name.c_str());
    ::sem_unlink(name.c_str());
    ::shm_unlink(name.c_str());
    pipc::error_code ignored; // the lock variants' robust mutexes ("/pipc-robust-mutex.<name>")
    pipc::unlink_robust_mutex(name, ignored);
}

namespace {
bool read_all(int fd, void* p, std::size_t n) {
    auto* c = static_cast<char*>(p);
    while (n > 0) {
        const ssize_t r = ::read(fd, c, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        c += r;
        n -= std::size_t(r);
    }
    return true;
}
bool write_all(int fd, const void* p, std::size_t n) {
    const auto* c = static_cast<const char*>(p);
    while (n > 0) {
        const ssize_t w = ::write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        c += w;
        n -= std::size_t(w);
    }
    return true;
}
std::string describe_status(int st) {
    if (WIFEXITED(st)) return "exited with status " + std::to_string(WEXITSTATUS(st));
    if (WIFSIGNALED(st)) {
        const int sig = WTERMSIG(st);
        return std::string("killed by ") +
               (sig == SIGALRM ? "the watchdog (SIGALRM)" : ::strsignal(sig));
    }
    return "stopped";
}
} // namespace

void run_pair(const cell_spec& spec, const std::function<void(pair_sync&)>& peer,
              const std::function<void(pair_sync&)>& initiator) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) fail_errno("pipe2");
    const pid_t runner = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) fail_errno("fork");
    if (pid == 0) {
        ::close(fds[0]);
        // The peer must never outlive its runner (e.g. when the watchdog kills the runner).
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != runner) ::_exit(3);
        ::alarm(spec.timeout_s);
        int rc = 0;
        try {
            pin_to(spec.cpu_peer);
            pair_sync ps;
            ps.ready = [&] {
                const char c = 'r';
                write_all(fds[1], &c, 1);
            };
            ps.wait_ready = [] {};
            ps.report = [&](std::int64_t v) { write_all(fds[1], &v, sizeof v); };
            ps.collect = [] { return std::int64_t{0}; };
            peer(ps);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "pipc-bench: %s/%s peer: %s\n", spec.transport.c_str(),
                         spec.impl.c_str(), e.what());
            rc = 1;
        }
        std::fflush(stderr);
        ::_exit(rc);
    }
    ::close(fds[1]);
    pair_sync is;
    is.ready = [] {};
    is.wait_ready = [&] {
        char c;
        const bool ok = read_all(fds[0], &c, 1);
        // Both sides hold their handles now (or the peer died): the names are not needed.
        for (const auto& n : spec.names) unlink_everything(n);
        if (!ok) fail("the peer failed before it was ready");
    };
    is.report = [](std::int64_t) {};
    is.collect = [&] {
        std::int64_t v = 0;
        if (!read_all(fds[0], &v, sizeof v)) fail("the peer died during the round trips");
        return v;
    };
    try {
        initiator(is);
    } catch (...) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        ::close(fds[0]);
        throw;
    }
    ::close(fds[0]);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) fail_errno("waitpid");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail("peer " + describe_status(st));
}

// ---- registry -----------------------------------------------------------------------------

namespace {
int transport_rank(const std::string& t) {
    static const char* order[] = {"mq", "channel", "sem", "shm", "pipe", "eventfd", "lock"};
    for (int i = 0; i < static_cast<int>(std::size(order)); ++i)
        if (t == order[i]) return i;
    return 99;
}
int impl_rank(const std::string& t) {
    static const char* order[] = {"raw",
                                  "raw-epoll",
                                  "raw-spin",
                                  "raw-free",
                                  "pipc-blocking",
                                  "pipc-blocking-zc",
                                  "pipc-blocking-cap64",
                                  "pipc-blocking-zc-cap64",
                                  "pipc-blocking-spin",
                                  "pipc-blocking-adaptive",
                                  "pipc-async",
                                  "pipc-async-zc",
                                  "pipc-async-spin",
                                  "pipc-async-adaptive",
                                  "pipc-async-deferred",
                                  "pipc-async-deferred-spin",
                                  "pipc-async-public",
                                  "pipc-async-notify",
                                  "pipc-async-free",
                                  "pipc-async-free-try",
                                  "boost-interprocess"};
    for (int i = 0; i < static_cast<int>(std::size(order)); ++i)
        if (t == order[i]) return i;
    return 99;
}
} // namespace

const std::vector<variant>& registry() {
    static const std::vector<variant> all = [] {
        std::vector<variant> v;
        register_blocking_variants(v);
        register_async_variants(v);
        register_async_public_variants(v);
        register_lock_variants(v);
        std::stable_sort(v.begin(), v.end(), [](const variant& a, const variant& b) {
            return std::pair(transport_rank(a.transport), impl_rank(a.impl)) <
                   std::pair(transport_rank(b.transport), impl_rank(b.impl));
        });
        return v;
    }();
    return all;
}

// ---- statistics ---------------------------------------------------------------------------

namespace {

constexpr int curve_points = 96;

/// Fixed-size record a runner writes back to the parent.
struct wire {
    int ok = 0;
    char error[480] = {};
    double p50, p90, p99, p999, max, min, mean, msgs_per_s, switches_per_rt, peer_switches_per_rt,
        cpu_us_per_rt, stream_switches_per_msg;
    long depth;
    int curve_n;
    double curve_x[curve_points], curve_y[curve_points];
};

/// Nearest rank: the smallest sample with at least p of all samples at or below it.
double nearest_rank_us(const std::vector<std::int64_t>& sorted, double p) {
    const auto n = sorted.size();
    auto rank = static_cast<std::size_t>(std::ceil(p * double(n)));
    rank = std::clamp<std::size_t>(rank, 1, n);
    return double(sorted[rank - 1]) / 1000.0;
}

void fill_stats(std::vector<std::int64_t>& s, wire& w) {
    std::sort(s.begin(), s.end());
    w.p50 = nearest_rank_us(s, 0.50);
    w.p90 = nearest_rank_us(s, 0.90);
    w.p99 = nearest_rank_us(s, 0.99);
    w.p999 = nearest_rank_us(s, 0.999);
    w.max = double(s.back()) / 1000.0;
    w.min = double(s.front()) / 1000.0;
    long double sum = 0;
    for (auto v : s) sum += v;
    w.mean = double(sum / (long double)s.size()) / 1000.0;
    // Percentile curve on x = -log10(1 - p), up to the last sample (the max).
    const double xmax = std::log10(double(s.size()));
    w.curve_n = curve_points;
    for (int k = 0; k < curve_points; ++k) {
        const double x = xmax * k / (curve_points - 1);
        const double p = 1.0 - std::pow(10.0, -x);
        w.curve_x[k] = x;
        w.curve_y[k] = k == curve_points - 1 ? w.max : nearest_rank_us(s, p);
    }
}

// The latency distribution a runner or a peer session computed, into the reported cell.
void copy_distribution(const wire& w, cell_stats& s) {
    s.p50 = w.p50;
    s.p90 = w.p90;
    s.p99 = w.p99;
    s.p999 = w.p999;
    s.max = w.max;
    s.min = w.min;
    s.mean = w.mean;
    for (int k = 0; k < w.curve_n; ++k) s.curve.emplace_back(w.curve_x[k], w.curve_y[k]);
}

// ---- the instrument -----------------------------------------------------------------------

instrument_cost measure_instrument(int cpu) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) fail_errno("pipe2");
    const pid_t pid = ::fork();
    if (pid < 0) fail_errno("fork");
    if (pid == 0) {
        ::close(fds[0]);
        ::alarm(30);
        instrument_cost c;
        try {
            pin_to(cpu);
            // Exactly what the measuring loop adds per round trip: one clock read, the
            // difference with the previous one, a store into the preallocated sample vector.
            // Each sample of this empty loop is therefore the instrument's whole cost.
            constexpr std::size_t n = 200000;
            std::vector<std::int64_t> s(n);
            std::int64_t* out = s.data();
            const std::int64_t start = now_ns();
            std::int64_t prev = start;
            for (std::size_t i = 0; i < n; ++i) {
                const std::int64_t t = now_ns();
                out[i] = t - prev;
                prev = t;
            }
            // The median is the cost of a sample; the mean also counts the times this loop
            // was preempted (an effect of the machine, not of the instrument), so it is shown
            // next to it.
            c.mean_ns = double(prev - start) / double(n);
            std::nth_element(s.begin(), s.begin() + n / 2, s.end());
            c.ns_per_sample = double(s[n / 2]);
        } catch (...) {
        }
        write_all(fds[1], &c, sizeof c);
        ::_exit(0);
    }
    ::close(fds[1]);
    instrument_cost c;
    read_all(fds[0], &c, sizeof c);
    ::close(fds[0]);
    ::waitpid(pid, nullptr, 0);
    return c;
}

// ---- one cell in a fresh runner -----------------------------------------------------------

void run_cell(const variant& v, const cell_spec& spec, cell_result& out) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) fail_errno("pipe2");
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = ::fork();
    if (pid < 0) fail_errno("fork");
    if (pid == 0) {
        ::close(fds[0]);
        ::alarm(spec.timeout_s);
        auto w = std::make_unique<wire>();
        try {
            pin_to(spec.cpu_initiator);
            measurement m;
            // Preallocated and touched (value-initialised) before any timing.
            m.samples_ns.assign(spec.round_trips, 0);
            v.run(spec, m);
            fill_stats(m.samples_ns, *w);
            w->msgs_per_s = m.msgs_per_s;
            w->switches_per_rt = m.switches_per_rt;
            w->peer_switches_per_rt = m.peer_switches_per_rt;
            w->cpu_us_per_rt = m.cpu_us_per_rt;
            w->stream_switches_per_msg = m.stream_switches_per_msg;
            w->depth = m.depth;
            w->ok = 1;
        } catch (const std::exception& e) {
            std::snprintf(w->error, sizeof w->error, "%s", e.what());
        }
        write_all(fds[1], w.get(), sizeof *w);
        std::fflush(stderr);
        ::_exit(0);
    }
    ::close(fds[1]);
    auto w = std::make_unique<wire>();
    const bool got = read_all(fds[0], w.get(), sizeof *w);
    ::close(fds[0]);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    // Whatever happened in there, no name of this cell survives it.
    for (const auto& n : spec.names) unlink_everything(n);
    if (!got) {
        out.ok = false;
        out.error = "runner " + describe_status(st);
        return;
    }
    out.ok = w->ok != 0;
    out.error = w->error;
    if (!out.ok) return;
    auto& s = out.stats;
    copy_distribution(*w, s);
    if (w->msgs_per_s >= 0) s.msgs_per_s = w->msgs_per_s;
    if (w->switches_per_rt >= 0) s.switches_per_rt = w->switches_per_rt;
    if (w->peer_switches_per_rt >= 0) s.peer_switches_per_rt = w->peer_switches_per_rt;
    if (w->cpu_us_per_rt >= 0) s.cpu_us_per_rt = w->cpu_us_per_rt;
    if (w->stream_switches_per_msg >= 0) s.stream_switches_per_msg = w->stream_switches_per_msg;
    out.depth = w->depth;
}

// ---- --peer-mq / --peer-sem ---------------------------------------------------------------

volatile sig_atomic_t g_alarm = 0;
extern "C" void on_alarm(int) {
    g_alarm = 1;
}

std::pair<std::string, std::string> split_pair(const std::string& s, const char* opt) {
    const auto comma = s.find(',');
    if (comma == std::string::npos || comma == 0 || comma + 1 == s.size())
        throw std::runtime_error(std::string(opt) + " needs REQUEST,REPLY (two names)");
    return {s.substr(0, comma), s.substr(comma + 1)};
}

template <class Open>
void open_waiting(Open open, double wait_s, const std::string& what) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_s);
    for (;;) {
        pipc::error_code ec;
        open(ec);
        if (!ec) return;
        if (ec != pipc::condition::existential || std::chrono::steady_clock::now() >= until)
            throw std::runtime_error("cannot open " + what + ": " + ec.message());
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

/// Arms the watchdog for one blocking phase: pipc calls with signal_policy::report return
/// condition::signal when it fires, which becomes "no answer within N s".
void check_answer(const pipc::error_code& ec, unsigned timeout_s, const char* what) {
    if (!ec) return;
    if (ec == pipc::condition::signal && g_alarm)
        throw std::runtime_error(std::string("the peer did not answer within ") +
                                 std::to_string(timeout_s) + " s (" + what + ")");
    throw std::runtime_error(std::string(what) + ": " + ec.message());
}

void peer_mq_cell(pipc::message_queue& req, pipc::message_queue& rep, cell_result& c,
                  unsigned timeout_s) {
    const std::size_t size = c.size;
    if (long(size) > req.max_message_size())
        throw std::runtime_error("size " + std::to_string(size) + " exceeds the request queue's " +
                                 std::to_string(req.max_message_size()) + " bytes");
    std::vector<std::byte> out(size, std::byte{0x5a}), in(std::size_t(rep.max_message_size()));
    pipc::error_code ec;
    // Stale replies from an earlier, interrupted client would break the sequence check.
    std::size_t stale = 0;
    while (rep.try_receive(in, ec)) ++stale;
    if (stale) std::fprintf(stderr, "pipc-bench: drained %zu stale replies\n", stale);
    auto exchange = [&](std::uint64_t seq) {
        seq_put(out.data(), seq);
        req.send(std::span<const std::byte>(out), 0, ec);
        check_answer(ec, timeout_s, "send request");
        const auto r = rep.receive(in, ec);
        check_answer(ec, timeout_s, "receive reply");
        if (r.size < 8) throw std::runtime_error("reply shorter than 8 bytes");
    };
    std::vector<std::int64_t> samples(c.round_trips);
    ::alarm(timeout_s);
    for (std::uint64_t i = 0; i < c.warmup; ++i) {
        exchange(i);
        seq_check("reply", i, seq_get(in.data()));
    }
    std::int64_t prev = now_ns();
    for (std::uint64_t i = 0; i < c.round_trips; ++i) {
        const std::uint64_t seq = c.warmup + i;
        exchange(seq);
        const std::int64_t t = now_ns();
        samples[i] = t - prev;
        prev = t;
        seq_check("reply", seq, seq_get(in.data()));
    }
    // Pipelined: keep `window` requests in flight; both queues can hold them all, so neither
    // side can block the other.
    if (c.throughput_msgs > 0) {
        const long window = std::min(req.max_messages(), rep.max_messages());
        c.depth = window;
        const std::uint64_t base = c.warmup + c.round_trips;
        const std::uint64_t tw = std::max<std::uint64_t>(1, c.throughput_msgs / 10);
        const std::uint64_t n = tw + c.throughput_msgs;
        std::uint64_t sent = 0;
        std::int64_t t0 = 0;
        for (; sent < std::min<std::uint64_t>(n, std::uint64_t(window)); ++sent) {
            seq_put(out.data(), base + sent);
            req.send(std::span<const std::byte>(out), 0, ec);
            check_answer(ec, timeout_s, "send request");
        }
        for (std::uint64_t got = 0; got < n; ++got) {
            const auto r = rep.receive(in, ec);
            check_answer(ec, timeout_s, "receive reply");
            if (r.size < 8) throw std::runtime_error("reply shorter than 8 bytes");
            seq_check("pipelined reply", base + got, seq_get(in.data()));
            if (got + 1 == tw) t0 = now_ns();
            if (sent < n) {
                seq_put(out.data(), base + sent++);
                req.send(std::span<const std::byte>(out), 0, ec);
                check_answer(ec, timeout_s, "send request");
            }
        }
        c.stats.msgs_per_s = double(c.throughput_msgs) * 1e9 / double(now_ns() - t0);
    }
    ::alarm(0);
    wire w;
    fill_stats(samples, w);
    copy_distribution(w, c.stats);
    c.ok = true;
}

void peer_sem_cell(pipc::semaphore& req, pipc::semaphore& rep, cell_result& c, long depth,
                   unsigned timeout_s) {
    pipc::error_code ec;
    std::size_t stale = 0;
    while (rep.try_acquire(ec)) ++stale;
    if (stale) std::fprintf(stderr, "pipc-bench: took %zu stale reply posts\n", stale);
    auto post = [&] {
        req.release(1, ec);
        check_answer(ec, timeout_s, "post request");
    };
    auto take = [&] {
        rep.acquire(ec);
        check_answer(ec, timeout_s, "wait reply");
    };
    std::vector<std::int64_t> samples(c.round_trips);
    ::alarm(timeout_s);
    for (std::uint64_t i = 0; i < c.warmup; ++i) post(), take();
    std::int64_t prev = now_ns();
    for (std::uint64_t i = 0; i < c.round_trips; ++i) {
        post();
        take();
        const std::int64_t t = now_ns();
        samples[i] = t - prev;
        prev = t;
    }
    if (c.throughput_msgs > 0) {
        c.depth = depth;
        const std::uint64_t tw = std::max<std::uint64_t>(1, c.throughput_msgs / 10);
        const std::uint64_t n = tw + c.throughput_msgs;
        std::uint64_t sent = 0;
        std::int64_t t0 = 0;
        for (; sent < std::min<std::uint64_t>(n, std::uint64_t(depth)); ++sent) post();
        for (std::uint64_t got = 0; got < n; ++got) {
            take();
            if (got + 1 == tw) t0 = now_ns();
            if (sent < n) post(), ++sent;
        }
        c.stats.msgs_per_s = double(c.throughput_msgs) * 1e9 / double(now_ns() - t0);
    }
    ::alarm(0);
    wire w;
    fill_stats(samples, w);
    copy_distribution(w, c.stats);
    c.ok = true;
}

} // namespace

std::vector<int> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (::sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &set)) cpus.push_back(c);
    return cpus;
}

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}
} // namespace detail

std::vector<std::string> variant_names() {
    std::vector<std::string> names;
    for (const auto& v : detail::registry())
        names.push_back(v.transport + "/" + v.impl + (v.payload ? "" : " (no payload)"));
    return names;
}

int run(const options& o_in, const std::string& command_line) {
    using namespace detail;
    options o = o_in;
    if (o.list) {
        for (const auto& n : variant_names()) std::printf("%s\n", n.c_str());
        return 0;
    }
    if (o.scenario == "sem-fanout") return run_sem_fanout(o, command_line);
    // Resolve defaults (explicit options win over --quick).
    if (o.sizes.empty())
        o.sizes =
            o.quick ? std::vector<std::size_t>{64, 8192} : std::vector<std::size_t>{64, 1024, 8192};
    if (o.pins.empty())
        o.pins = o.quick ? std::vector<std::string>{"same-cpu", "cross-cpu"}
                         : std::vector<std::string>{"same-cpu", "cross-cpu", "none"};
    if (o.round_trips < 0) o.round_trips = o.quick ? 5000 : 20000;
    if (o.warmup < 0) o.warmup = std::max<std::int64_t>(100, o.round_trips / 10);
    if (o.throughput_msgs < 0) o.throughput_msgs = o.quick ? 30000 : 100000;
    for (auto s : o.sizes)
        if (s < 8)
            throw std::runtime_error(
                "--sizes: every size must be at least 8 bytes (the sequence number)");
    std::sort(o.sizes.begin(), o.sizes.end());
    o.sizes.erase(std::unique(o.sizes.begin(), o.sizes.end()), o.sizes.end());

    // Queue depth: the kernel caps unprivileged queues at msg_max.
    if (auto lim = std::ifstream("/proc/sys/fs/mqueue/msg_max")) {
        long msg_max = 0;
        if (lim >> msg_max && msg_max > 0 && o.queue_depth > msg_max) {
            std::fprintf(stderr, "pipc-bench: --depth %ld capped to msg_max %ld\n", o.queue_depth,
                         msg_max);
            o.queue_depth = msg_max;
        }
    }

    run_result r;
    r.started_utc = utc_now();
    r.command_line = command_line;
    const auto t_start = std::chrono::steady_clock::now();

    if (!o.peer_mq.empty() || !o.peer_sem.empty()) {
        // ---- a real service ---------------------------------------------------------------
        struct sigaction sa {};
        sa.sa_handler = on_alarm;
        ::sigaction(SIGALRM, &sa, nullptr); // no SA_RESTART: a blocked call returns EINTR
        const unsigned timeout_s = o.cell_timeout_s > 0 ? unsigned(o.cell_timeout_s) : 10;
        const bool mq = !o.peer_mq.empty();
        if (mq && !o.peer_sem.empty())
            throw std::runtime_error("--peer-mq and --peer-sem are exclusive");
        // Named copies, not a structured binding: lambdas below capture them.
        const auto names = split_pair(mq ? o.peer_mq : o.peer_sem, mq ? "--peer-mq" : "--peer-sem");
        const std::string& req_name = names.first;
        const std::string& rep_name = names.second;
        pipc::message_queue req_q, rep_q;
        pipc::semaphore req_s, rep_s;
        if (mq) {
            pipc::message_queue::options qo;
            qo.access = pipc::access::write_only;
            qo.on_signal = pipc::signal_policy::report;
            open_waiting([&](pipc::error_code& ec) { req_q.open(req_name, qo, ec); }, o.peer_wait_s,
                         "request queue " + req_name);
            qo.access = pipc::access::read_only;
            open_waiting([&](pipc::error_code& ec) { rep_q.open(rep_name, qo, ec); }, o.peer_wait_s,
                         "reply queue " + rep_name);
        } else {
            pipc::semaphore::options so;
            so.on_signal = pipc::signal_policy::report;
            open_waiting([&](pipc::error_code& ec) { req_s.open(req_name, so, ec); }, o.peer_wait_s,
                         "request semaphore " + req_name);
            open_waiting([&](pipc::error_code& ec) { rep_s.open(rep_name, so, ec); }, o.peer_wait_s,
                         "reply semaphore " + rep_name);
        }
        r.instrument = measure_instrument(-1);
        const std::vector<std::size_t> sizes = mq ? o.sizes : std::vector<std::size_t>{0};
        for (auto size : sizes) {
            cell_result c;
            c.transport = mq ? "mq" : "sem";
            c.impl = "peer";
            c.pin = "none";
            c.size = size;
            c.round_trips = std::uint64_t(o.round_trips);
            c.warmup = std::uint64_t(o.warmup);
            c.throughput_msgs = std::uint64_t(o.throughput_msgs);
            try {
                if (mq)
                    peer_mq_cell(req_q, rep_q, c, timeout_s);
                else
                    peer_sem_cell(req_s, rep_s, c, o.queue_depth, timeout_s);
            } catch (const std::exception& e) {
                ::alarm(0);
                c.ok = false;
                c.error = e.what();
            }
            r.cells.push_back(std::move(c));
        }
    } else {
        // ---- the matrix -------------------------------------------------------------------
        const auto allowed = allowed_cpus();
        if (o.cpus.empty()) {
            if (allowed.empty()) throw std::runtime_error("sched_getaffinity failed");
            o.cpus = {allowed[0], allowed.size() > 1 ? allowed[1] : -1};
        }
        r.cpus = o.cpus;
        const int cpu_a = o.cpus[0], cpu_b = o.cpus[1];

        std::vector<const variant*> chosen;
        auto wanted = [](const std::vector<std::string>& list, const std::string& v) {
            return list.empty() || std::find(list.begin(), list.end(), v) != list.end();
        };
        for (const auto& t : o.transports)
            if (transport_rank(t) == 99)
                throw std::runtime_error("--transports: unknown transport '" + t + "'");
        for (const auto& i : o.impls)
            if (impl_rank(i) == 99)
                throw std::runtime_error("--impls: unknown implementation '" + i + "'");
        for (const auto& v : registry())
            if (wanted(o.transports, v.transport) && wanted(o.impls, v.impl)) chosen.push_back(&v);
        if (chosen.empty())
            throw std::runtime_error("no variant matches --transports/--impls (see --list)");

        struct planned {
            const variant* v;
            cell_spec spec;
        };
        std::vector<planned> plan;
        for (const auto& pin : o.pins) {
            if (pin == "cross-cpu" && cpu_b < 0) {
                std::fprintf(stderr, "pipc-bench: only one CPU allowed, skipping cross-cpu\n");
                continue;
            }
            for (auto size : o.sizes)
                for (const variant* v : chosen) {
                    if (!v->payload && size != o.sizes.front()) continue;
                    cell_spec s;
                    s.transport = v->transport;
                    s.impl = v->impl;
                    s.pin = pin;
                    s.size = v->payload ? size : 0;
                    s.round_trips = std::uint64_t(o.round_trips);
                    s.warmup = std::uint64_t(o.warmup);
                    s.tput_msgs = std::uint64_t(o.throughput_msgs);
                    s.tput_warmup = std::max<std::uint64_t>(1, s.tput_msgs / 10);
                    s.depth = o.queue_depth;
                    s.cpu_initiator = pin == "none" ? -1 : cpu_a;
                    s.cpu_peer = pin == "none" ? -1 : (pin == "same-cpu" ? cpu_a : cpu_b);
                    // Generous: 1 ms per round trip and 0.5 ms per streamed message, plus slack,
                    // plus the bytes at 100 MB/s (1 MiB messages through a pipe need it).
                    const std::uint64_t bytes =
                        (2 * (s.warmup + s.round_trips) + s.tput_msgs + s.tput_warmup) * s.size;
                    s.timeout_s =
                        o.cell_timeout_s > 0
                            ? unsigned(o.cell_timeout_s)
                            : unsigned(30 + (s.warmup + s.round_trips) / 1000 +
                                       (s.tput_msgs + s.tput_warmup) / 2000 + bytes / 100'000'000);
                    plan.push_back({v, std::move(s)});
                }
        }

        r.instrument = measure_instrument(cpu_a);
        const bool tty = ::isatty(2);
        std::size_t i = 0;
        for (auto& p : plan) {
            ++i;
            // Fresh names per cell, chosen here so the parent can always clean them up.
            for (int k = 0; k < 3; ++k) p.spec.names.push_back(pipc::generate_name());
            cell_result c;
            c.transport = p.spec.transport;
            c.impl = p.spec.impl;
            c.pin = p.spec.pin;
            c.size = p.spec.size;
            c.round_trips = p.spec.round_trips;
            c.warmup = p.spec.warmup;
            c.throughput_msgs = p.spec.tput_msgs;
            if (p.spec.cpu_initiator >= 0) c.cpus = {p.spec.cpu_initiator, p.spec.cpu_peer};
            if (o.progress) {
                const double el =
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start)
                        .count();
                std::fprintf(stderr, "%s[%3zu/%zu %5.1fs] %-9s %s/%s %zu B%s",
                             tty ? "\r\033[K" : "", i, plan.size(), el, c.pin.c_str(),
                             c.transport.c_str(), c.impl.c_str(), c.size, tty ? "" : "\n");
                std::fflush(stderr);
            }
            try {
                run_cell(*p.v, p.spec, c);
            } catch (const std::exception& e) {
                c.ok = false;
                c.error = e.what();
            }
            if (!c.ok && o.progress && tty) std::fprintf(stderr, "\n");
            if (!c.ok)
                std::fprintf(stderr, "pipc-bench: %s/%s %zu B %s failed: %s\n", c.transport.c_str(),
                             c.impl.c_str(), c.size, c.pin.c_str(), c.error.c_str());
            r.cells.push_back(std::move(c));
        }
        if (o.progress && tty) std::fprintf(stderr, "\r\033[K");
    }
    r.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();

    const std::string json = to_json(r, o);
    if (o.json)
        std::printf("%s\n", json.c_str());
    else
        print_table(r, o, stdout);
    if (!o.json_file.empty()) {
        std::ofstream f(o.json_file);
        f << json << "\n";
        if (!f) throw std::runtime_error("cannot write " + o.json_file);
    }
    if (!o.svg_file.empty()) write_svg(r, o.svg_file);
    if (!o.markdown_file.empty()) write_markdown(r, o, o.markdown_file);
    if (!o.compare_file.empty()) print_comparison(r, o.compare_file, o.json ? stderr : stdout);
    for (const auto& c : r.cells)
        if (!c.ok) return 1;
    return 0;
}

} // namespace pipc_bench
