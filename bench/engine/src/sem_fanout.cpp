// SPDX-License-Identifier: BSL-1.0
// `--scenario sem-fanout`: how fast a post to one of N semaphores with waiters wakes its
// async_acquire, for N = 1 .. 1,024 in one io_context. Every N runs in a fresh forked runner
// process (the io_context, its helper threads, N semaphores, each with an acquire that re-arms
// on completion), which forks a poster process. The poster picks a semaphore at random, stores
// the time, posts it, waits for the handler's acknowledgement and pauses (`--gap-us`), so the
// posts never overlap; the handler computes post -> handler latency from the shared timestamp.
#include "sem_fanout.hpp"

#include "cell.hpp"
#include "report.hpp"

#include <pipc/asio/async_semaphore.hpp>
#include <pipc/name.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace pipc_bench::detail {
namespace {

namespace asio = boost::asio;

/// Shared between the runner and its poster (MAP_SHARED, created before the fork).
struct shared_block {
    ::sem_t ack;                         ///< Runner -> poster: start, then one per wake-up.
    std::atomic<std::int64_t> t0{0};     ///< When the poster posted (CLOCK_MONOTONIC ns).
    std::atomic<std::int32_t> index{-1}; ///< Which semaphore it posted.
};

/// What a runner sends back through its pipe (plain bytes).
struct fanout_result {
    int ok = 0;
    char error[160] = {};
    int waitv = 0;
    double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
    long samples = 0, helpers = 0, threads = 0, rss_kib = 0, vm_kib = 0;
};

struct fanout_cell {
    std::string pin;
    int n = 0;
    std::vector<int> cpus;
    fanout_result r;
};

long status_kib(const char* key) {
    std::ifstream f("/proc/self/status");
    std::string line;
    const std::size_t len = std::strlen(key);
    while (std::getline(f, line))
        if (line.compare(0, len, key) == 0) return std::strtol(line.c_str() + len, nullptr, 10);
    return -1;
}

bool wait_ack(::sem_t* s, int seconds) {
    ::timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += seconds;
    int rc = 0;
    while ((rc = ::sem_timedwait(s, &ts)) != 0 && errno == EINTR) {
    }
    return rc == 0;
}

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    const auto rank = static_cast<std::size_t>(std::ceil(p * double(sorted.size())));
    return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

/// The runner: everything for one N. Returns its result; never returns into the bench.
fanout_result runner(int n, int cpu_runner, int cpu_poster, long posts, long warmup, long gap_us) {
    fanout_result res;
    pin_to(cpu_runner);
    void* mem = ::mmap(nullptr, sizeof(shared_block), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) fail_errno("mmap");
    auto* blk = ::new (mem) shared_block();
    if (::sem_init(&blk->ack, 1, 0) != 0) fail_errno("sem_init");

    std::vector<pipc::semaphore> sems;
    sems.reserve(std::size_t(n));
    for (int i = 0; i < n; ++i) {
        pipc::semaphore::options so;
        so.open = pipc::open_mode::create_exclusive;
        so.initial_value = 0;
        sems.emplace_back(pipc::generate_name(), so);
        sems.back().unlink(); // the mapping lives on; nothing is left behind if we die
    }

    const long total = warmup + posts;
    const ::pid_t poster = ::fork();
    if (poster < 0) fail_errno("fork");
    if (poster == 0) {
        int rc = 0;
        try {
            pin_to(cpu_poster);
            std::mt19937 rng(42);
            if (!wait_ack(&blk->ack, 60)) ::_exit(3);
            for (long k = 0; k < total; ++k) {
                const auto i = static_cast<std::int32_t>(rng() % unsigned(n));
                blk->index.store(i);
                blk->t0.store(now_ns());
                sems[std::size_t(i)].release();
                if (!wait_ack(&blk->ack, 20)) ::_exit(4);
                const ::timespec gap{0, gap_us * 1000};
                ::nanosleep(&gap, nullptr);
            }
        } catch (...) {
            rc = 5;
        }
        ::_exit(rc);
    }

    {
        asio::io_context ctx(1);
        auto& service = asio::use_service<pipc::semaphore_waiter_service>(ctx);
        res.waitv = service.uses_futex_waitv() ? 1 : 0;
        std::vector<std::unique_ptr<pipc::async_semaphore>> objs;
        objs.reserve(sems.size());
        for (auto& s : sems)
            objs.push_back(std::make_unique<pipc::async_semaphore>(ctx, std::move(s)));
        std::vector<double> lat;
        lat.reserve(std::size_t(posts));
        long k = 0;
        bool wrong = false;
        std::function<void(int)> arm = [&](int i) {
            objs[std::size_t(i)]->async_acquire([&, i](pipc::error_code ec) {
                const std::int64_t t1 = now_ns();
                if (ec) {
                    wrong = true;
                    ctx.stop();
                    return;
                }
                if (i != blk->index.load()) wrong = true;
                if (k >= warmup) lat.push_back(double(t1 - blk->t0.load()) / 1000.0);
                if (++k == total) {
                    res.helpers = long(service.thread_count());
                    res.threads = status_kib("Threads:");
                    res.rss_kib = status_kib("VmRSS:");
                    res.vm_kib = status_kib("VmSize:");
                    ctx.stop();
                }
                ::sem_post(&blk->ack);
                if (!wrong && k < total) arm(i);
            });
        };
        for (int i = 0; i < n; ++i) arm(i);
        ctx.poll();
        ::sem_post(&blk->ack); // go
        ctx.run();
        int status = 0;
        ::waitpid(poster, &status, 0);
        if (wrong) {
            std::snprintf(res.error, sizeof res.error, "a wake-up for the wrong semaphore");
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            std::snprintf(res.error, sizeof res.error, "poster failed (status %d)", status);
        } else {
            std::sort(lat.begin(), lat.end());
            res.samples = long(lat.size());
            res.p50 = percentile(lat, 0.50);
            res.p90 = percentile(lat, 0.90);
            res.p99 = percentile(lat, 0.99);
            res.max = lat.empty() ? 0 : lat.back();
            double sum = 0;
            for (double v : lat) sum += v;
            res.mean = lat.empty() ? 0 : sum / double(lat.size());
            res.ok = 1;
        }
    }
    return res;
}

fanout_result run_in_child(int n, int cpu_runner, int cpu_poster, long posts, long warmup,
                           long gap_us, unsigned timeout_s) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) fail_errno("pipe2");
    const ::pid_t pid = ::fork();
    if (pid < 0) fail_errno("fork");
    if (pid == 0) {
        ::close(fds[0]);
        ::alarm(timeout_s); // the runner dies (and its result is missing) rather than hang
        fanout_result r;
        try {
            r = runner(n, cpu_runner, cpu_poster, posts, warmup, gap_us);
        } catch (const std::exception& e) {
            std::snprintf(r.error, sizeof r.error, "%s", e.what());
        }
        const auto* p = reinterpret_cast<const char*>(&r);
        std::size_t off = 0;
        while (off < sizeof r) {
            const ::ssize_t w = ::write(fds[1], p + off, sizeof r - off);
            if (w <= 0) break;
            off += std::size_t(w);
        }
        ::_exit(0);
    }
    ::close(fds[1]);
    fanout_result r;
    auto* p = reinterpret_cast<char*>(&r);
    std::size_t off = 0;
    while (off < sizeof r) {
        const ::ssize_t got = ::read(fds[0], p + off, sizeof r - off);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        off += std::size_t(got);
    }
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (off != sizeof r) {
        r = fanout_result{};
        std::snprintf(r.error, sizeof r.error, "runner died (status %d%s)", status,
                      WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? ", timed out" : "");
    }
    return r;
}

