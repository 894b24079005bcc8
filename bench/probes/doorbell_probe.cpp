// SPDX-License-Identifier: BSL-1.0
// bench/probes/doorbell_probe.cpp - how fast can a side that waits in an event loop be woken by
// its peer? The candidates for the channel's doorbell, each in a two-process ping-pong over a
// shared counter, with the waiter sleeping the way an Asio reactor does (epoll_wait), against a
// plain futex sleep (what Boost.Interprocess's message_queue does):
//
//   futex        FUTEX_WAIT on the counter / FUTEX_WAKE            (blocking; not pollable)
//   mq           epoll on a one-byte POSIX queue, drain mq_receive / mq_send (the channel's
//                bell up to protocol 4)
//   eventfd      epoll on an eventfd, drain read() / write()       (needs descriptor passing)
//   fifo         epoll on a FIFO made in /dev/shm and opened O_RDWR, drain read() / write() of a
//                byte (it has a name, as the queue has: the channel's bell since protocol 5)
//   *-late       the same, but the bell is drained just before the next sleep, off the wake-up's
//                path (after the reply was rung), as the channel does for a ring from another CPU
//   uring-futex  IORING_OP_FUTEX_WAIT on the counter, epoll on the ring's descriptor, reap the
//                completion / FUTEX_WAKE                           (Linux 6.7+; the waker is the
//                                                                   blocking side's own wake)
//
// Every hop rings (the peer always sleeps in a ping-pong), so the figures are the cost of a
// sleep and a wake-up through each object, nothing else. Raw system calls only; Linux only.
// Usage: pipc-doorbell-probe [round_trips [cpu_a cpu_b]]  (the same CPU twice: the one-CPU case;
// default: the first two CPUs the process may use)

#include <fcntl.h>
#include <liburing.h>
#include <linux/futex.h>
#include <mqueue.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr std::uint8_t op_futex_wait = 51; // IORING_OP_FUTEX_WAIT (Linux 6.7), not in liburing 2.3
constexpr std::uint32_t futex2_size_u32 = 0x02;

struct shared_page {
    alignas(64) std::atomic<std::uint32_t> word[2]; // word[i]: bumped by side i, waited on by 1-i
};

long futex(std::atomic<std::uint32_t>* w, int op, std::uint32_t val) {
    return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(w), op, val, nullptr, nullptr, 0);
}

void die(const char* what) {
    std::perror(what);
    std::exit(2);
}

void pin(int cpu) {
    ::cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (::sched_setaffinity(0, sizeof(set), &set) != 0) die("sched_setaffinity");
}

enum class bell_kind { futex, mq, eventfd, fifo, uring_futex };

// The doorbells of one variant: fd[i] wakes side i. The variant's name is parsed once here, so
// the measured loops compare an enum, not strings.
struct bells {
    bell_kind kind = bell_kind::futex;
    bool late = false;    // drain before the next sleep instead of after the wake-up
    int fd[2] = {-1, -1}; // mq or eventfd descriptors, by side woken
};

bells make_bells(const std::string& name) {
    bells b;
    b.late = name.size() > 5 && name.compare(name.size() - 5, 5, "-late") == 0;
    const std::string base = b.late ? name.substr(0, name.size() - 5) : name;
    b.kind = base == "mq"            ? bell_kind::mq
             : base == "eventfd"     ? bell_kind::eventfd
             : base == "fifo"        ? bell_kind::fifo
             : base == "uring-futex" ? bell_kind::uring_futex
                                     : bell_kind::futex;
    for (int i = 0; i < 2; ++i) {
        if (b.kind == bell_kind::mq) {
            char mq_name[64];
            std::snprintf(mq_name, sizeof mq_name, "/pipc-doorbell-probe-%d-%d", int(::getpid()),
                          i);
            ::mq_attr attr{};
            attr.mq_maxmsg = 1;
            attr.mq_msgsize = 1;
            b.fd[i] = ::mq_open(mq_name, O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK, 0600, &attr);
            if (b.fd[i] < 0) die("mq_open");
            ::mq_unlink(mq_name); // the descriptors are inherited; nothing left behind
        } else if (b.kind == bell_kind::eventfd) {
            b.fd[i] = ::eventfd(0, EFD_NONBLOCK);
            if (b.fd[i] < 0) die("eventfd");
        } else if (b.kind == bell_kind::fifo) {
            char path[64];
            std::snprintf(path, sizeof path, "/dev/shm/pipc-doorbell-probe-%d-%d", int(::getpid()),
                          i);
            if (::mkfifo(path, 0600) != 0) die("mkfifo");
            // O_RDWR: a FIFO opened for both ends never blocks in open() and never reports EOF.
            b.fd[i] = ::open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
            ::unlink(path);
            if (b.fd[i] < 0) die("open fifo");
        }
    }
    return b;
}

