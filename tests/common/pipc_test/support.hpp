// SPDX-License-Identifier: BSL-1.0
// tests/common/pipc_test/support.hpp - what every pipc test needs: unique names that are removed
// on entry and exit, forked children with watchdogs, hand-over through pipes, privilege drops.
#pragma once

#include <pipc/message_queue.hpp>
#include <pipc/name.hpp>
#include <pipc/robust_mutex.hpp>
#include <pipc/semaphore.hpp>
#include <pipc/shared_memory.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace pipc_test {

/// "/pipc-test-<pid>-<counter>-<tag>": unique per process and call, recognisable if ever leaked.
inline std::string unique_name(const char* tag = "t") {
    static std::atomic<unsigned> counter{0};
    return "/pipc-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + tag;
}

/// A unique robust-mutex name, unlinked on entry and exit.
class mutex_name {
public:
    explicit mutex_name(const char* tag = "rm") : name_(unique_name(tag)) {
        pipc::error_code ignored;
        pipc::unlink_robust_mutex(name_, ignored);
    }
    ~mutex_name() {
        pipc::error_code ignored;
        pipc::unlink_robust_mutex(name_, ignored);
    }
    mutex_name(const mutex_name&) = delete;
    mutex_name& operator=(const mutex_name&) = delete;
    operator std::string_view() const noexcept { return name_; } // NOLINT: used as a name
    const std::string& str() const noexcept { return name_; }
    /// Where glibc-style naming puts the mutex's object in /dev/shm.
    std::string path() const { return "/dev/shm/pipc-robust-mutex." + name_.substr(1); }

private:
    std::string name_;
};

inline void remove_quietly(pipc::object_kind kind, const std::string& name) {
    pipc::error_code ignored;
    switch (kind) {
    case pipc::object_kind::semaphore:
        pipc::unlink_semaphore(name, ignored);
        break;
    case pipc::object_kind::shared_memory:
        pipc::unlink_shared_memory(name, ignored);
        break;
    case pipc::object_kind::message_queue:
        pipc::unlink_message_queue(name, ignored);
        break;
    }
}

/// A unique name of one kind, unlinked when the guard is made and when it dies.
class named {
public:
    explicit named(pipc::object_kind kind, const char* tag = "t")
        : kind_(kind), name_(unique_name(tag)) {
        remove_quietly(kind_, name_);
    }
    ~named() { remove_quietly(kind_, name_); }
    named(const named&) = delete;
    named& operator=(const named&) = delete;
    const std::string& str() const noexcept { return name_; }
    operator std::string_view() const noexcept { return name_; } // NOLINT: used as a name
    const char* c_str() const noexcept { return name_.c_str(); }

private:
    pipc::object_kind kind_;
    std::string name_;
};