/// p50 and p99 of the largest N against N = 1 in the same run and pinning (the speed goal).
void ratios(const std::vector<fanout_cell>& cells, const std::string& pin, double& p50r,
            double& p99r) {
    const fanout_cell* lo = nullptr;
    const fanout_cell* hi = nullptr;
    for (const auto& c : cells) {
        if (c.pin != pin || !c.r.ok) continue;
        if (!lo || c.n < lo->n) lo = &c;
        if (!hi || c.n > hi->n) hi = &c;
    }
    p50r = p99r = 0;
    if (lo && hi && lo != hi && lo->r.p50 > 0 && lo->r.p99 > 0) {
        p50r = hi->r.p50 / lo->r.p50;
        p99r = hi->r.p99 / lo->r.p99;
    }
}

std::string table(const std::vector<fanout_cell>& cells, const std::vector<std::string>& pins,
                  long posts, long gap_us) {
    std::ostringstream os;
    char line[256];
    os << "sem-fanout: post -> async_acquire handler, one io_context, N semaphores with waiters\n"
       << "(" << posts << " posts per row, " << gap_us
       << " us apart, random semaphore, poster in another process)\n\n";
    std::snprintf(line, sizeof line, "%-9s %6s %-11s %9s %9s %9s %9s %8s %8s %9s  %s\n", "pin", "N",
                  "helpers", "p50 us", "p90 us", "p99 us", "max us", "helper", "threads", "RSS MiB",
                  "");
    os << line;
    for (const auto& c : cells) {
        if (!c.r.ok) {
            std::snprintf(line, sizeof line, "%-9s %6d FAILED: %s\n", c.pin.c_str(), c.n,
                          c.r.error);
            os << line;
            continue;
        }
        std::snprintf(line, sizeof line, "%-9s %6d %-11s %9.1f %9.1f %9.1f %9.1f %8ld %8ld %9.1f\n",
                      c.pin.c_str(), c.n, c.r.waitv ? "futex_waitv" : "fallback", c.r.p50, c.r.p90,
                      c.r.p99, c.r.max, c.r.helpers, c.r.threads, double(c.r.rss_kib) / 1024.0);
        os << line;
    }
    os << "\n";
    for (const auto& pin : pins) {
        double a = 0, b = 0;
        ratios(cells, pin, a, b);
        if (a > 0) {
            std::snprintf(line, sizeof line,
                          "%-9s largest N vs N=1: p50 %.2fx (goal <= 2x), p99 %.2fx (goal <= 5x)\n",
                          pin.c_str(), a, b);
            os << line;
        }
    }
    return os.str();
}