// The waiting side of one variant, set up in the process that waits (epoll and io_uring
// instances are per process).
struct waiter {
    const bells& b;
    int me;
    int ep = -1;
    io_uring ring{};
    const bool uring = b.kind == bell_kind::uring_futex;

    waiter(const bells& bb, int side) : b(bb), me(side) {
        if (b.kind == bell_kind::futex) return;
        ep = ::epoll_create1(0);
        if (ep < 0) die("epoll_create1");
        int fd = b.fd[me];
        if (uring) {
            if (::io_uring_queue_init(8, &ring, 0) != 0) die("io_uring_queue_init");
            fd = ring.ring_fd;
        }
        ::epoll_event ev{};
        ev.events = EPOLLIN | EPOLLET;
        if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
    }

    // Sleeps until word != seen.
    void wait(std::atomic<std::uint32_t>& word, std::uint32_t seen) {
        while (word.load(std::memory_order_acquire) == seen) {
            if (b.kind == bell_kind::futex) {
                futex(&word, FUTEX_WAIT, seen);
                continue;
            }
            if (uring) {
                io_uring_sqe* sqe = ::io_uring_get_sqe(&ring);
                if (sqe == nullptr) die("io_uring_get_sqe");
                std::memset(static_cast<void*>(sqe), 0, sizeof(io_uring_sqe));
                sqe->opcode = op_futex_wait;
                sqe->addr = reinterpret_cast<std::uintptr_t>(&word);
                sqe->addr2 = seen;
                sqe->addr3 = FUTEX_BITSET_MATCH_ANY;
                sqe->fd = futex2_size_u32; // shared between processes: not FUTEX2_PRIVATE
                if (::io_uring_submit(&ring) != 1) die("io_uring_submit");
            }
            if (b.late) drain();
            if (b.late && word.load(std::memory_order_acquire) != seen) break;
            ::epoll_event ev{};
            while (::epoll_wait(ep, &ev, 1, -1) < 0 && errno == EINTR) {
            }
            if (uring) {
                io_uring_cqe* cqe = nullptr;
                while (::io_uring_peek_cqe(&ring, &cqe) == 0) {
                    if (cqe->res < 0 && cqe->res != -EAGAIN && cqe->res != -EINTR) {
                        errno = -cqe->res;
                        die("IORING_OP_FUTEX_WAIT");
                    }
                    ::io_uring_cqe_seen(&ring, cqe);
                }
            } else if (!b.late) {
                drain();
            }
        }
    }

    void drain() {
        if (b.kind == bell_kind::mq) {
            char byte;
            ::mq_receive(b.fd[me], &byte, 1, nullptr);
        } else {
            std::uint64_t n;
            if (::read(b.fd[me], &n, sizeof n) < 0 && errno != EAGAIN) die("read bell");
        }
    }
};

void ring(const bells& b, std::atomic<std::uint32_t>& word, int peer) {
    if (b.kind == bell_kind::futex || b.kind == bell_kind::uring_futex) {
        futex(&word, FUTEX_WAKE, 1);
    } else if (b.kind == bell_kind::mq) {
        const char byte = 1;
        ::mq_send(b.fd[peer], &byte, 1, 0); // EAGAIN: already rung
    } else if (b.kind == bell_kind::fifo) {
        const char byte = 1;
        if (::write(b.fd[peer], &byte, 1) < 0 && errno != EAGAIN) die("write fifo");
    } else {
        const std::uint64_t one = 1;
        if (::write(b.fd[peer], &one, sizeof one) < 0) die("write eventfd");
    }
}

struct result {
    double p50, p90, p99;
};

