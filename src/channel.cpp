// SPDX-License-Identifier: BSL-1.0
#include <pipc/channel.hpp>
#include <pipc/detail/channel_async.hpp>
#include <pipc/name.hpp>

#include "common.hpp"
#include "log_internal.hpp"
#include "sys.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <utility>

namespace pipc {

using detail::describe;
using detail::errno_code;
using detail::sys;

namespace {
constexpr std::uint64_t channel_magic = 0x314e'4843'4350'4950ULL; // "PIPCCHN1" little-endian
constexpr std::size_t cache_line = 64;
constexpr std::uint32_t default_slot_count = 64;
constexpr std::uint32_t default_message_size = 8192;
/// Size value of a slot that carries no message (a cancelled loan or a skipped dead claim).
constexpr std::uint32_t tombstone = 0xffff'ffffU;
/// How long a consumer sleeps at most while a claimed slot is being written, before it checks
/// whether the writer is still alive.
constexpr auto writer_check_interval = std::chrono::milliseconds(10);
/// Consumer flag bits in header::data_sleepers: the consumer sleeps on the futex, or waits
/// for its doorbell (an asynchronous consumer polling the data bell).
constexpr std::uint32_t futex_sleeper = 1;
constexpr std::uint32_t bell_sleeper = 2;
/// A bell's bit in channel::announced_bells_.
constexpr std::uint8_t bell_bit(detail::channel_bell b) noexcept {
    return static_cast<std::uint8_t>(1U << static_cast<unsigned>(b));
}
/// A channel's doorbells are FIFOs next to its shared-memory object, which glibc's shm_open keeps
/// as /dev/shm/<name>: whoever can see the channel sees its bells, with the channel's mode bits.
std::string bell_fifo_path(std::string_view channel_name, detail::channel_bell b) {
    std::string path = "/dev/shm";
    path += channel_name;
    path += b == detail::channel_bell::data ? ".bell-data" : ".bell-room";
    return path;
}
/// Every side opens a bell for reading and writing: open() never blocks on a FIFO opened so, a
/// ring never meets a FIFO without readers (EPIPE, SIGPIPE), and a symbolic link is refused.
constexpr int bell_open_flags = O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW;
/// Opens an existing bell; -1 with `ec` if there is none, or a file of another kind is there
/// (errc::not_a_channel, a symbolic link included).
int open_bell_fifo(const char* path, error_code& ec) noexcept {
    const int fd = sys().open(path, bell_open_flags, 0);
    if (fd < 0) {
        ec = errno == ELOOP ? make_error_code(errc::not_a_channel) : errno_code();
        return -1;
    }
    struct ::stat st {};
    if (sys().fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
        ec = make_error_code(errc::not_a_channel);
        sys().close(fd);
        return -1;
    }
    ec = {};
    return fd;
}
/// How often a blocking side that found nothing to do gives its CPU to a runnable peer
/// (sched_yield) before it sleeps. On one CPU the peer then runs on, filling or draining the
/// ring, instead of being preempted by every wake-up: a stream moves in batches of slots, not one
/// message per pair of context switches. Where nobody else is runnable a yield returns at once.
constexpr int yields_before_sleep = 2;
/// How long an untimed send sleeps waiting for half the ring to be free before it settles for
/// the first free slot. A consumer that stops receiving with fewer than half the slots free (busy
/// elsewhere, or waiting for something the producer does after this send) must not leave the
/// producer asleep next to a free slot for good; a draining consumer reaches the watermark in
/// microseconds, long before this.
constexpr auto watermark_patience = std::chrono::milliseconds(50);

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::int32_t>::is_always_lock_free);

int futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
               const ::timespec* relative) noexcept {
    // Not FUTEX_PRIVATE_FLAG: the word lives in memory shared between processes.
    return static_cast<int>(::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT,
                                      expected, relative, nullptr, 0));
}
void futex_wake(std::atomic<std::uint32_t>* word, int count) noexcept {
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE, count, nullptr,
              nullptr, 0);
}

/// Is `pid` gone? A zombie counts as gone: it will never write again.
bool process_dead(std::int32_t pid) noexcept {
    if (pid <= 0) return false;
    if (::kill(pid, 0) != 0) return errno == ESRCH;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
    std::FILE* f = std::fopen(path, "re");
    if (f == nullptr) return false; // no /proc: trust kill()
    char buf[512] = {};
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    const char* paren = std::strrchr(buf, ')'); // the command name may contain spaces
    if (n == 0 || paren == nullptr || paren[1] == '\0') return false;
    return paren[2] == 'Z' || paren[2] == 'X';
}

std::uint64_t round_up(std::uint64_t v, std::uint64_t to) noexcept {
    return (v + to - 1) / to * to;
}

/// Sleeps for at most what is left of `dl`, capped by `cap` (0: uncapped). nullptr: no limit.
struct relative_timeout {
    ::timespec ts{};
    const ::timespec* ptr = nullptr;
    bool expired = false;
    relative_timeout(const detail::deadline& dl, std::chrono::nanoseconds cap) {
        using namespace std::chrono;
        nanoseconds left = cap;
        if (!dl.infinite) {
            const auto rest = duration_cast<nanoseconds>(dl.when - steady_clock::now());
            if (rest <= nanoseconds::zero()) {
                expired = true;
                return;
            }
            if (left == nanoseconds::zero() || rest < left) left = rest;
        }
        if (left == nanoseconds::zero()) return;
        ts = detail::to_timespec(left);
        ptr = &ts;
    }
};
} // namespace