/// A JSON string literal (the command line may hold quotes and backslashes).
std::string quoted(const std::string& s) {
    return boost::json::serialize(boost::json::string(s));
}

std::string json(const std::vector<fanout_cell>& cells, const std::vector<std::string>& pins,
                 long posts, long warmup, long gap_us, const std::string& started,
                 const std::string& command_line) {
    std::ostringstream os;
    os << "{\"scenario\":\"sem-fanout\",\"started_utc\":" << quoted(started)
       << ",\"command_line\":" << quoted(command_line) << ",\"posts\":" << posts
       << ",\"warmup\":" << warmup << ",\"gap_us\":" << gap_us << ",\"cells\":[";
    bool first = true;
    for (const auto& c : cells) {
        os << (first ? "" : ",") << "{\"pin\":\"" << c.pin << "\",\"n\":" << c.n << ",\"cpus\":[";
        for (std::size_t i = 0; i < c.cpus.size(); ++i) os << (i ? "," : "") << c.cpus[i];
        os << "],\"ok\":" << (c.r.ok ? "true" : "false");
        if (c.r.ok)
            os << ",\"backend\":\"" << (c.r.waitv ? "futex_waitv" : "fallback")
               << "\",\"p50_us\":" << c.r.p50 << ",\"p90_us\":" << c.r.p90
               << ",\"p99_us\":" << c.r.p99 << ",\"max_us\":" << c.r.max
               << ",\"mean_us\":" << c.r.mean << ",\"samples\":" << c.r.samples
               << ",\"helper_threads\":" << c.r.helpers << ",\"process_threads\":" << c.r.threads
               << ",\"rss_kib\":" << c.r.rss_kib << ",\"vm_kib\":" << c.r.vm_kib;
        else
            os << ",\"error\":" << quoted(c.r.error);
        os << "}";
        first = false;
    }
    os << "],\"ratios\":{";
    first = true;
    for (const auto& pin : pins) {
        double a = 0, b = 0;
        ratios(cells, pin, a, b);
        os << (first ? "" : ",") << "\"" << pin << "\":{\"p50_largest_vs_1\":" << a
           << ",\"p99_largest_vs_1\":" << b << "}";
        first = false;
    }
    os << "}}";
    return os.str();
}

