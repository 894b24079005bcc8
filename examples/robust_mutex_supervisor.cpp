// SPDX-License-Identifier: BSL-1.0
// examples/robust_mutex_supervisor.cpp - workers increment a shared counter under a robust mutex;
// one of them is killed with SIGKILL in the middle of an update. The supervisor learns of the
// death through a process_watcher, whoever takes the lock next learns of it through owner_dead
// and repairs the counter from its undo record, and the final count is exact. The supervisor
// audits the record as soon as it sees the death, with an async_robust_mutex on its io_context,
// so its event loop never blocks on the lock while the surviving workers hold it.
#include <pipc/asio/async_robust_mutex.hpp>
#include <pipc/asio/process_watcher.hpp>
#include <pipc/robust_mutex.hpp>
#include <pipc/shared_memory.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <vector>

namespace {

/// The state the mutex protects. `dirty` and `undo` let a new owner roll back the update a dead
/// owner left half done.
struct record {
    std::uint64_t counter;
    std::uint64_t undo;
    std::uint64_t dirty;
    std::uint64_t repairs;
    std::int64_t repaired_by; // PID of the process that repaired it
};

constexpr int increments = 3000;
constexpr int victim_dies_after = 1000;

/// Rolls back the update a dead owner left half done; called by whoever got owner_dead.
void repair(volatile record& r) {
    if (r.dirty != 0) r.counter = r.undo;
    r.dirty = 0;
    r.repairs = r.repairs + 1;
    r.repaired_by = ::getpid();
}

/// Locks, repairing the record first if the previous owner died holding the lock.
void lock_and_repair(pipc::robust_mutex& m, volatile record& r) {
    if (m.lock() == pipc::lock_result::owner_dead) {
        repair(r);
        m.consistent();
    }
}

void increment(volatile record& r) {
    r.undo = r.counter;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    r.dirty = 1;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    r.counter = r.counter + 1;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    r.dirty = 0;
}

/// A worker process: `increments` increments, or, for the victim, `victim_dies_after` increments
/// and then half of one more, after which it tells the supervisor (through `report_fd`) and waits
/// to be killed with the lock held.
[[noreturn]] void worker(const std::string& mutex_name, const std::string& shm_name, bool victim,
                         int report_fd) {
    ::alarm(60); // never outlive a broken supervisor
    try {
        pipc::robust_mutex m(mutex_name);
        pipc::shared_memory shm(shm_name);
        auto map = shm.map();
        volatile record& r = map.as<record>();
        const int n = victim ? victim_dies_after : increments;
        for (int i = 0; i < n; ++i) {
            lock_and_repair(m, r);
            increment(r);
            m.unlock();
        }
        if (victim) {
            lock_and_repair(m, r);
            r.undo = r.counter;
            r.dirty = 1;
            r.counter = r.counter + 1000; // a wrong value nobody must ever see as final
            const char c = '!';
            (void)!::write(report_fd, &c, 1);
            for (;;) ::pause();
        }
    } catch (const std::exception& e) {
        std::cerr << "worker " << ::getpid() << ": " << e.what() << '\n';
        ::_exit(1);
    }
    ::_exit(0);
}

} // namespace

int main() {
    pipc::robust_mutex mutex(pipc::unique_name, {.open = pipc::open_mode::create_exclusive});
    pipc::shared_memory shm(pipc::unique_name,
                            {.open = pipc::open_mode::create_exclusive, .size = sizeof(record)});
    auto map = shm.map();
    volatile record& r = map.as<record>();

    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) return 1;
    std::vector<pid_t> workers;
    for (int w = 0; w < 3; ++w) {
        std::fflush(nullptr);
        const pid_t pid = ::fork();
        if (pid == 0) worker(mutex.name(), shm.name(), w == 0, pipe_fds[1]);
        workers.push_back(pid);
    }
    const pid_t victim = workers[0];

    boost::asio::io_context io;
    // The supervisor's own lock, taken without blocking its event loop.
    pipc::async_robust_mutex audit_lock(io, mutex.name());
    bool audited = false;
    std::vector<pipc::process_watcher> watchers;
    int exited = 0;
    bool victim_seen = false;
    auto maybe_stop = [&] {
        if (exited == static_cast<int>(workers.size()) && audited) io.stop();
    };
    for (const pid_t pid : workers) {
        watchers.emplace_back(io, pid);
        watchers.back().async_wait([&, pid](pipc::error_code ec) {
            if (ec) return;
            int status = 0;
            ::waitpid(pid, &status, 0);
            ++exited;
            if (pid == victim) {
                victim_seen = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
                std::cout << "supervisor: worker " << pid << " died (signal "
                          << (WIFSIGNALED(status) ? WTERMSIG(status) : 0)
                          << ") while holding the lock\n";
                // Audit the record now: the lock comes back as owner_dead unless a worker took
                // it (and repaired) first.
                audit_lock.async_lock([&](pipc::error_code lec, pipc::lock_result res) {
                    if (lec) return;
                    if (res == pipc::lock_result::owner_dead) {
                        repair(r);
                        audit_lock.consistent();
                    }
                    std::cout << "supervisor: audited the record ("
                              << (res == pipc::lock_result::owner_dead ? "repaired it"
                                                                       : "a worker repaired it")
                              << ")\n";
                    audit_lock.unlock();
                    audited = true;
                    maybe_stop();
                });
            } else {
                std::cout << "supervisor: worker " << pid << " finished, status "
                          << WEXITSTATUS(status) << '\n';
            }
            maybe_stop();
        });
    }
    boost::asio::steady_timer watchdog(io, std::chrono::seconds(60));
    watchdog.async_wait([&](pipc::error_code ec) {
        if (!ec) {
            std::cerr << "supervisor: timed out\n";
            io.stop();
        }
    });

    // The victim reports that it is in the middle of an update; kill it right there.
    char c = 0;
    if (::read(pipe_fds[0], &c, 1) != 1) return 1;
    ::kill(victim, SIGKILL);
    io.run();

    // Every worker is gone. If no worker took the lock after the death, the supervisor is the
    // one that finds the owner dead and repairs.
    lock_and_repair(mutex, r);
    const std::uint64_t expected = 2 * increments + victim_dies_after;
    const bool exact = r.counter == expected && r.dirty == 0;
    std::cout << "counter " << r.counter << " (expected " << expected << "), repairs " << r.repairs
              << " by " << (r.repaired_by == ::getpid() ? "the supervisor" : "a worker") << " ("
              << r.repaired_by << ")\n";
    const bool ok = exact && victim_seen && audited && exited == 3 && r.repairs == 1;
    mutex.unlock();
    mutex.unlink();
    shm.unlink();
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return ok ? 0 : 1;
}