// The shared layout. Only fixed-size types and lock-free atomics: the object is mapped by
// processes that know nothing of each other beyond this definition and protocol_version.
struct channel::header {
    // Immutable after creation (the object is linked under its name only when complete).
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t mode;
    std::uint32_t slot_count;
    std::uint32_t max_message_size;
    std::uint64_t slot_stride;
    std::uint64_t total_size;
    // Each side's hot line holds what it writes on every message and what it must read on
    // every message: the other side writes the second kind only when it goes to sleep, so a
    // stream (or a spinning round trip) moves no header line between the CPUs, only slots
    // (protocol 6; before, each side's sleep flags sat on the other side's index line, and
    // every release read the line the producer had just written).
    // Producers' line: the next position to claim, and the consumer's sleep state.
    alignas(cache_line) std::atomic<std::uint64_t> tail;
    std::atomic<std::uint32_t> data_futex;
    std::atomic<std::uint32_t> data_sleepers; ///< futex_sleeper / bell_sleeper: the consumer waits.
    /// The CPU the data bell was last rung from (sched_getcpu), written just before the ring.
    /// A hint only (any value is safe, a peer that never writes it leaves 0): an asynchronous
    /// consumer woken by a ring from another CPU empties the bell later, before its next sleep
    /// (docs/channel.md, "Where the cross-CPU round trip's time goes").
    std::atomic<std::int32_t> data_ring_cpu;
    // Consumer's line: the oldest unreleased position, the producers' sleep state, bookkeeping.
    alignas(cache_line) std::atomic<std::uint64_t> head;
    std::atomic<std::uint32_t> room_futex;
    std::atomic<std::uint32_t> room_sleepers; ///< Count of producers in futex_wait.
    /// Count of handles with asynchronous sends waiting for the room bell.
    std::atomic<std::uint32_t> room_bells;
    /// 1 while a producer sleeping for room waits to be woken; the consumer takes it (exchange
    /// to 0) when it wakes them, so it wakes once per sleep, not once per released slot.
    std::atomic<std::uint32_t> room_armed;
    /// Count of sleeping producers that want the first free slot (timed waits); the others are
    /// woken only once half the ring is free.
    std::atomic<std::uint32_t> room_eager;
    /// 1 while an asynchronous send waits for the room bell and nobody rang it since; the
    /// consumer takes it (exchange to 0) when it rings, so it rings once per sleep, not once per
    /// released slot. The waiting side sets it again before it re-checks.
    std::atomic<std::uint32_t> room_bell_armed;
    std::atomic<std::int32_t> consumer_pid;
    std::atomic<std::uint64_t> abandoned;
};

// Vyukov's bounded-queue protocol: a slot for position p is free when seq == p and published
// when seq == p + 1; releasing it makes seq == p + slot_count (free for the next lap).
struct channel::slot {
    std::atomic<std::uint64_t> seq;
    std::uint32_t size;               ///< Written before seq is published; tombstone: skip.
    std::atomic<std::int32_t> writer; ///< pid of the claiming producer, 0 once released.
};

namespace {
/// Three cache lines: immutable fields, producers' line, consumer's line.
constexpr std::size_t header_size = 3 * cache_line;

/// The deadlines of the calls without a timeout: wait as long as it takes, or try once.
constexpr detail::deadline forever{{}, true};
constexpr detail::deadline once{{}, false};

/// channel_loan::publish's throw, out of line (see publish_impl).
[[noreturn, gnu::noinline, gnu::cold]] void throw_publish_error(errc e) {
    throw_error(make_error_code(e), "channel_loan::publish");
}

/// A deadline that was already over when the call began: a single try, no spinning.
bool single_try(const detail::deadline& dl) noexcept {
    return !dl.infinite && (dl.when == std::chrono::steady_clock::time_point{} ||
                            dl.when <= std::chrono::steady_clock::now());
}
} // namespace

channel::slot* channel::slot_at(std::uint64_t pos) const noexcept {
    static_assert(sizeof(header) == header_size);
    static_assert(offsetof(header, room_armed) == 2 * cache_line + 20);
    static_assert(sizeof(slot) == 16); // the payload starts 16-byte aligned
    auto* first = static_cast<std::byte*>(base_) + header_size;
    return reinterpret_cast<slot*>(first + (pos & (slot_count_ - 1)) * stride_);
}
std::byte* channel::payload(slot* s) const noexcept {
    return reinterpret_cast<std::byte*>(s) + sizeof(slot);
}

// --- opening -------------------------------------------------------------------------------

namespace {
error_code check_channel_options(const channel::options& o) {
    if (auto ec = detail::check_open_mode(o.open)) return ec;
    if (auto ec = detail::check_permissions(o.permissions)) return ec;
    if (o.slot_count != 0 && (o.slot_count < 2 || o.slot_count > channel::max_slot_count ||
                              (o.slot_count & (o.slot_count - 1)) != 0))
        return make_error_code(errc::invalid_slot_count);
    if (o.max_message_size > channel::max_message_size_limit)
        return make_error_code(errc::invalid_max_message_size);
    if (o.mode && *o.mode != channel_mode::spsc && *o.mode != channel_mode::mpsc)
        return make_error_code(errc::invalid_channel_mode);
    return {};
}

struct geometry {
    std::uint32_t slots;
    std::uint32_t max_size;
    channel_mode mode;
    std::uint64_t stride;
    std::uint64_t total;
};

geometry geometry_for(const channel::options& o) {
    geometry g{};
    g.slots = o.slot_count != 0 ? o.slot_count : default_slot_count;
    g.max_size = o.max_message_size != 0 ? o.max_message_size : default_message_size;
    g.mode = o.mode.value_or(channel_mode::spsc);
    g.stride = round_up(16 + std::uint64_t{g.max_size}, cache_line);
    g.total = header_size + g.stride * g.slots;
    return g;
}

/// Builds a complete channel in an unnamed tmpfs file and links it under `name`: openers never
/// see a half-made channel, and a creator killed midway leaves nothing named behind.
/// @returns the descriptor, or -1 with `ec` (file_exists when the name is taken).
int create_linked(const std::string& name, const channel::options& o, const geometry& g,
                  error_code& ec) {
    int fd = ::open("/dev/shm", O_TMPFILE | O_RDWR | O_CLOEXEC, o.permissions);
    if (fd < 0) {
        ec = errno_code();
        return -1;
    }
    auto fail = [&](error_code e) {
        sys().close(fd);
        ec = e;
        return -1;
    };
    if (sys().fchmod(fd, o.permissions) != 0) return fail(errno_code());
    if (const int rc = sys().posix_fallocate(fd, 0, static_cast<::off_t>(g.total)); rc != 0)
        return fail(rc == ENOSPC ? make_error_code(errc::no_space) : errno_code(rc));
    void* base = sys().mmap(nullptr, g.total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) return fail(errno_code());
    auto* bytes = static_cast<unsigned char*>(base);
    // The file is zero-filled: every atomic starts at 0; only the immutable fields and the slot
    // sequences (slot i starts free for position i) need writing. Nobody else can see the file.
    struct immutable {
        std::uint64_t magic;
        std::uint32_t version, mode, slot_count, max_message_size;
        std::uint64_t slot_stride, total_size;
    };
    const immutable im{channel_magic,
                       channel::protocol_version,
                       static_cast<std::uint32_t>(g.mode),
                       g.slots,
                       g.max_size,
                       g.stride,
                       g.total};
    std::memcpy(bytes, &im, sizeof im);
    for (std::uint64_t i = 0; i < g.slots; ++i) {
        const std::uint64_t seq = i;
        std::memcpy(bytes + header_size + i * g.stride, &seq, sizeof seq);
    }
    sys().munmap(base, g.total);
    char proc_path[64];
    std::snprintf(proc_path, sizeof proc_path, "/proc/self/fd/%d", fd);
    const std::string path = "/dev/shm/" + name.substr(1);
    if (::linkat(AT_FDCWD, proc_path, AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) != 0)
        return fail(errno_code());
    return fd;
}
} // namespace