/// p50 and p99 wake-up latency against N, both axes logarithmic; one colour per pinning, p99
/// dashed. Under each N: the helper threads and the runner's RSS of the first pinning.
std::string svg(const std::vector<fanout_cell>& cells, const std::vector<std::string>& pins,
                long posts, long gap_us, const std::string& started) {
    const double W = 980, H = 460, L = 70, R = 250, T = 70, B = 78;
    const double pw = W - L - R, ph = H - T - B;
    double nmin = 1e300, nmax = 0, ymin = 1e300, ymax = 0;
    for (const auto& c : cells) {
        if (!c.r.ok) continue;
        nmin = std::min(nmin, double(c.n));
        nmax = std::max(nmax, double(c.n));
        ymin = std::min(ymin, c.r.p50);
        ymax = std::max(ymax, c.r.p99);
    }
    std::ostringstream s;
    svg_begin(s, W, H, "sem-fanout, async semaphore wake-up latency");
    s << "<text x=\"" << L << "\" y=\"" << T - 16 << "\" font-size=\"13\">" << svg_escape(started)
      << ": post in another process -&gt; async_acquire handler; " << posts << " posts per point, "
      << gap_us << " us apart, one io_context</text>\n";
    s << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << pw << "\" height=\"" << ph
      << "\" fill=\"none\" stroke=\"#444\"/>\n";
    if (nmax <= 0) { // every cell failed: an empty frame says so
        s << "<text x=\"" << L + pw / 2 << "\" y=\"" << T + ph / 2
          << "\" text-anchor=\"middle\">no successful cell</text>\n</svg>\n";
        return s.str();
    }
    const log_axis X(nmin, nmax, L, L + pw, false);
    const log_axis Y(ymin, ymax, T + ph, T);
    svg_log_grid_y(s, Y, L, L + pw);
    s << "<text transform=\"translate(" << L - 48 << "," << T + ph / 2
      << ") rotate(-90)\" text-anchor=\"middle\">wake-up latency (us, log scale)</text>\n";
    std::vector<int> ns;
    for (const auto& c : cells)
        if (c.r.ok && std::find(ns.begin(), ns.end(), c.n) == ns.end()) ns.push_back(c.n);
    for (int n : ns) {
        const double x = X(n);
        s << "<line x1=\"" << x << "\" x2=\"" << x << "\" y1=\"" << T << "\" y2=\"" << T + ph
          << "\" stroke=\"#ddd\"/>\n";
        s << "<text x=\"" << x << "\" y=\"" << T + ph + 16 << "\" text-anchor=\"middle\">" << n
          << "</text>\n";
        for (const auto& c : cells)
            if (c.r.ok && c.n == n && c.pin == pins.front()) {
                char extra[64];
                std::snprintf(extra, sizeof extra, "%ld thr, %.1f MiB", c.r.threads,
                              double(c.r.rss_kib) / 1024.0);
                s << "<text x=\"" << x << "\" y=\"" << T + ph + 31
                  << "\" text-anchor=\"middle\" font-size=\"10\" fill=\"#555\">" << extra
                  << "</text>\n";
                break;
            }
    }
    s << "<text x=\"" << L + pw / 2 << "\" y=\"" << T + ph + 52
      << "\" text-anchor=\"middle\">N: semaphores with a pending async_acquire (log scale); under"
      << " it the runner's threads and RSS (" << svg_escape(pins.front()) << ")</text>\n";
    double ly = T + 6;
    std::size_t colour = 0;
    for (const auto& pin : pins) {
        const char* col = svg_colour(colour++);
        for (const bool p99 : {false, true}) {
            std::ostringstream pts;
            int count = 0;
            double last = 0;
            for (const auto& c : cells) {
                if (!c.r.ok || c.pin != pin) continue;
                const double v = p99 ? c.r.p99 : c.r.p50;
                pts << X(c.n) << "," << Y(v) << " ";
                s << "<circle cx=\"" << X(c.n) << "\" cy=\"" << Y(v) << "\" r=\"3\" fill=\"" << col
                  << "\"/>\n";
                ++count;
                last = v;
            }
            if (count == 0) continue;
            const char* dash = p99 ? " stroke-dasharray=\"6,3\"" : "";
            s << "<polyline fill=\"none\" stroke=\"" << col << "\" stroke-width=\"1.8\"" << dash
              << " points=\"" << pts.str() << "\"/>\n";
            s << "<line x1=\"" << L + pw + 12 << "\" x2=\"" << L + pw + 36 << "\" y1=\"" << ly
              << "\" y2=\"" << ly << "\" stroke=\"" << col << "\" stroke-width=\"2.2\"" << dash
              << "/>\n";
            char label[96];
            std::snprintf(label, sizeof label,
                          last < 100 ? "%s %s (N=%d: %.1f us)" : "%s %s (N=%d: %.0f us)",
                          pin.c_str(), p99 ? "p99" : "p50",
                          ns.empty() ? 0 : *std::max_element(ns.begin(), ns.end()), last);
            s << "<text x=\"" << L + pw + 42 << "\" y=\"" << ly + 4 << "\">" << svg_escape(label)
              << "</text>\n";
            ly += 17;
        }
        double a = 0, b = 0;
        ratios(cells, pin, a, b);
        if (a > 0) {
            char line[96];
            std::snprintf(line, sizeof line, "largest N / N=1: p50 %.2fx, p99 %.2fx", a, b);
            s << "<text x=\"" << L + pw + 12 << "\" y=\"" << ly + 4 << "\" font-size=\"11\">"
              << line << "</text>\n";
            ly += 23;
        }
    }
    s << "</svg>\n";
    return s.str();
}

} // namespace

