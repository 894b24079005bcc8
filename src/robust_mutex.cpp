// SPDX-License-Identifier: BSL-1.0
#include <pipc/name.hpp>
#include <pipc/robust_mutex.hpp>

#include "common.hpp"
#include "log_internal.hpp"
#include "sys.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <utility>

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace pipc {

using detail::describe;
using detail::errno_code;
using detail::sys;

struct detail::robust_mutex_block {
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t mutex_size; // a different pthread ABI (32/64-bit peers) must not share it
    ::pthread_mutex_t mutex;
};

namespace {

constexpr std::string_view object_prefix = "pipc-robust-mutex.";
constexpr std::string_view temporary_prefix = "pipc-robust-mutex-tmp.";
// glibc's shm_open keeps its objects here; link() needs the paths.
constexpr std::string_view shm_directory = "/dev/shm/";
constexpr std::uint64_t header_magic = 0x7069'7063'726d'7478ULL; // "pipcrmtx"
constexpr std::uint32_t layout_version = 1;
constexpr std::size_t max_object_name = 255;

using block = detail::robust_mutex_block;

std::string path_of(const std::string& object) {
    std::string p(shm_directory);
    p.append(object, 1);
    return p;
}

error_code check_options(const robust_mutex::options& opts) {
    if (auto ec = detail::check_open_mode(opts.open)) return ec;
    return detail::check_permissions(opts.permissions);
}

error_code map_block(int fd, void*& out) {
    void* p = sys().mmap(nullptr, sizeof(block), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return errno_code();
    out = p;
    return {};
}

// Opens an existing object and checks that it really is a robust mutex of our layout.
error_code open_existing(const std::string& object, void*& out) {
    const int fd = sys().shm_open(object.c_str(), O_RDWR, 0);
    if (fd < 0) return errno_code();
    struct ::stat st {};
    error_code ec;
    if (sys().fstat(fd, &st) != 0)
        ec = errno_code();
    else if (static_cast<std::uint64_t>(st.st_size) != sizeof(block))
        ec = make_error_code(errc::not_a_robust_mutex);
    void* p = nullptr;
    if (!ec) ec = map_block(fd, p);
    sys().close(fd); // the mapping keeps the object alive
    if (ec) return ec;
    const auto* b = static_cast<const block*>(p);
    if (b->magic != header_magic || b->version != layout_version ||
        b->mutex_size != sizeof(::pthread_mutex_t)) {
        sys().munmap(p, sizeof(block));
        return make_error_code(errc::not_a_robust_mutex);
    }
    out = p;
    return {};
}

error_code init_mutex(::pthread_mutex_t* m) {
    ::pthread_mutexattr_t attr;
    int rc = ::pthread_mutexattr_init(&attr);
    if (rc != 0) return errno_code(rc);
    rc = ::pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (rc == 0) rc = ::pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (rc == 0) rc = ::pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
    if (rc == 0) rc = ::pthread_mutex_init(m, &attr);
    ::pthread_mutexattr_destroy(&attr);
    return rc == 0 ? error_code{} : errno_code(rc);
}

// Builds a complete mutex under a random temporary name, then link()s it to `object`: link is
// atomic and fails with EEXIST, so the name only ever refers to an initialised mutex, and a
// creator that dies before the link leaves nothing anyone would open.
error_code create_published(const std::string& object, ::mode_t permissions, void*& out) {
    error_code ec;
    std::string temporary = detail::generate_name(ec); // "/pipc-<random>"
    if (ec) return ec;
    temporary.replace(0, 6, "/" + std::string(temporary_prefix));
    const int fd = sys().shm_open(temporary.c_str(), O_RDWR | O_CREAT | O_EXCL, permissions);
    if (fd < 0) return errno_code();
    void* p = nullptr;
    // shm_open applied the umask; the requested mode is what the object gets.
    if (sys().fchmod(fd, permissions) != 0) ec = errno_code();
    if (!ec) {
        const int rc = sys().posix_fallocate(fd, 0, sizeof(block));
        if (rc == ENOSPC)
            ec = make_error_code(errc::no_space);
        else if (rc != 0)
            ec = errno_code(rc);
    }
    if (!ec) ec = map_block(fd, p);
    if (!ec) {
        auto* b = static_cast<block*>(p);
        ec = init_mutex(&b->mutex);
        b->magic = header_magic;
        b->version = layout_version;
        b->mutex_size = sizeof(::pthread_mutex_t);
    }
    if (!ec && sys().link(path_of(temporary).c_str(), path_of(object).c_str()) != 0)
        ec = errno_code();
    sys().shm_unlink(temporary.c_str());
    sys().close(fd);
    if (ec) {
        if (p != nullptr) sys().munmap(p, sizeof(block));
        return ec;
    }
    out = p;
    return {};
}

// pthread_mutex_clocklock on CLOCK_MONOTONIC. ThreadSanitizer (GCC 12's) does not intercept
// clocklock, so under it the acquisition is announced by hand; otherwise it would miss the
// lock's happens-before edges and call the matching unlock an "unlock of an unlocked mutex".
int monotonic_clocklock(::pthread_mutex_t* m, const ::timespec* abs) noexcept {
#if defined(__SANITIZE_THREAD__)
    __tsan_mutex_pre_lock(m, __tsan_mutex_try_lock);
    const int rc = ::pthread_mutex_clocklock(m, CLOCK_MONOTONIC, abs);
    const bool locked = rc == 0 || rc == EOWNERDEAD;
    __tsan_mutex_post_lock(
        m, locked ? __tsan_mutex_try_lock : __tsan_mutex_try_lock | __tsan_mutex_try_lock_failed,
        0);
    return rc;
#else
    return ::pthread_mutex_clocklock(m, CLOCK_MONOTONIC, abs);
#endif
}

// True when the lock word names a live thread other than the caller's. A try then fails here:
// glibc's robust clocklock marks the word "waiters" before it notices that the deadline has
// passed, and that mark sends the holder's next unlock into the kernel to wake nobody. The
// caller's own TID (already_owner), a dead owner and a free word go on to glibc.
bool held_by_another_thread(::pthread_mutex_t* m) noexcept {
    const auto word = static_cast<unsigned>(
        std::atomic_ref<int>(m->__data.__lock).load(std::memory_order_relaxed));
    const unsigned owner = word & FUTEX_TID_MASK;
    return owner != 0 && (word & FUTEX_OWNER_DIED) == 0 &&
           owner != static_cast<unsigned>(::gettid());
}

} // namespace

std::string robust_mutex::object_name(std::string_view name, error_code& ec) {
    ec = validate_name(object_kind::shared_memory, name);
    if (ec) return {};
    if (name.size() - 1 + object_prefix.size() > max_object_name) {
        ec = make_error_code(errc::name_too_long);
        return {};
    }
    std::string object = "/";
    object += object_prefix;
    object += name.substr(1);
    return object;
}

robust_mutex::robust_mutex(std::string_view name, const options& opts) {
    open(name, opts);
}
robust_mutex::robust_mutex(unique_name_t, const options& opts) {
    open(unique_name, opts);
}

robust_mutex::robust_mutex(robust_mutex&& other) noexcept
    : shared_(std::exchange(other.shared_, nullptr)), mutex_(std::exchange(other.mutex_, nullptr)),
      name_(std::move(other.name_)), permissions_(other.permissions_), created_(other.created_),
      inconsistent_(other.inconsistent_.exchange(false)), held_(other.held_.exchange(false)) {}

robust_mutex& robust_mutex::operator=(robust_mutex&& other) noexcept {
    if (this != &other) {
        error_code ignored;
        close(ignored);
        shared_ = std::exchange(other.shared_, nullptr);
        mutex_ = std::exchange(other.mutex_, nullptr);
        name_ = std::move(other.name_);
        permissions_ = other.permissions_;
        created_ = other.created_;
        inconsistent_.store(other.inconsistent_.exchange(false));
        held_.store(other.held_.exchange(false));
    }
    return *this;
}

robust_mutex::~robust_mutex() {
    error_code ignored;
    close(ignored);
}

void robust_mutex::open(std::string_view name, const options& opts, error_code& ec) {
    const std::string object = object_name(name, ec);
    if (!ec) ec = check_options(opts);
    if (ec) return;
    void* mapped = nullptr;
    const bool created = detail::open_by_mode(
        opts.open,
        [&](bool create) {
            return create ? create_published(object, opts.permissions, mapped)
                          : open_existing(object, mapped);
        },
        ec);
    if (ec) return;
    close(ec);
    ec = {};
    shared_ = static_cast<block*>(mapped);
    mutex_ = &shared_->mutex;
    name_ = std::string(name);
    permissions_ = opts.permissions;
    created_ = created;
    inconsistent_.store(false);
    held_.store(false);
    detail::log_debug("robust mutex {} \"{}\"", created ? "created" : "opened", name_);
}

void robust_mutex::open(std::string_view name, const options& opts) {
    error_code ec;
    open(name, opts, ec);
    if (ec) throw_error(ec, describe("robust_mutex::open", name));
}

void robust_mutex::open(unique_name_t, const options& opts, error_code& ec) {
    ec = check_options(opts);
    if (ec) return;
    options exclusive = opts;
    exclusive.open = open_mode::create_exclusive;
    detail::open_unique(
        [&](const std::string& name) {
            error_code attempt_ec;
            open(name, exclusive, attempt_ec);
            return attempt_ec;
        },
        ec);
}

void robust_mutex::open(unique_name_t, const options& opts) {
    error_code ec;
    open(unique_name, opts, ec);
    if (ec) throw_error(ec, "robust_mutex::open (generated name)");
}

bool robust_mutex::finish_lock(int rc, error_code& ec) noexcept {
    switch (rc) {
    case -1:
        ec = make_error_code(errc::closed);
        return false;
    case 0:
        held_.store(true, std::memory_order_relaxed);
        ec = {};
        return true;
    case EOWNERDEAD:
        held_.store(true, std::memory_order_relaxed);
        inconsistent_.store(true, std::memory_order_relaxed);
        ec = make_error_code(errc::owner_dead);
        return true;
    case EBUSY:
    case ETIMEDOUT:
        ec = {};
        return false;
    case ENOTRECOVERABLE:
        ec = make_error_code(errc::not_recoverable);
        return false;
    case EDEADLK:
        ec = make_error_code(errc::already_owner);
        return false;
    default:
        ec = errno_code(rc);
        return false;
    }
}

lock_result robust_mutex::lock_failed(int rc, const char* what) {
    error_code ec;
    finish_lock(rc, ec);
    if (ec == errc::owner_dead) return lock_result::owner_dead;
    throw_error(ec, describe(what, name_));
}

bool robust_mutex::try_lock(error_code& ec) {
    if (mutex_ == nullptr) {
        ec = make_error_code(errc::closed);
        return false;
    }
    // Not pthread_mutex_trylock: on a not-recoverable robust mutex glibc's trylock takes the
    // lock word and returns ENOTRECOVERABLE without releasing it (it tests the CAS result
    // against our TID instead of 0), so every later lock by anyone would hang or fail with
    // EDEADLK. clocklock with an expired deadline is a try-lock without that flaw.
    if (held_by_another_thread(mutex_)) return finish_lock(EBUSY, ec);
    static constexpr ::timespec expired{0, 0};
    return finish_lock(monotonic_clocklock(mutex_, &expired), ec);
}

bool robust_mutex::try_lock() {
    error_code ec;
    const bool locked = try_lock(ec);
    if (ec && ec != errc::owner_dead) throw_error(ec, describe("robust_mutex::try_lock", name_));
    return locked;
}

bool robust_mutex::lock_until(const detail::deadline& dl, error_code& ec) {
    if (shared_ == nullptr) {
        ec = make_error_code(errc::closed);
        return false;
    }
    if (dl.infinite) return finish_lock(::pthread_mutex_lock(mutex_), ec);
    // A deadline already passed is a try (see try_lock); the clock is read only when that matters.
    if (held_by_another_thread(mutex_) && dl.when <= std::chrono::steady_clock::now())
        return finish_lock(EBUSY, ec);
    // steady_clock is CLOCK_MONOTONIC on Linux, so the deadline passes through unchanged.
    const ::timespec abs = detail::to_timespec(dl.when.time_since_epoch());
    return finish_lock(monotonic_clocklock(mutex_, &abs), ec);
}

error_code robust_mutex::unlock_error(int rc) noexcept {
    if (rc == -1) return make_error_code(errc::closed);
    return rc == EPERM ? make_error_code(errc::not_owner) : errno_code(rc);
}

void robust_mutex::unlock_failed(int rc) const {
    throw_error(unlock_error(rc), describe("robust_mutex::unlock", name_));
}

void robust_mutex::consistent(error_code& ec) {
    if (shared_ == nullptr) {
        ec = make_error_code(errc::closed);
        return;
    }
    // glibc only checks that the mutex is inconsistent, not who calls: the handle's own record
    // keeps a non-owner from marking someone else's half-repaired state consistent.
    if (!inconsistent_.load(std::memory_order_relaxed)) {
        ec = make_error_code(errc::not_owner);
        return;
    }
    const int rc = ::pthread_mutex_consistent(mutex_);
    if (rc == 0) {
        ec = {};
        inconsistent_.store(false, std::memory_order_relaxed);
    } else {
        ec = rc == EINVAL ? make_error_code(errc::not_owner) : errno_code(rc);
    }
}

void robust_mutex::consistent() {
    error_code ec;
    consistent(ec);
    if (ec) throw_error(ec, describe("robust_mutex::consistent", name_));
}

void robust_mutex::close(error_code& ec) {
    ec = {};
    if (shared_ == nullptr) return;
    mutex_ = nullptr;
    block* const mapped = std::exchange(shared_, nullptr);
    inconsistent_.store(false);
    if (held_.exchange(false)) {
        // Still on the owning thread's robust list: the kernel reads that memory when the thread
        // dies, to mark the mutex owner-dead for everyone else. Unmapping it would leave the
        // mutex held by a dead thread forever, so the mapping stays until the process ends.
        detail::log_debug("robust mutex closed while held \"{}\": mapping kept", name_);
        return;
    }
    if (sys().munmap(mapped, sizeof(block)) != 0) ec = errno_code();
    detail::log_debug("robust mutex closed \"{}\"", name_);
}

void robust_mutex::close() {
    error_code ec;
    close(ec);
    if (ec) throw_error(ec, describe("robust_mutex::close", name_));
}

void robust_mutex::unlink(std::string_view name, error_code& ec) {
    const std::string object = object_name(name, ec);
    if (ec) return;
    if (sys().shm_unlink(object.c_str()) != 0) ec = errno_code();
}

void robust_mutex::unlink(std::string_view name) {
    error_code ec;
    unlink(name, ec);
    if (ec) throw_error(ec, describe("robust_mutex::unlink", name));
}

void robust_mutex::unlink(error_code& ec) {
    if (name_.empty()) {
        ec = make_error_code(errc::closed);
        return;
    }
    unlink(std::string_view(name_), ec);
}

void robust_mutex::unlink() {
    error_code ec;
    unlink(ec);
    if (ec) throw_error(ec, describe("robust_mutex::unlink", name_));
}

void unlink_robust_mutex(std::string_view name) {
    robust_mutex::unlink(name);
}
void unlink_robust_mutex(std::string_view name, error_code& ec) {
    robust_mutex::unlink(name, ec);
}

} // namespace pipc