result run(const std::string& kind, int round_trips, int cpu_a, int cpu_b) {
    auto* page = static_cast<shared_page*>(::mmap(
        nullptr, sizeof(shared_page), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    if (page == MAP_FAILED) die("mmap");
    new (page) shared_page{};
    const bells b = make_bells(kind);
    const int warmup = round_trips / 10;
    const int total = warmup + round_trips;
    // A side that dies (a failed set-up call) would leave the other waiting for good: bounded.
    ::alarm(static_cast<unsigned>(10 + total / 1000));
    const pid_t child = ::fork();
    if (child < 0) die("fork");
    if (child == 0) { // side 1: answers
        pin(cpu_b);
        waiter w(b, 1);
        for (int i = 0; i < total; ++i) {
            w.wait(page->word[0], std::uint32_t(i));
            page->word[1].store(std::uint32_t(i + 1), std::memory_order_release);
            ring(b, page->word[1], 0);
        }
        ::_exit(0);
    }
    pin(cpu_a);
    waiter w(b, 0);
    std::vector<double> us;
    us.reserve(round_trips);
    for (int i = 0; i < total; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        page->word[0].store(std::uint32_t(i + 1), std::memory_order_release);
        ring(b, page->word[0], 1);
        w.wait(page->word[1], std::uint32_t(i));
        const auto t1 = std::chrono::steady_clock::now();
        if (i >= warmup) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    ::alarm(0);
    for (int fd : b.fd)
        if (fd >= 0) ::close(fd);
    ::munmap(page, sizeof(shared_page));
    std::sort(us.begin(), us.end());
    auto at = [&](double q) { return us[std::size_t(q * double(us.size() - 1))]; };
    return {at(0.50), at(0.90), at(0.99)};
}

// True when this kernel knows IORING_OP_FUTEX_WAIT: a wait on a word that does not hold the
// expected value completes at once with -EAGAIN (an older kernel: -EINVAL).
bool uring_futex_supported() {
    io_uring ring{};
    if (::io_uring_queue_init(2, &ring, 0) != 0) return false;
    std::uint32_t word = 1;
    io_uring_sqe* sqe = ::io_uring_get_sqe(&ring);
    std::memset(static_cast<void*>(sqe), 0, sizeof(io_uring_sqe));
    sqe->opcode = op_futex_wait;
    sqe->addr = reinterpret_cast<std::uintptr_t>(&word);
    sqe->addr2 = 0;
    sqe->addr3 = FUTEX_BITSET_MATCH_ANY;
    sqe->fd = futex2_size_u32;
    io_uring_cqe* cqe = nullptr;
    bool ok = ::io_uring_submit_and_wait(&ring, 1) == 1 && ::io_uring_peek_cqe(&ring, &cqe) == 0 &&
              cqe->res == -EAGAIN;
    ::io_uring_queue_exit(&ring);
    return ok;
}

// A whole number >= `least` from the command line, or a message that names the argument.
int parse_arg(const char* text, const char* field, long least) {
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < least || v > 100'000'000) {
        std::fprintf(stderr, "pipc-doorbell-probe: %s must be a whole number >= %ld, got '%s'\n",
                     field, least, text);
        std::exit(2);
    }
    return static_cast<int>(v);
}

} // namespace

int main(int argc, char** argv) {
    const int n = argc > 1 ? parse_arg(argv[1], "round_trips", 10) : 20000;
    // Default: the first two CPUs this process may use (the same one twice if it has one).
    int a = -1;
    int b = -1;
    ::cpu_set_t allowed;
    if (::sched_getaffinity(0, sizeof(allowed), &allowed) != 0) die("sched_getaffinity");
    for (int c = 0; c < CPU_SETSIZE && b < 0; ++c)
        if (CPU_ISSET(c, &allowed)) (a < 0 ? a : b) = c;
    if (b < 0) b = a;
    if (argc > 3) {
        a = parse_arg(argv[2], "cpu_a", 0);
        b = parse_arg(argv[3], "cpu_b", 0);
        // Checked before any fork: a side that cannot pin would leave its peer waiting for good.
        for (const auto& [cpu, field] :
             {std::pair<int, const char*>{a, "cpu_a"}, std::pair<int, const char*>{b, "cpu_b"}}) {
            if (cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed)) {
                std::fprintf(stderr,
                             "pipc-doorbell-probe: %s %d is not a CPU this process may use\n",
                             field, cpu);
                return 2;
            }
        }
    } else if (argc == 3) {
        std::fprintf(stderr, "pipc-doorbell-probe: give both cpu_a and cpu_b, or neither\n");
        return 2;
    }
    std::printf("round trip in us, %d round trips, CPUs %d and %d\n", n, a, b);
    std::printf("%-12s %8s %8s %8s\n", "doorbell", "p50", "p90", "p99");
    for (const char* kind : {"futex", "mq", "mq-late", "eventfd", "eventfd-late", "fifo",
                             "fifo-late", "uring-futex"}) {
        if (std::string(kind) == "uring-futex" && !uring_futex_supported()) {
            std::printf("%-12s not supported by this kernel (Linux 6.7+)\n", kind);
            continue;
        }
        const result r = run(kind, n, a, b);
        std::printf("%-12s %8.2f %8.2f %8.2f\n", kind, r.p50, r.p90, r.p99);
        std::fflush(stdout);
    }
}
