// SPDX-License-Identifier: BSL-1.0
// Transport "lock": a two-process hand-off ping-pong through robust process-shared mutexes.
//
// Mutexes alone cannot make two processes alternate with two locks, so the protocol uses three,
// m0..m2, like a baton passed around a ring. Initially the initiator holds m0 and m1, the peer m2.
// Step i (both sides, k = i mod 3):
//   initiator: unlock m[k];   lock m[k+2]     (waits until the peer released it)
//   peer:      lock m[k];     unlock m[k+2]   (waits until the initiator released m[k])
// After step i the initiator holds m[k+1], m[k+2] and the peer m[k]: the roles have rotated by
// one. Every lock that completes was released by the *other* process a moment before (a lock is
// never free when it is requested), so one timed step is two hand-offs across processes: the
// initiator's release waking the peer, and the peer's release waking the initiator. The three
// implementations run exactly this protocol; only the lock calls differ:
//   raw            pthread_mutex_lock/unlock on robust, process-shared, error-checking mutexes in
//                  one shm segment (the attributes pipc::robust_mutex uses: the floor)
//   pipc-blocking  pipc::robust_mutex::lock/unlock
//   pipc-async     pipc::async_robust_mutex: co_await async_lock, unlock(), one io_context per
//                  process (each mutex's holder thread takes and releases the lock)
// There is no throughput phase (a lock carries no stream).
#include "cell.hpp"

#include <pipc/robust_mutex.hpp>