channel::channel(std::string_view name, const options& opts) {
    open(name, opts);
}

channel::channel(channel&& o) noexcept
    : base_(std::exchange(o.base_, nullptr)), length_(std::exchange(o.length_, 0)),
      name_(std::move(o.name_)), permissions_(o.permissions_), created_(o.created_),
      consumer_(std::exchange(o.consumer_, false)), took_over_(o.took_over_),
      view_out_(std::exchange(o.view_out_, false)), streak_(o.streak_), slot_count_(o.slot_count_),
      max_message_size_(o.max_message_size_), stride_(o.stride_), mode_(o.mode_), pid_(o.pid_),
      wait_(o.wait_), on_signal_(o.on_signal_),
      announced_bells_(std::exchange(o.announced_bells_, std::uint8_t{0})) {
    for (int i = 0; i < 2; ++i)
        bells_[i].store(o.bells_[i].exchange(-1, std::memory_order_relaxed),
                        std::memory_order_relaxed);
}

channel& channel::operator=(channel&& o) noexcept {
    if (this != &o) {
        close();
        base_ = std::exchange(o.base_, nullptr);
        length_ = std::exchange(o.length_, 0);
        name_ = std::move(o.name_);
        permissions_ = o.permissions_;
        created_ = o.created_;
        consumer_ = std::exchange(o.consumer_, false);
        took_over_ = o.took_over_;
        view_out_ = std::exchange(o.view_out_, false);
        streak_ = o.streak_;
        slot_count_ = o.slot_count_;
        max_message_size_ = o.max_message_size_;
        stride_ = o.stride_;
        mode_ = o.mode_;
        pid_ = o.pid_;
        wait_ = o.wait_;
        on_signal_ = o.on_signal_;
        announced_bells_ = std::exchange(o.announced_bells_, std::uint8_t{0});
        for (int i = 0; i < 2; ++i)
            bells_[i].store(o.bells_[i].exchange(-1, std::memory_order_relaxed),
                            std::memory_order_relaxed);
    }
    return *this;
}

channel::~channel() {
    close();
}

void channel::open(std::string_view name, const options& opts, error_code& ec) {
    ec = validate_name(object_kind::shared_memory, name);
    if (!ec) ec = check_channel_options(opts);
    if (ec) return;
    const std::string owned(name);
    const geometry want = geometry_for(opts);
    int fd = -1;
    const bool created = detail::open_by_mode(
        opts.open,
        [&](bool create) -> error_code {
            error_code e;
            if (create) {
                fd = create_linked(owned, opts, want, e);
            } else {
                fd = sys().shm_open(owned.c_str(), O_RDWR, 0);
                if (fd < 0) e = errno_code();
            }
            return e;
        },
        ec);
    if (ec) return;
    auto fail = [&](error_code e) {
        sys().close(fd);
        ec = e;
    };
    struct ::stat st {};
    if (sys().fstat(fd, &st) != 0) return fail(errno_code());
    if (static_cast<std::uint64_t>(st.st_size) < header_size)
        return fail(make_error_code(errc::not_a_channel));
    void* hbase = sys().mmap(nullptr, header_size, PROT_READ, MAP_SHARED, fd, 0);
    if (hbase == MAP_FAILED) return fail(errno_code());
    const auto* h = static_cast<const header*>(hbase);
    geometry got{h->slot_count, h->max_message_size, static_cast<channel_mode>(h->mode),
                 h->slot_stride, h->total_size};
    // A damaged or truncated header is as much "not a channel" as a foreign object.
    const bool bad_layout = got.slots < 2 || (got.slots & (got.slots - 1)) != 0 ||
                            got.stride != round_up(16 + std::uint64_t{got.max_size}, cache_line) ||
                            got.total != header_size + got.stride * got.slots ||
                            got.total != static_cast<std::uint64_t>(st.st_size);
    error_code check;
    if (h->magic == channel_magic && h->version != protocol_version) {
        check = make_error_code(errc::channel_version_mismatch);
    } else if (h->magic != channel_magic || bad_layout) {
        check = make_error_code(errc::not_a_channel);
    } else if (opts.slot_count != 0 && opts.slot_count != got.slots) {
        check = make_error_code(errc::slot_count_mismatch);
    } else if (opts.max_message_size != 0 && opts.max_message_size != got.max_size) {
        check = make_error_code(errc::message_size_mismatch);
    } else if (opts.mode && *opts.mode != got.mode) {
        check = make_error_code(errc::channel_mode_mismatch);
    }
    sys().munmap(hbase, header_size);
    if (check) return fail(check);
    void* base = sys().mmap(nullptr, got.total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) return fail(errno_code());
    sys().close(fd); // the mapping keeps the object alive
    close();
    base_ = base;
    length_ = got.total;
    name_ = owned;
    permissions_ = created ? opts.permissions : static_cast<::mode_t>(st.st_mode & 07777);
    created_ = created;
    slot_count_ = got.slots;
    max_message_size_ = got.max_size;
    stride_ = got.stride;
    mode_ = got.mode;
    pid_ = static_cast<std::int32_t>(::getpid());
    wait_ = opts.wait;
    on_signal_ = opts.on_signal;
    // Doorbells an asynchronous side already made: open them now, while the name is there.
    for (auto b : {detail::channel_bell::data, detail::channel_bell::room}) {
        error_code ignored; // no bell yet: the first ring opens it
        const int bell_fd = open_bell_fifo(bell_path(b).c_str(), ignored);
        if (bell_fd >= 0) bells_[static_cast<int>(b)].store(bell_fd);
    }
    detail::log_debug("channel {} \"{}\"", created ? "created" : "opened", name_);
}