/// Does an object with this name exist? Checked through the file system, not through pipc.
inline bool exists(pipc::object_kind kind, const std::string& name) {
    if (kind == pipc::object_kind::message_queue) {
        const mqd_t q = ::mq_open(name.c_str(), O_RDONLY);
        if (q == -1) return false;
        ::mq_close(q);
        return true;
    }
    const std::string path =
        (kind == pipc::object_kind::semaphore ? "/dev/shm/sem." : "/dev/shm/") + name.substr(1);
    struct ::stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

/// A pipe for handing over "ready"/"done" between processes instead of sleeping.
class handshake {
public:
    handshake() {
        if (::pipe2(fds_, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    }
    ~handshake() {
        for (int fd : fds_)
            if (fd >= 0) ::close(fd);
    }
    handshake(const handshake&) = delete;
    handshake& operator=(const handshake&) = delete;
    void signal(char c = '!') const {
        while (::write(fds_[1], &c, 1) != 1)
            if (errno != EINTR) throw std::runtime_error("handshake write failed");
    }
    /// Waits for one byte; throws after `timeout` so no test can hang.
    char wait(std::chrono::milliseconds timeout = std::chrono::seconds(20)) const {
        ::pollfd p{fds_[0], POLLIN, 0};
        int rc = 0;
        do rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
        while (rc < 0 && errno == EINTR);
        if (rc != 1) throw std::runtime_error("handshake: timed out waiting for the other side");
        char c = 0;
        if (::read(fds_[0], &c, 1) != 1) throw std::runtime_error("handshake: peer closed");
        return c;
    }
    int read_fd() const noexcept { return fds_[0]; }

private:
    int fds_[2]{-1, -1};
};

/// Runs `body` in a forked child that is killed by SIGALRM after `watchdog` seconds. The child's
/// exit status is 0 when `body` returned true, 1 when false, 2 when it threw. Never returns in the
/// child (it calls _exit so that no test-framework or static destructors run twice).
class child_process {
public:
    explicit child_process(const std::function<bool()>& body, unsigned watchdog_seconds = 30) {
        std::fflush(nullptr);
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork failed");
        if (pid_ == 0) {
            ::signal(SIGALRM, SIG_DFL);
            ::alarm(watchdog_seconds);
            int status = 2;
            try {
                status = body() ? 0 : 1;
            } catch (const std::exception& e) {
                std::fprintf(stderr, "child threw: %s\n", e.what());
            } catch (...) {
            }
            ::_exit(status);
        }
    }
    ~child_process() {
        if (pid_ > 0 && !reaped_) {
            ::kill(pid_, SIGKILL);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
    }
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    pid_t pid() const noexcept { return pid_; }

    /// Waits (bounded by `timeout`) and returns true if the child exited with status 0.
    bool succeeded(std::chrono::seconds timeout = std::chrono::seconds(60)) {
        const auto until = std::chrono::steady_clock::now() + timeout;
        int status = 0;
        for (;;) {
            const pid_t r = ::waitpid(pid_, &status, WNOHANG);
            if (r == pid_) break;
            if (r < 0 && errno != EINTR) return false;
            if (std::chrono::steady_clock::now() > until) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
                reaped_ = true;
                return false;
            }
            // Polling waitpid: a child has no descriptor to wait on. This bounds the wait; it is
            // not synchronisation (that goes through handshake).
            ::usleep(1000);
        }
        reaped_ = true;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }

private:
    pid_t pid_ = -1;
    bool reaped_ = false;
};

/// Whether thread `tid` of this process sleeps in the kernel (state S) right now. A thread that
/// is gone (nothing to read) counts as `gone_counts`.
inline bool thread_asleep_now(const std::string& tid, bool gone_counts = false) {
    char buf[512] = {};
    std::size_t n = 0;
    if (std::FILE* f = std::fopen(("/proc/self/task/" + tid + "/stat").c_str(), "re")) {
        n = std::fread(buf, 1, sizeof buf - 1, f);
        std::fclose(f);
    }
    if (n == 0) return gone_counts;
    const char* paren = std::strrchr(buf, ')');
    return paren != nullptr && paren[1] == ' ' && paren[2] == 'S';
}

/// Waits (at most `limit`) until thread `tid` of this process sleeps in the kernel.
inline bool thread_asleep(pid_t tid, std::chrono::seconds limit = std::chrono::seconds(10)) {
    const std::string id = std::to_string(tid);
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        if (thread_asleep_now(id)) return true;
        std::this_thread::yield();
    }
    return false;
}

/// Waits (at most `limit`) until every other thread of this process sleeps in the kernel
/// (state S). Before a fork() that must not copy a lock held: pipc's helper threads never block
/// while holding one, so a sleeping helper holds none.
inline bool other_threads_asleep(std::chrono::seconds limit = std::chrono::seconds(10)) {
    const std::string self = std::to_string(::syscall(SYS_gettid));
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        bool all = true;
        if (DIR* d = ::opendir("/proc/self/task")) {
            while (const dirent* e = ::readdir(d)) {
                const std::string tid = e->d_name;
                if (tid[0] == '.' || tid == self) continue;
                // A thread gone meanwhile holds nothing either.
                if (!thread_asleep_now(tid, true)) all = false;
            }
            ::closedir(d);
        }
        if (all) return true;
        std::this_thread::yield();
    }
    return false;
}

/// In a forked child: become uid/gid 65534 (nobody), so mode bits are enforced (root bypasses
/// them).
inline bool drop_to_nobody() {
    return ::setgroups(0, nullptr) == 0 && ::setresgid(65534, 65534, 65534) == 0 &&
           ::setresuid(65534, 65534, 65534) == 0;
}

} // namespace pipc_test