int run_sem_fanout(const options& o_in, const std::string& command_line) {
    options o = o_in;
    std::vector<int> ns = o.fanout.empty() ? std::vector<int>{1, 16, 64, 256, 1024} : o.fanout;
    for (int n : ns)
        if (n < 1 || n > 100000)
            throw std::runtime_error("--fanout: every N must be between 1 and 100000");
    std::vector<std::string> pins =
        o.pins.empty() ? std::vector<std::string>{"same-cpu", "cross-cpu"} : o.pins;
    const long posts = o.round_trips > 0 ? long(o.round_trips) : (o.quick ? 1000 : 2000);
    const long warmup = o.warmup >= 0 ? long(o.warmup) : std::max(100L, posts / 10);
    const long gap_us = o.gap_us;
    const auto cpus_allowed = allowed_cpus();
    std::vector<int> cpus = o.cpus;
    if (cpus.empty()) {
        if (cpus_allowed.empty()) throw std::runtime_error("sched_getaffinity failed");
        cpus = {cpus_allowed[0], cpus_allowed.size() > 1 ? cpus_allowed[1] : -1};
    }
    const std::string started = utc_now();
    std::vector<fanout_cell> cells;
    for (const auto& pin : pins) {
        if (pin == "cross-cpu" && cpus[1] < 0) continue;
        for (int n : ns) {
            fanout_cell c;
            c.pin = pin;
            c.n = n;
            const int a = pin == "none" ? -1 : cpus[0];
            const int b = pin == "none" ? -1 : (pin == "same-cpu" ? cpus[0] : cpus[1]);
            if (a >= 0) c.cpus = {a, b};
            if (o.progress) {
                std::fprintf(stderr, "sem-fanout %s N=%d\n", pin.c_str(), n);
                std::fflush(stderr);
            }
            const auto timeout = o.cell_timeout_s > 0
                                     ? unsigned(o.cell_timeout_s)
                                     : unsigned(60 + (posts + warmup) * (gap_us + 1000) / 1000000);
            c.r = run_in_child(n, a, b, posts, warmup, gap_us, timeout);
            if (!c.r.ok)
                std::fprintf(stderr, "pipc-bench: sem-fanout %s N=%d failed: %s\n", pin.c_str(), n,
                             c.r.error);
            cells.push_back(std::move(c));
        }
    }
    const std::string js = json(cells, pins, posts, warmup, gap_us, started, command_line);
    const std::string tb = table(cells, pins, posts, gap_us);
    if (o.json)
        std::printf("%s\n", js.c_str());
    else
        std::printf("%s", tb.c_str());
    if (!o.json_file.empty()) {
        std::ofstream f(o.json_file);
        f << js << "\n";
        if (!f) throw std::runtime_error("cannot write " + o.json_file);
    }
    if (!o.svg_file.empty()) write_text_file(o.svg_file, svg(cells, pins, posts, gap_us, started));
    if (!o.markdown_file.empty()) {
        std::ofstream f(o.markdown_file);
        f << "`" << command_line << "` (" << started << ")\n\n```\n" << tb << "```\n";
        if (!f) throw std::runtime_error("cannot write " + o.markdown_file);
    }
    for (const auto& c : cells)
        if (!c.r.ok) return 1;
    return 0;
}

} // namespace pipc_bench::detail