#if __has_include(<pipc/asio/async_robust_mutex.hpp>)
#define PIPC_BENCH_ASYNC_LOCK 1
#include <pipc/asio/async_robust_mutex.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#endif

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace pipc_bench::detail {

namespace {

constexpr int ring = 3;

/// The initiator's "go": the peer must not start until the initiator holds m0 and m1.
class go_pipe {
public:
    go_pipe() {
        if (::pipe2(fds_, O_CLOEXEC) != 0) fail_errno("pipe2");
    }
    ~go_pipe() {
        for (int fd : fds_)
            if (fd >= 0) ::close(fd);
    }
    go_pipe(const go_pipe&) = delete;
    go_pipe& operator=(const go_pipe&) = delete;
    void go() const {
        const char c = 'g';
        while (::write(fds_[1], &c, 1) != 1)
            if (errno != EINTR) fail_errno("go pipe write");
    }
    void wait() const {
        char c = 0;
        ssize_t r = 0;
        while ((r = ::read(fds_[0], &c, 1)) < 0 && errno == EINTR) {
        }
        if (r != 1) fail("the initiator did not start the lock ring");
    }

private:
    int fds_[2]{-1, -1};
};

/// Times each initiator step as initiator_blocking does (one clock read per sample).
template <class Step>
void timed_steps(const cell_spec& s, measurement& m, pair_sync& ps, Step&& step) {
    for (std::uint64_t i = 0; i < s.warmup; ++i) step(i);
    std::int64_t* sample = m.samples_ns.data();
    const std::int64_t cs0 = process_switches();
    std::int64_t prev = now_ns();
    for (std::uint64_t i = 0; i < s.round_trips; ++i) {
        step(s.warmup + i);
        const std::int64_t t = now_ns();
        sample[i] = t - prev;
        prev = t;
    }
    m.switches_per_rt = double(process_switches() - cs0) / double(s.round_trips);
    m.peer_switches_per_rt = double(ps.collect()) / double(s.round_trips);
}

/// Blocking endpoints: E has lock(int) and unlock(int) on the three mutexes.
template <class E>
void blocking_lock_cell(const cell_spec& s, measurement& m) {
    E::create(s);
    go_pipe gp;
    const std::uint64_t total = s.warmup + s.round_trips;
    run_pair(
        s,
        [&](pair_sync& ps) {
            E e(s);
            e.lock(2);
            ps.ready();
            gp.wait();
            std::int64_t cs0 = 0;
            for (std::uint64_t i = 0; i < total; ++i) {
                if (i == s.warmup) cs0 = process_switches();
                e.lock(int(i % ring));
                e.unlock(int((i + 2) % ring));
            }
            ps.report(process_switches() - cs0);
        },
        [&](pair_sync& ps) {
            E e(s);
            ps.wait_ready();
            E::unlink(s);
            e.lock(0);
            e.lock(1);
            gp.go();
            timed_steps(s, m, ps, [&](std::uint64_t i) {
                e.unlock(int(i % ring));
                e.lock(int((i + 2) % ring));
            });
        });
    E::unlink(s);
}

// ---- raw: bare pthread calls on three mutexes in one shm segment ----------------------------

struct lock_raw {
    static void create(const cell_spec& s) {
        const int fd = ::shm_open(s.names[0].c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd < 0) fail_errno("shm_open(O_CREAT) " + s.names[0]);
        if (::ftruncate(fd, sizeof(::pthread_mutex_t) * ring) != 0) fail_errno("ftruncate");
        void* p = ::mmap(nullptr, sizeof(::pthread_mutex_t) * ring, PROT_READ | PROT_WRITE,
                         MAP_SHARED, fd, 0);
        ::close(fd);
        if (p == MAP_FAILED) fail_errno("mmap");
        auto* mx = static_cast<::pthread_mutex_t*>(p);
        ::pthread_mutexattr_t a;
        ::pthread_mutexattr_init(&a);
        ::pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
        ::pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
        ::pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
        for (int i = 0; i < ring; ++i)
            if (::pthread_mutex_init(&mx[i], &a) != 0) fail("pthread_mutex_init");
        ::pthread_mutexattr_destroy(&a);
        ::munmap(p, sizeof(::pthread_mutex_t) * ring);
    }
    static void unlink(const cell_spec&) {} // the engine unlinks names[0] as shm
    explicit lock_raw(const cell_spec& s) {
        const int fd = ::shm_open(s.names[0].c_str(), O_RDWR, 0);
        if (fd < 0) fail_errno("shm_open " + s.names[0]);
        void* p = ::mmap(nullptr, sizeof(::pthread_mutex_t) * ring, PROT_READ | PROT_WRITE,
                         MAP_SHARED, fd, 0);
        ::close(fd);
        if (p == MAP_FAILED) fail_errno("mmap");
        mx_ = static_cast<::pthread_mutex_t*>(p);
    }
    ~lock_raw() { ::munmap(mx_, sizeof(::pthread_mutex_t) * ring); }
    lock_raw(const lock_raw&) = delete;
    lock_raw& operator=(const lock_raw&) = delete;
    void lock(int i) {
        const int rc = ::pthread_mutex_lock(&mx_[i]);
        if (rc != 0) fail(std::string("pthread_mutex_lock: ") + std::strerror(rc));
    }
    void unlock(int i) {
        const int rc = ::pthread_mutex_unlock(&mx_[i]);
        if (rc != 0) fail(std::string("pthread_mutex_unlock: ") + std::strerror(rc));
    }

private:
    ::pthread_mutex_t* mx_ = nullptr;
};

// ---- pipc-blocking: pipc::robust_mutex ------------------------------------------------------

void create_pipc_mutexes(const cell_spec& s) {
    pipc::robust_mutex::options o;
    o.open = pipc::open_mode::create_exclusive;
    for (int i = 0; i < ring; ++i) pipc::robust_mutex created(s.names[i], o);
}
void unlink_pipc_mutexes(const cell_spec& s) {
    pipc::error_code ignored;
    for (int i = 0; i < ring; ++i) pipc::unlink_robust_mutex(s.names[i], ignored);
}

struct lock_pipc {
    static void create(const cell_spec& s) { create_pipc_mutexes(s); }
    static void unlink(const cell_spec& s) { unlink_pipc_mutexes(s); }
    explicit lock_pipc(const cell_spec& s) {
        for (int i = 0; i < ring; ++i) mx_[i].open(s.names[i], {});
    }
    void lock(int i) {
        if (mx_[i].lock() != pipc::lock_result::acquired) fail("robust_mutex::lock: owner dead");
    }
    void unlock(int i) { mx_[i].unlock(); }

private:
    pipc::robust_mutex mx_[ring];
};

// ---- pipc-async: pipc::async_robust_mutex ---------------------------------------------------

#ifdef PIPC_BENCH_ASYNC_LOCK
namespace asio = boost::asio;

template <class Body>
void run_io(Body&& body) {
    asio::io_context ctx(1);
    std::exception_ptr err;
    asio::co_spawn(ctx, body(ctx), [&](std::exception_ptr e) { err = std::move(e); });
    ctx.run();
    if (err) std::rethrow_exception(err);
}

struct lock_async {
    lock_async(asio::io_context& ctx, const cell_spec& s)
        : mx_{pipc::async_robust_mutex(ctx, s.names[0]), pipc::async_robust_mutex(ctx, s.names[1]),
              pipc::async_robust_mutex(ctx, s.names[2])} {}
    asio::awaitable<void> lock(int i) {
        // Not inside the if: GCC 12 compiled a co_await in this condition into a trap (SIGILL).
        const pipc::lock_result r = co_await mx_[i].async_lock(asio::use_awaitable);
        if (r != pipc::lock_result::acquired) fail("async_robust_mutex::async_lock: owner dead");
    }
    void unlock(int i) { mx_[i].unlock(); }

private:
    pipc::async_robust_mutex mx_[ring];
};

void async_lock_cell(const cell_spec& s, measurement& m) {
    create_pipc_mutexes(s);
    go_pipe gp;
    const std::uint64_t total = s.warmup + s.round_trips;
    run_pair(
        s,
        [&](pair_sync& ps) {
            run_io([&](asio::io_context& ctx) -> asio::awaitable<void> {
                lock_async e(ctx, s);
                co_await e.lock(2);
                ps.ready();
                gp.wait();
                std::int64_t cs0 = 0;
                for (std::uint64_t i = 0; i < total; ++i) {
                    if (i == s.warmup) cs0 = process_switches();
                    co_await e.lock(int(i % ring));
                    e.unlock(int((i + 2) % ring));
                }
                ps.report(process_switches() - cs0);
            });
        },
        [&](pair_sync& ps) {
            run_io([&](asio::io_context& ctx) -> asio::awaitable<void> {
                lock_async e(ctx, s);
                ps.wait_ready();
                unlink_pipc_mutexes(s);
                co_await e.lock(0);
                co_await e.lock(1);
                gp.go();
                for (std::uint64_t i = 0; i < s.warmup; ++i) {
                    e.unlock(int(i % ring));
                    co_await e.lock(int((i + 2) % ring));
                }
                std::int64_t* sample = m.samples_ns.data();
                const std::int64_t cs0 = process_switches();
                std::int64_t prev = now_ns();
                for (std::uint64_t i = 0; i < s.round_trips; ++i) {
                    const std::uint64_t k = s.warmup + i;
                    e.unlock(int(k % ring));
                    co_await e.lock(int((k + 2) % ring));
                    const std::int64_t t = now_ns();
                    sample[i] = t - prev;
                    prev = t;
                }
                m.switches_per_rt = double(process_switches() - cs0) / double(s.round_trips);
                m.peer_switches_per_rt = double(ps.collect()) / double(s.round_trips);
            });
        });
    unlink_pipc_mutexes(s);
}
#endif

} // namespace

void register_lock_variants(std::vector<variant>& out) {
    out.push_back({"lock", "raw", false, blocking_lock_cell<lock_raw>});
    out.push_back({"lock", "pipc-blocking", false, blocking_lock_cell<lock_pipc>});
#ifdef PIPC_BENCH_ASYNC_LOCK
    out.push_back({"lock", "pipc-async", false, async_lock_cell});
#endif
}

} // namespace pipc_bench::detail
