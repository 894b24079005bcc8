// SPDX-License-Identifier: BSL-1.0
// Read-only inspection of robust mutexes and channels. Nothing here writes to shared memory,
// takes a lock or waits: the objects are opened O_RDONLY and mapped PROT_READ, so a bug here
// cannot change what the owners see. The layouts below mirror robust_mutex.cpp and channel.cpp
// (robust-mutex layout version 1, channel protocol version 2) and are checked the same way.
#include <pipc/inspect.hpp>
#include <pipc/robust_mutex.hpp>

#include "common.hpp"
#include "sys.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <utility>

namespace pipc {

using detail::describe;
using detail::errno_code;
using detail::sys;

namespace {

// --- read-only mapping -----------------------------------------------------------------------

class readonly_map {
public:
    readonly_map() = default;
    readonly_map(const readonly_map&) = delete;
    readonly_map& operator=(const readonly_map&) = delete;
    ~readonly_map() {
        if (base_ != nullptr) sys().munmap(base_, length_);
    }
    /// Opens `object` read-only; `size` gets its size. The mapping is made by map().
    error_code open(const std::string& object, std::uint64_t& size) {
        // O_NONBLOCK: a FIFO under the name (a channel's doorbell, say) would block a
        // read-only open until some process opened it for writing; on a regular file it does
        // nothing.
        fd_ = sys().shm_open(object.c_str(), O_RDONLY | O_NONBLOCK, 0);
        if (fd_ < 0) return errno_code();
        struct ::stat st {};
        if (sys().fstat(fd_, &st) != 0) return errno_code();
        size = static_cast<std::uint64_t>(st.st_size);
        return {};
    }
    /// Maps the first `length` bytes, replacing an earlier mapping.
    error_code map(std::size_t length) {
        if (base_ != nullptr) sys().munmap(std::exchange(base_, nullptr), length_);
        void* p = sys().mmap(nullptr, length, PROT_READ, MAP_SHARED, fd_, 0);
        if (p == MAP_FAILED) return errno_code();
        base_ = p;
        length_ = length;
        return {};
    }
    void close_fd() {
        if (fd_ >= 0) sys().close(std::exchange(fd_, -1));
    }
    const void* base() const noexcept { return base_; }

private:
    int fd_ = -1;
    void* base_ = nullptr;
    std::size_t length_ = 0;
};

struct fd_closer {
    readonly_map& m;
    ~fd_closer() { m.close_fd(); }
};

template <class T>
T load(const T& v) noexcept {
    return __atomic_load_n(&v, __ATOMIC_ACQUIRE);
}

/// The process a thread belongs to (Tgid in /proc/TID/status); 0 when it cannot be read.
/// `gone` is set when /proc exists but the thread does not.
::pid_t thread_group(::pid_t tid, bool& gone) {
    gone = false;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/status", static_cast<int>(tid));
    std::FILE* f = std::fopen(path, "re");
    if (f == nullptr) {
        gone = errno == ENOENT && ::access("/proc/self/status", R_OK) == 0;
        return 0;
    }
    char line[256];
    ::pid_t tgid = 0;
    while (std::fgets(line, sizeof line, f) != nullptr) {
        if (std::strncmp(line, "Tgid:", 5) == 0) {
            tgid = static_cast<::pid_t>(std::strtol(line + 5, nullptr, 10));
            break;
        }
    }
    std::fclose(f);
    return tgid;
}

/// Is `pid` gone? A zombie counts as gone: it will never write again (as channel.cpp decides).
bool process_dead(std::int32_t pid) noexcept {
    if (pid <= 0) return false;
    if (::kill(pid, 0) != 0) return errno == ESRCH;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
    std::FILE* f = std::fopen(path, "re");
    if (f == nullptr) return false;
    char buf[512] = {};
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    const char* paren = std::strrchr(buf, ')');
    if (n == 0 || paren == nullptr || paren[1] == '\0') return false;
    return paren[2] == 'Z' || paren[2] == 'X';
}

// --- robust mutex ----------------------------------------------------------------------------

struct mutex_block { // robust_mutex.cpp's detail::robust_mutex_block
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t mutex_size;
    ::pthread_mutex_t mutex;
};
constexpr std::uint64_t mutex_magic = 0x7069'7063'726d'7478ULL; // "pipcrmtx"
constexpr std::uint32_t mutex_layout_version = 1;

// glibc (NPTL) robust mutexes: the lock word holds the owner's TID and two flag bits; the
// __owner field is the TID too, or one of two markers for the owner-died protocol.
constexpr unsigned futex_waiters = 0x8000'0000U;
constexpr unsigned futex_owner_died = 0x4000'0000U;
constexpr unsigned futex_tid_mask = 0x3fff'ffffU;
constexpr int mutex_inconsistent = INT_MAX;        // PTHREAD_MUTEX_INCONSISTENT
constexpr int mutex_not_recoverable = INT_MAX - 1; // PTHREAD_MUTEX_NOTRECOVERABLE

// --- channel ---------------------------------------------------------------------------------

constexpr std::uint64_t channel_magic = 0x314e'4843'4350'4950ULL; // "PIPCCHN1"
constexpr std::size_t cache_line = 64;
constexpr std::size_t channel_header_size = 3 * cache_line;

struct channel_header { // channel.cpp's channel::header, protocol version 6
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t mode;
    std::uint32_t slot_count;
    std::uint32_t max_message_size;
    std::uint64_t slot_stride;
    std::uint64_t total_size;
    alignas(cache_line) std::uint64_t tail;
    std::uint32_t data_futex;
    std::uint32_t data_sleepers;
    std::int32_t data_ring_cpu;
    alignas(cache_line) std::uint64_t head;
    std::uint32_t room_futex;
    std::uint32_t room_sleepers;
    std::uint32_t room_bells;
    std::uint32_t room_armed;
    std::uint32_t room_eager;
    std::uint32_t room_bell_armed;
    std::int32_t consumer_pid;
    std::uint64_t abandoned;
};
static_assert(sizeof(channel_header) == channel_header_size);
// The layout this file reads is the one the library writes: a new protocol version must be
// mirrored here before it builds (6 moved each side's sleep state onto the other side's line).
static_assert(channel::protocol_version == 6, "update channel_header to the new protocol");

struct channel_slot { // channel.cpp's channel::slot
    std::uint64_t seq;
    std::uint32_t size;
    std::int32_t writer;
};
static_assert(sizeof(channel_slot) == 16);

} // namespace

robust_mutex_state inspect_robust_mutex(std::string_view name, error_code& ec) {
    robust_mutex_state state;
    const std::string object = robust_mutex::object_name(name, ec);
    if (ec) return state;
    readonly_map m;
    std::uint64_t size = 0;
    {
        const fd_closer closer{m};
        ec = m.open(object, size);
        if (ec) return state;
        if (size != sizeof(mutex_block)) {
            ec = make_error_code(errc::not_a_robust_mutex);
            return state;
        }
        ec = m.map(sizeof(mutex_block));
        if (ec) return state;
    }
    const auto* b = static_cast<const mutex_block*>(m.base());
    if (b->magic != mutex_magic || b->version != mutex_layout_version ||
        b->mutex_size != sizeof(::pthread_mutex_t)) {
        ec = make_error_code(errc::not_a_robust_mutex);
        return state;
    }
    const auto word = static_cast<unsigned>(load(b->mutex.__data.__lock));
    const int owner = load(b->mutex.__data.__owner);
    state.waiters = (word & futex_waiters) != 0;
    const auto tid = static_cast<::pid_t>(word & futex_tid_mask);
    if (tid != 0) {
        state.status = owner == mutex_inconsistent ? robust_mutex_status::recovering
                                                   : robust_mutex_status::held;
        state.owner_tid = tid;
        state.owner_pid = thread_group(tid, state.owner_gone);
    } else if ((word & futex_owner_died) != 0) {
        state.status = robust_mutex_status::owner_dead;
    } else if (owner == mutex_not_recoverable) {
        state.status = robust_mutex_status::not_recoverable;
    } else {
        state.status = robust_mutex_status::free;
    }
    ec = {};
    return state;
}

robust_mutex_state inspect_robust_mutex(std::string_view name) {
    error_code ec;
    auto state = inspect_robust_mutex(name, ec);
    if (ec) throw_error(ec, describe("inspect_robust_mutex", name));
    return state;
}

channel_info inspect_channel(std::string_view name, error_code& ec) {
    channel_info info;
    ec = validate_name(object_kind::shared_memory, name);
    if (ec) return info;
    readonly_map m;
    std::uint64_t size = 0;
    {
        const fd_closer closer{m};
        ec = m.open(std::string(name), size);
        if (ec) return info;
        if (size < channel_header_size) {
            ec = make_error_code(errc::not_a_channel);
            return info;
        }
        ec = m.map(channel_header_size);
        if (ec) return info;
        const auto* h = static_cast<const channel_header*>(m.base());
        if (h->magic == channel_magic && h->version != channel::protocol_version) {
            ec = make_error_code(errc::channel_version_mismatch);
            return info;
        }
        const std::uint32_t slots = h->slot_count;
        const std::uint64_t stride =
            (16 + std::uint64_t{h->max_message_size} + cache_line - 1) / cache_line * cache_line;
        if (h->magic != channel_magic || slots < 2 || (slots & (slots - 1)) != 0 ||
            h->slot_stride != stride || h->total_size != channel_header_size + stride * slots ||
            h->total_size != size ||
            (h->mode != static_cast<std::uint32_t>(channel_mode::spsc) &&
             h->mode != static_cast<std::uint32_t>(channel_mode::mpsc))) {
            ec = make_error_code(errc::not_a_channel);
            return info;
        }
        // The whole object, read-only: the slot headers tell published and dead claims apart.
        ec = m.map(static_cast<std::size_t>(size));
        if (ec) return info;
    }
    const auto* base = static_cast<const unsigned char*>(m.base());
    const auto* h = reinterpret_cast<const channel_header*>(base);
    info.slot_count = h->slot_count;
    info.max_message_size = h->max_message_size;
    info.mode = static_cast<channel_mode>(h->mode);
    info.size = size;
    info.head = load(h->head);
    info.tail = load(h->tail);
    if (info.tail < info.head) info.tail = info.head; // a snapshot torn by a concurrent release
    info.fill = std::min<std::uint64_t>(info.tail - info.head, info.slot_count);
    info.abandoned = load(h->abandoned);
    info.consumer_pid = load(h->consumer_pid);
    info.consumer_dead = process_dead(info.consumer_pid);
    bool front = true;
    for (std::uint64_t pos = info.head; pos < info.head + info.fill; ++pos) {
        const auto* s = reinterpret_cast<const channel_slot*>(
            base + channel_header_size + (pos & (info.slot_count - 1)) * h->slot_stride);
        const std::uint64_t seq = load(s->seq);
        if (seq == pos + 1) {
            if (front) ++info.ready;
            continue;
        }
        front = false;
        if (seq != pos) continue; // released and reused meanwhile: the snapshot moved on
        const std::int32_t writer = load(s->writer);
        if (writer != 0 && process_dead(writer))
            info.dead_claims.push_back({pos, static_cast<::pid_t>(writer)});
    }
    ec = {};
    return info;
}

channel_info inspect_channel(std::string_view name) {
    error_code ec;
    auto info = inspect_channel(name, ec);
    if (ec) throw_error(ec, describe("inspect_channel", name));
    return info;
}

} // namespace pipc