void channel::open(std::string_view name, const options& opts) {
    error_code ec;
    open(name, opts, ec);
    if (ec) throw_error(ec, describe("channel::open", name));
}

void channel::close() noexcept {
    if (base_ == nullptr) return;
    // Closed under a waiting basic_async_channel (through its core()): nobody will withdraw
    // these waits once the header is unmapped, and the asynchronous side must wake up to see
    // the handle closed.
    for (const auto b : {detail::channel_bell::data, detail::channel_bell::room}) {
        if ((announced_bells_ & bell_bit(b)) == 0) continue;
        detail::channel_async_access::withdraw(*this, b);
        ring(b);
    }
    if (consumer_) {
        std::int32_t me = pid_;
        hdr()->consumer_pid.compare_exchange_strong(me, 0);
        consumer_ = false;
    }
    sys().munmap(std::exchange(base_, nullptr), std::exchange(length_, 0));
    view_out_ = false;
    close_bells();
}

void channel::close_bells() noexcept {
    for (auto& b : bells_) {
        const int fd = b.exchange(-1);
        if (fd >= 0) sys().close(fd);
    }
}

std::string channel::bell_path(detail::channel_bell b) const {
    return bell_fifo_path(name_, b);
}

void channel::ring(detail::channel_bell b) noexcept {
    std::atomic<int>& cached = bells_[static_cast<int>(b)];
    int fd = cached.load(std::memory_order_acquire);
    if (fd < 0) {
        // The waiting side creates its bell before it announces itself, so the name is there
        // unless the channel was unlinked since (see docs/channel.md).
        std::string bell;
        try {
            bell = bell_path(b);
        } catch (...) {
            return;
        }
        error_code ignored; // no bell (unlinked since): nobody can be waiting on one
        fd = open_bell_fifo(bell.c_str(), ignored);
        if (fd < 0) return;
        int expected = -1;
        if (!cached.compare_exchange_strong(expected, fd)) {
            sys().close(fd);
            fd = expected;
        }
    }
    // A pending byte is a rung bell; a full pipe (EAGAIN) is rung already. The descriptor is
    // open for reading too, so the write can never meet a FIFO without readers (EPIPE, SIGPIPE).
    const char ding = 1;
    sys().write(fd, &ding, 1);
}

void channel::unlink(std::string_view name, error_code& ec) {
    ec = detail::unlink_name(object_kind::shared_memory, name, sys().shm_unlink);
    if (validate_name(object_kind::shared_memory, name)) return;
    // The doorbells go with the channel; most channels never had any. Only FIFOs: a file of
    // another kind under a bell's name is not this channel's.
    for (const auto b : {detail::channel_bell::data, detail::channel_bell::room}) {
        const std::string bell = bell_fifo_path(name, b);
        struct ::stat st {};
        if (sys().fstatat(AT_FDCWD, bell.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISFIFO(st.st_mode))
            sys().unlink(bell.c_str());
    }
}

void channel::unlink(std::string_view name) {
    error_code ec;
    unlink(name, ec);
    if (ec) throw_error(ec, describe("channel::unlink", name));
}

void channel::unlink(error_code& ec) {
    if (name_.empty()) {
        ec = make_error_code(errc::closed);
        return;
    }
    unlink(std::string_view(name_), ec);
}

void channel::unlink() {
    error_code ec;
    unlink(ec);
    if (ec) throw_error(ec, describe("channel::unlink", name_));
}

void unlink_channel(std::string_view name) {
    channel::unlink(name);
}
void unlink_channel(std::string_view name, error_code& ec) {
    channel::unlink(name, ec);
}

error_code channel::check_open() const noexcept {
    return base_ == nullptr ? make_error_code(errc::closed) : error_code{};
}

std::uint64_t channel::fill() const noexcept {
    if (base_ == nullptr) return 0;
    const std::uint64_t head = hdr()->head.load(std::memory_order_acquire);
    const std::uint64_t tail = hdr()->tail.load(std::memory_order_acquire);
    return tail > head ? tail - head : 0;
}

std::uint64_t channel::abandoned() const noexcept {
    return base_ == nullptr ? 0 : hdr()->abandoned.load(std::memory_order_relaxed);
}

// --- producer side ---------------------------------------------------------------------------

std::optional<std::uint64_t> channel::try_claim() noexcept {
    // Small enough to inline into every send and loan; mpsc's loop is called out of line.
    if (mode_ != channel_mode::spsc) return try_claim_mpsc();
    header& h = *hdr();
    const std::uint64_t pos = h.tail.load(std::memory_order_relaxed);
    slot* s = slot_at(pos);
    if (s->seq.load(std::memory_order_acquire) != pos) return std::nullopt; // full
    // The writer is recorded before the claim becomes visible, so a consumer that sees the
    // claim also sees whom to check for liveness.
    s->writer.store(pid_, std::memory_order_relaxed);
    h.tail.store(pos + 1, std::memory_order_release);
    return pos;
}

std::optional<std::uint64_t> channel::try_claim_mpsc() noexcept {
    header& h = *hdr();
    for (unsigned round = 0;; ++round) {
        std::uint64_t pos = h.tail.load(std::memory_order_acquire);
        slot* s = slot_at(pos);
        const std::uint64_t seq = s->seq.load(std::memory_order_acquire);
        const auto diff = static_cast<std::int64_t>(seq - pos);
        if (diff < 0) return std::nullopt; // full: the slot still holds the previous lap
        if (diff > 0) continue;            // another producer claimed pos meanwhile
        // The writer word is the claim ticket: only its holder may advance tail from pos.
        std::int32_t expected = 0;
        if (!s->writer.compare_exchange_strong(expected, pid_)) {
            // Another producer is between these two steps, or died there; take over a dead one.
            if ((round & 63) == 63 && process_dead(expected))
                s->writer.compare_exchange_strong(expected, 0);
            detail::cpu_relax();
            continue;
        }
        if (h.tail.compare_exchange_strong(pos, pos + 1)) return pos;
        s->writer.store(0, std::memory_order_release);
    }
}

void channel::publish_slot(std::uint64_t pos, std::uint32_t size) noexcept {
    slot* s = slot_at(pos);
    s->size = size;
    s->seq.store(pos + 1, std::memory_order_release);
    // Dekker with the consumer's announce-then-recheck: one of the two sees the other.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (hdr()->data_sleepers.load(std::memory_order_relaxed) != 0) wake_consumer();
}

void channel::wake_consumer() noexcept {
    header& h = *hdr();
    const std::uint32_t flags = h.data_sleepers.load(std::memory_order_relaxed);
    // Taking the flag wakes the sleeping consumer once: the messages published before it runs
    // again find no flag and make no system call (it sets the flag again before it sleeps).
    if ((flags & futex_sleeper) != 0 &&
        (h.data_sleepers.fetch_and(~futex_sleeper, std::memory_order_acq_rel) & futex_sleeper) !=
            0) {
        h.data_futex.fetch_add(1, std::memory_order_release);
        futex_wake(&h.data_futex, 1);
    }
    // The doorbell is rung while the flag is set (the consumer clears it when it wakes), not
    // once per sleep: across CPUs the extra byte lets the consumer's next wait return at once
    // instead of sleeping, and taking the flag here measured 2.5x fewer messages per second
    // in a one-way cross-CPU stream (docs/channel.md, "Doorbells").
    if ((flags & bell_sleeper) != 0) {
        // vDSO, no system call; written only when it changes (the consumer's cache line).
        const int cpu = ::sched_getcpu();
        if (h.data_ring_cpu.load(std::memory_order_relaxed) != cpu)
            h.data_ring_cpu.store(cpu, std::memory_order_relaxed);
        ring(detail::channel_bell::data);
    }
}

std::optional<std::uint64_t> channel::claim_until(const detail::deadline& dl, error_code& ec) {
    // The first try, inlined into send and loan: the waits below come only after it failed.
    if (auto pos = try_claim()) return pos;
    return claim_after_miss(dl, ec);
}

std::optional<std::uint64_t> channel::claim_after_miss(const detail::deadline& dl, error_code& ec) {
    if (single_try(dl)) return std::nullopt;
    std::optional<std::uint64_t> got;
    if (wait_.spin_until([&] { return (got = try_claim()).has_value(); })) return got;
    for (int i = 0; i < yields_before_sleep; ++i) {
        ::sched_yield();
        if (auto pos = try_claim()) return pos;
    }
    header& h = *hdr();
    // A timed wait wants the first free slot, or it could time out with room in the ring; an
    // untimed one is woken once half the ring is free, so that a stream refills the ring in
    // batches instead of one wake-up per released slot, or after watermark_patience.
    bool eager = !dl.infinite;
    for (;;) {
        // seq_cst with leave's disarm below: a producer arriving as the last one leaves either
        // is counted before that one looks, or arms the flag after it was cleared.
        h.room_sleepers.fetch_add(1, std::memory_order_seq_cst);
        if (eager) h.room_eager.fetch_add(1, std::memory_order_relaxed);
        h.room_armed.store(1, std::memory_order_seq_cst);
        // Dekker with release_front: either the re-check below sees the released slot, or the
        // consumer sees the flag.
        std::atomic_thread_fence(std::memory_order_seq_cst);
        const std::uint32_t word = h.room_futex.load(std::memory_order_acquire);
        auto leave = [&] {
            if (eager) h.room_eager.fetch_sub(1, std::memory_order_relaxed);
            // The last one out takes the flag down if no waker did (it found a slot itself, or
            // timed out): a flag left up sends the consumer's next release into the kernel.
            if (h.room_sleepers.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
                h.room_armed.load(std::memory_order_relaxed) != 0) {
                h.room_armed.store(0, std::memory_order_seq_cst);
                if (h.room_sleepers.load(std::memory_order_seq_cst) != 0)
                    h.room_armed.store(1, std::memory_order_seq_cst);
            }
        };
        if (auto pos = try_claim()) {
            leave();
            return pos;
        }
        const relative_timeout t(dl, eager ? std::chrono::nanoseconds::zero()
                                           : std::chrono::nanoseconds(watermark_patience));
        if (t.expired) {
            leave();
            return std::nullopt;
        }
        const int rc = futex_wait(&h.room_futex, word, t.ptr);
        const int err = errno;
        leave();
        if (rc != 0 && err == EINTR && on_signal_ == signal_policy::report) {
            ec = errno_code(EINTR);
            return std::nullopt;
        }
        if (auto pos = try_claim()) return pos;
        if (rc != 0 && err == ETIMEDOUT)
            eager = true; // patience spent: the first free slot will do
    }
}

// send_impl, loan_impl, publish_impl, receive_impl and view_impl are each operation's one body,
// forced inline into its throwing and error_code forms and its out-of-line *_until_deadline
// (which the header's timed templates call): the stream's send or receive is then one call.
// The throwing forms look at their local `ec` only when the call did nothing: after the ring's
// atomics GCC would otherwise reload it from memory and test it on every message.
[[gnu::always_inline]] bool channel::send_impl(std::span<const std::byte> msg,
                                               const detail::deadline& dl, error_code& ec) {
    ec = check_open();
    if (ec) return false;
    if (msg.size() > max_message_size_) {
        ec = make_error_code(errc::message_too_long);
        return false;
    }
    const auto pos = claim_until(dl, ec);
    if (!pos) return false;
    if (!msg.empty()) std::memcpy(payload(slot_at(*pos)), msg.data(), msg.size());
    publish_slot(*pos, static_cast<std::uint32_t>(msg.size()));
    return true;
}
bool channel::send_until_deadline(std::span<const std::byte> msg, const detail::deadline& dl,
                                  error_code& ec) {
    return send_impl(msg, dl, ec);
}

void channel::send(std::span<const std::byte> msg, error_code& ec) {
    send_impl(msg, forever, ec);
}
void channel::send(std::span<const std::byte> msg) {
    error_code ec;
    if (!send_impl(msg, forever, ec) && ec) throw_error(ec, describe("channel::send", name_));
}
void channel::send(std::string_view msg, error_code& ec) {
    send(std::as_bytes(std::span(msg.data(), msg.size())), ec);
}
void channel::send(std::string_view msg) {
    send(std::as_bytes(std::span(msg.data(), msg.size())));
}
bool channel::try_send(std::span<const std::byte> msg, error_code& ec) {
    return send_until_deadline(msg, once, ec);
}
bool channel::try_send(std::span<const std::byte> msg) {
    error_code ec;
    const bool sent = try_send(msg, ec);
    if (ec) throw_error(ec, describe("channel::try_send", name_));
    return sent;
}

[[gnu::always_inline]] channel_loan channel::loan_impl(const detail::deadline& dl, error_code& ec) {
    ec = check_open();
    if (ec) return {};
    const auto pos = claim_until(dl, ec);
    if (!pos) return {};
    return {this, *pos, payload(slot_at(*pos)), max_message_size_};
}
channel_loan channel::loan_until_deadline(const detail::deadline& dl, error_code& ec) {
    return loan_impl(dl, ec);
}
channel_loan channel::loan(error_code& ec) {
    return loan_impl(forever, ec);
}
channel_loan channel::loan() {
    error_code ec;
    auto l = loan_impl(forever, ec);
    if (!l.valid() && ec) throw_error(ec, describe("channel::loan", name_));
    return l;
}
channel_loan channel::try_loan(error_code& ec) {
    return loan_until_deadline(once, ec);
}
channel_loan channel::try_loan() {
    error_code ec;
    auto l = try_loan(ec);
    if (ec) throw_error(ec, describe("channel::try_loan", name_));
    return l;
}

channel_loan::channel_loan(channel_loan&& o) noexcept
    : owner_(std::exchange(o.owner_, nullptr)), pos_(o.pos_), data_(o.data_),
      capacity_(o.capacity_) {}
channel_loan& channel_loan::operator=(channel_loan&& o) noexcept {
    if (this != &o) {
        if (owner_ != nullptr && owner_->is_open()) owner_->publish_slot(pos_, tombstone);
        owner_ = std::exchange(o.owner_, nullptr);
        pos_ = o.pos_;
        data_ = o.data_;
        capacity_ = o.capacity_;
    }
    return *this;
}
channel_loan::~channel_loan() {
    // The slot is claimed and messages behind it wait for it: publish it as cancelled.
    // A closed handle has nothing left to publish into (its claim is left to the consumer).
    if (owner_ != nullptr && owner_->is_open()) owner_->publish_slot(pos_, tombstone);
}
// Every error is known before the slot is published, so it comes back as a value (errc{}: none)
// and the throwing form's error paths meet in one out-of-line call: GCC then sets up a frame on
// them only (built inline, the error_code and message kept a frame on the fast path too).
[[gnu::always_inline]] errc channel_loan::publish_impl(std::size_t n) noexcept {
    if (owner_ == nullptr || !owner_->is_open()) return errc::closed;
    if (n > capacity_) return errc::message_too_long;
    std::exchange(owner_, nullptr)->publish_slot(pos_, static_cast<std::uint32_t>(n));
    return {};
}
void channel_loan::publish(std::size_t n, error_code& ec) {
    const errc e = publish_impl(n);
    ec = e == errc{} ? error_code{} : make_error_code(e);
}
void channel_loan::publish(std::size_t n) {
    if (const errc e = publish_impl(n); e != errc{}) throw_publish_error(e);
}

// --- consumer side ---------------------------------------------------------------------------

error_code channel::claim_consumer() noexcept {
    if (consumer_) return {};
    header& h = *hdr();
    std::int32_t current = h.consumer_pid.load(std::memory_order_acquire);
    for (;;) {
        if (current == pid_) break; // another handle of this process: its caller's business
        if (current != 0 && !process_dead(current)) return make_error_code(errc::consumer_busy);
        if (h.consumer_pid.compare_exchange_strong(current, pid_)) {
            if (current != 0) {
                // The previous consumer died: its sleep flags are stale, and whatever it had
                // received without releasing is still at head and will be delivered again.
                took_over_ = true;
                h.data_sleepers.store(0, std::memory_order_relaxed);
                detail::log_debug("channel \"{}\": consumer {} died, taking over", name_, current);
            }
            break;
        }
    }
    consumer_ = true;
    return {};
}

// try_front, release_front, front_until and copy_out are forced inline: GCC keeps them out of
// line otherwise (several callers each), a call and a frame per received message.
[[gnu::always_inline]] channel::slot* channel::try_front(bool check_writers) noexcept {
    // The common case inline: the message at head is published and is not a cancelled loan.
    // Everything else is scan_front's (which reads the same slot again).
    const std::uint64_t pos = hdr()->head.load(std::memory_order_relaxed);
    slot* s = slot_at(pos);
    if (s->seq.load(std::memory_order_acquire) == pos + 1 && s->size != tombstone) return s;
    return scan_front(check_writers);
}

channel::slot* channel::scan_front(bool check_writers) noexcept {
    header& h = *hdr();
    for (;;) {
        const std::uint64_t pos = h.head.load(std::memory_order_relaxed);
        slot* s = slot_at(pos);
        const std::uint64_t seq = s->seq.load(std::memory_order_acquire);
        if (seq == pos + 1) {
            if (s->size != tombstone) return s;
            release_front(); // a cancelled loan: nothing to deliver
            continue;
        }
        if (static_cast<std::int64_t>(seq - pos) >= static_cast<std::int64_t>(slot_count_)) {
            // Released, but the consumer that released it died before advancing head.
            h.head.store(pos + 1, std::memory_order_release);
            continue;
        }
        if (!check_writers || h.tail.load(std::memory_order_acquire) <= pos) return nullptr;
        // Claimed and not published: skip it if the producer died while writing it.
        const std::int32_t writer = s->writer.load(std::memory_order_acquire);
        if (writer == 0 || !process_dead(writer)) return nullptr;
        if (s->seq.load(std::memory_order_acquire) != pos) continue; // published meanwhile
        h.abandoned.fetch_add(1, std::memory_order_relaxed);
        detail::log_debug("channel \"{}\": skipping a slot of dead producer {}", name_, writer);
        release_front();
    }
}

[[gnu::always_inline]] void channel::release_front() noexcept {
    header& h = *hdr();
    const std::uint64_t pos = h.head.load(std::memory_order_relaxed);
    slot* s = slot_at(pos);
    s->writer.store(0, std::memory_order_relaxed);
    s->seq.store(pos + slot_count_, std::memory_order_release);
    h.head.store(pos + 1, std::memory_order_release);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (h.room_armed.load(std::memory_order_relaxed) != 0 && room_watermark_reached(pos + 1))
        wake_producers();
    // Asynchronous senders: one ring per sleep (the flag is taken), not one per released slot.
    if (h.room_bell_armed.load(std::memory_order_relaxed) != 0 &&
        h.room_bell_armed.exchange(0, std::memory_order_acq_rel) != 0)
        ring(detail::channel_bell::room);
}

bool channel::room_watermark_reached(std::uint64_t head) const noexcept {
    const header& h = *hdr();
    if (h.room_eager.load(std::memory_order_relaxed) != 0) return true;
    const std::uint64_t tail = h.tail.load(std::memory_order_acquire);
    const std::uint64_t used = tail > head ? tail - head : 0;
    return slot_count_ - used >= slot_count_ / 2;
}

void channel::wake_producers() noexcept {
    header& h = *hdr();
    // Whoever takes the flag wakes; sleepers that are still on their way in re-arm it.
    if (h.room_armed.exchange(0, std::memory_order_acq_rel) == 0) return;
    h.room_futex.fetch_add(1, std::memory_order_release);
    futex_wake(&h.room_futex, INT_MAX);
}

[[gnu::always_inline]] channel::slot* channel::front_until(const detail::deadline& dl,
                                                           error_code& ec) {
    if (consumer_ && !view_out_) {
        ec = {}; // the checks below would all pass: the consumer role implies an open handle
    } else {
        ec = check_open();
        if (!ec) ec = claim_consumer();
        if (!ec && view_out_) ec = make_error_code(errc::view_outstanding);
        if (ec) return nullptr;
    }
    // The first try, inlined into every receive: the waits come only after it failed.
    if (slot* s = try_front(false)) {
        if (streak_ < 2) ++streak_;
        return s;
    }
    return front_after_miss(dl, ec);
}

channel::slot* channel::front_after_miss(const detail::deadline& dl, error_code& ec) {
    if (single_try(dl)) return try_front(true);
    // Draining a stream (two messages or more without waiting): the producer is likely runnable,
    // on this CPU too. A round trip (one message per wait) sleeps at once, as a yield there could
    // only hand the CPU to an unrelated process.
    const bool streaming = streak_ >= 2;
    streak_ = 0;
    slot* got = nullptr;
    if (wait_.spin_until([&] { return (got = try_front(false)) != nullptr; })) return got;
    for (int i = 0; streaming && i < yields_before_sleep; ++i) {
        ::sched_yield();
        if (slot* s = try_front(false)) return s;
    }
    header& h = *hdr();
    for (;;) {
        if (slot* s = try_front(true)) return s;
        h.data_sleepers.fetch_or(futex_sleeper, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        const std::uint32_t word = h.data_futex.load(std::memory_order_acquire);
        if (slot* s = try_front(false)) {
            h.data_sleepers.fetch_and(~futex_sleeper, std::memory_order_relaxed);
            return s;
        }
        // A producer waiting for its watermark of free slots must not sleep through this one:
        // the consumer cannot release more until something is published.
        if (h.room_armed.load(std::memory_order_relaxed) != 0) wake_producers();
        // A slot being written is normally published within microseconds; if not, wake up now
        // and then to see whether its writer died.
        const bool in_progress =
            h.tail.load(std::memory_order_acquire) > h.head.load(std::memory_order_relaxed);
        const relative_timeout t(dl, in_progress ? std::chrono::nanoseconds(writer_check_interval)
                                                 : std::chrono::nanoseconds::zero());
        if (t.expired) {
            h.data_sleepers.fetch_and(~futex_sleeper, std::memory_order_relaxed);
            return try_front(true);
        }
        const int rc = futex_wait(&h.data_futex, word, t.ptr);
        const int err = errno;
        h.data_sleepers.fetch_and(~futex_sleeper, std::memory_order_relaxed);
        if (rc != 0 && err == EINTR && on_signal_ == signal_policy::report) {
            ec = errno_code(EINTR);
            return nullptr;
        }
    }
}

[[gnu::always_inline]] std::optional<std::size_t>
channel::copy_out(slot* s, std::span<std::byte> buffer, error_code& ec) {
    if (s->size > buffer.size()) {
        ec = make_error_code(errc::buffer_too_small); // the message stays for a bigger buffer
        return std::nullopt;
    }
    const std::size_t n = s->size;
    if (n != 0) std::memcpy(buffer.data(), payload(s), n);
    release_front();
    return n;
}

[[gnu::always_inline]] std::optional<std::size_t>
channel::receive_impl(std::span<std::byte> buffer, const detail::deadline& dl, error_code& ec) {
    slot* s = front_until(dl, ec);
    if (s == nullptr) return std::nullopt;
    return copy_out(s, buffer, ec);
}
std::optional<std::size_t> channel::receive_until_deadline(std::span<std::byte> buffer,
                                                           const detail::deadline& dl,
                                                           error_code& ec) {
    return receive_impl(buffer, dl, ec);
}

std::size_t channel::receive(std::span<std::byte> buffer, error_code& ec) {
    return receive_impl(buffer, forever, ec).value_or(0);
}
std::size_t channel::receive(std::span<std::byte> buffer) {
    error_code ec;
    const auto n = receive_impl(buffer, forever, ec);
    if (!n && ec) throw_error(ec, describe("channel::receive", name_));
    return n.value_or(0);
}
std::vector<std::byte> channel::receive(error_code& ec) {
    slot* s = front_until(forever, ec);
    if (s == nullptr) return {};
    std::vector<std::byte> out(s->size);
    copy_out(s, out, ec);
    return out;
}
std::vector<std::byte> channel::receive() {
    error_code ec;
    auto out = receive(ec);
    if (ec) throw_error(ec, describe("channel::receive", name_));
    return out;
}
std::optional<std::size_t> channel::try_receive(std::span<std::byte> buffer, error_code& ec) {
    return receive_until_deadline(buffer, once, ec);
}
std::optional<std::size_t> channel::try_receive(std::span<std::byte> buffer) {
    error_code ec;
    auto r = try_receive(buffer, ec);
    if (ec) throw_error(ec, describe("channel::try_receive", name_));
    return r;
}

[[gnu::always_inline]] channel_view channel::view_impl(const detail::deadline& dl, error_code& ec) {
    slot* s = front_until(dl, ec);
    if (s == nullptr) return {};
    view_out_ = true;
    return {this, hdr()->head.load(std::memory_order_relaxed), payload(s), s->size};
}
channel_view channel::view_until_deadline(const detail::deadline& dl, error_code& ec) {
    return view_impl(dl, ec);
}
channel_view channel::receive_view(error_code& ec) {
    return view_impl(forever, ec);
}
channel_view channel::receive_view() {
    error_code ec;
    auto v = view_impl(forever, ec);
    if (!v.valid() && ec) throw_error(ec, describe("channel::receive_view", name_));
    return v;
}
channel_view channel::try_receive_view(error_code& ec) {
    return view_until_deadline(once, ec);
}
channel_view channel::try_receive_view() {
    error_code ec;
    auto v = try_receive_view(ec);
    if (ec) throw_error(ec, describe("channel::try_receive_view", name_));
    return v;
}

channel_view::channel_view(channel_view&& o) noexcept
    : owner_(std::exchange(o.owner_, nullptr)), pos_(o.pos_), data_(o.data_), size_(o.size_) {}
channel_view& channel_view::operator=(channel_view&& o) noexcept {
    if (this != &o) {
        release();
        owner_ = std::exchange(o.owner_, nullptr);
        pos_ = o.pos_;
        data_ = o.data_;
        size_ = o.size_;
    }
    return *this;
}
channel_view::~channel_view() {
    release();
}
void channel_view::release() noexcept {
    if (owner_ == nullptr) return;
    channel* ch = std::exchange(owner_, nullptr);
    if (!ch->is_open()) return;
    ch->view_out_ = false;
    ch->release_front();
}

} // namespace pipc

// --- doorbells for basic_async_channel --------------------------------------------------------

namespace pipc::detail {

int channel_async_access::open_bell(channel& ch, channel_bell b, error_code& ec) {
    ec = ch.check_open();
    if (ec) return -1;
    const std::string bell = ch.bell_path(b);
    // The first asynchronous side makes the bell; it then lives as long as the channel's name
    // (channel::unlink removes it), as a peer may open it by name at any time.
    if (sys().mkfifo(bell.c_str(), ch.permissions()) != 0 && errno != EEXIST) {
        ec = errno == ENAMETOOLONG ? make_error_code(errc::name_too_long) : errno_code();
        return -1;
    }
    const int fd = open_bell_fifo(bell.c_str(), ec);
    if (fd < 0) return -1;
    // Exactly the channel's mode bits, whatever the umask (as the channel itself).
    sys().fchmod(fd, ch.permissions());
    // This handle rings both bells too: open its ring descriptor now, while the name exists.
    std::atomic<int>& cached = ch.bells_[static_cast<int>(b)];
    if (cached.load() < 0) {
        error_code ignored; // the ring will open it then
        const int w = open_bell_fifo(bell.c_str(), ignored);
        int expected = -1;
        if (w >= 0 && !cached.compare_exchange_strong(expected, w)) sys().close(w);
    }
    return fd;
}

void channel_async_access::announce(channel& ch, channel_bell b) noexcept {
    if (!ch.is_open()) return; // its core was closed under the asynchronous side
    auto& h = *ch.hdr();
    if (b == channel_bell::data)
        h.data_sleepers.fetch_or(bell_sleeper, std::memory_order_relaxed);
    else {
        h.room_bells.fetch_add(1, std::memory_order_relaxed);
        h.room_bell_armed.store(1, std::memory_order_relaxed);
    }
    ch.announced_bells_ |= bell_bit(b);
    // Dekker with publish_slot / release_front: either our re-check sees the new state, or the
    // other side sees this flag and rings.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    // A consumer about to wait for data wakes producers waiting for their watermark of room,
    // as the blocking consumer does before it sleeps.
    if (b == channel_bell::data && h.room_armed.load(std::memory_order_relaxed) != 0)
        ch.wake_producers();
}

void channel_async_access::withdraw(channel& ch, channel_bell b) noexcept {
    const auto bit = bell_bit(b);
    // Nothing to take back on a closed core: close() did it.
    if (!ch.is_open() || (ch.announced_bells_ & bit) == 0) return;
    ch.announced_bells_ &= static_cast<std::uint8_t>(~bit);
    auto& h = *ch.hdr();
    if (b == channel_bell::data)
        h.data_sleepers.fetch_and(~bell_sleeper, std::memory_order_relaxed);
    else
        h.room_bells.fetch_sub(1, std::memory_order_relaxed);
}

std::uint32_t channel_async_access::room_waiters(const channel& ch) noexcept {
    return ch.is_open() ? ch.hdr()->room_bells.load(std::memory_order_relaxed) : 0;
}

void channel_async_access::ring(channel& ch, channel_bell b) noexcept {
    if (ch.is_open()) ch.ring(b);
}

bool channel_async_access::drain(int fd) noexcept {
    char buf[64];
    bool rang = false;
    // Each ring is one byte, and rings nobody drained add up (a ring per sleep, a closing
    // handle's): read until the pipe is empty, so that the next ring is an edge.
    for (;;) {
        const ::ssize_t n = sys().read(fd, buf, sizeof buf);
        if (n > 0) rang = true;
        if (n != static_cast<::ssize_t>(sizeof buf)) break;
    }
    // The re-check that follows must not move before the drain: a ring after it is kept.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return rang;
}

bool channel_async_access::rung_from_other_cpu(const channel& ch) noexcept {
    if (!ch.is_open()) return false;
    const int cpu = ::sched_getcpu();
    return cpu >= 0 && ch.hdr()->data_ring_cpu.load(std::memory_order_relaxed) != cpu;
}

bool channel_async_access::receive_worth_trying(const channel& ch) noexcept {
    // A try then reports errc::closed or view_outstanding, or claims the consumer role at the
    // first receive, as documented, rather than when the first message comes.
    if (!ch.is_open() || !ch.consumer_ || ch.view_out_) return true;
    const auto& h = *ch.hdr();
    const std::uint64_t pos = h.head.load(std::memory_order_acquire);
    return ch.slot_at(pos)->seq.load(std::memory_order_acquire) == pos + 1;
}

bool channel_async_access::write_in_progress(const channel& ch) noexcept {
    if (!ch.is_open()) return false;
    const auto& h = *ch.hdr();
    return h.tail.load(std::memory_order_acquire) > h.head.load(std::memory_order_acquire);
}

} // namespace pipc::detail
