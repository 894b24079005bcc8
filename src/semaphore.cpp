// SPDX-License-Identifier: BSL-1.0
#include <pipc/limits.hpp>
#include <pipc/semaphore.hpp>

#include "common.hpp"
#include "log_internal.hpp"
#include "sys.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

namespace pipc {

using detail::describe;
using detail::errno_code;
using detail::sys;

semaphore::semaphore(std::string_view name, const options& opts) {
    open(name, opts);
}
semaphore::semaphore(unique_name_t, const options& opts) {
    open(unique_name, opts);
}

semaphore::semaphore(semaphore&& other) noexcept
    : sem_(std::exchange(other.sem_, nullptr)), name_(std::move(other.name_)),
      permissions_(other.permissions_), created_(other.created_), on_signal_(other.on_signal_),
      wait_(other.wait_) {}

semaphore& semaphore::operator=(semaphore&& other) noexcept {
    if (this != &other) {
        error_code ignored;
        close(ignored);
        sem_ = std::exchange(other.sem_, nullptr);
        name_ = std::move(other.name_);
        permissions_ = other.permissions_;
        created_ = other.created_;
        on_signal_ = other.on_signal_;
        wait_ = other.wait_;
    }
    return *this;
}

semaphore::~semaphore() {
    error_code ignored;
    close(ignored);
}

namespace {

error_code check_semaphore_options(const semaphore::options& opts) {
    if (auto ec = detail::check_open_mode(opts.open)) return ec;
    if (auto ec = detail::check_permissions(opts.permissions)) return ec;
    if (static_cast<unsigned long>(opts.initial_value) >
        static_cast<unsigned long>(semaphore_value_max()))
        return make_error_code(errc::invalid_initial_value);
    return {};
}

// pipc builds named semaphores itself, the way glibc's sem_open does (a sem_t in a file
// /dev/shm/sem.NAME, mapped shared), because sem_open leaves two gaps: it applies the umask, so
// the mode had to be fixed afterwards by path (racing with anyone who unlinks and re-creates the
// name), and it maps a file of any size, so a short file crashes the first wait with SIGBUS.
// Objects stay compatible with sem_open in other programs in both directions.

std::string semaphore_path(std::string_view name) {
    std::string path = "/dev/shm/sem.";
    path += name.substr(1);
    return path;
}

// Checks that `fd` holds a whole sem_t, then maps it. The size check is on the descriptor that
// is mapped, so no other process can swap the file in between.
error_code map_semaphore(int fd, ::sem_t*& out) {
    struct ::stat st {};
    if (sys().fstat(fd, &st) != 0) return errno_code();
    if (!S_ISREG(st.st_mode) || st.st_size < static_cast<::off_t>(sizeof(::sem_t)))
        return make_error_code(errc::damaged_semaphore);
    void* p = sys().mmap(nullptr, sizeof(::sem_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return errno_code();
    out = static_cast<::sem_t*>(p);
    return {};
}

error_code open_existing_semaphore(const std::string& path, ::sem_t*& out) {
    const int fd = sys().open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0) return errno_code();
    const auto ec = map_semaphore(fd, out);
    sys().close(fd);
    return ec;
}

// The semaphore is made complete (mode, value, mapping) in an unnamed file, and the name is the
// last step: linkat either publishes it whole or fails with EEXIST, and nothing is left behind
// on any failure. Nobody else can see, open or unlink it before it is ours.
error_code create_semaphore(const std::string& path, ::mode_t permissions, unsigned value,
                            ::sem_t*& out) {
    const int fd = sys().open("/dev/shm", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) return errno_code();
    ::sem_t* mapped = nullptr;
    const error_code ec = [&]() -> error_code {
        if (sys().fchmod(fd, permissions) != 0) return errno_code(); // exact, whatever the umask
        ::sem_t initial;
        std::memset(&initial, 0, sizeof initial); // defined padding bytes in the file
        if (::sem_init(&initial, 1, value) != 0) return errno_code();
        const auto written = sys().pwrite(fd, &initial, sizeof initial, 0);
        if (written < 0) return errno_code();
        if (written != static_cast<::ssize_t>(sizeof initial)) return errno_code(ENOSPC);
        if (auto map_ec = map_semaphore(fd, mapped)) return map_ec;
        const std::string self = "/proc/self/fd/" + std::to_string(fd);
        if (sys().linkat(AT_FDCWD, self.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) != 0) {
            const auto link_ec = errno_code();
            sys().munmap(std::exchange(mapped, nullptr), sizeof(::sem_t));
            return link_ec;
        }
        return {};
    }();
    sys().close(fd); // the mapping and the name keep the file
    if (!ec) out = mapped;
    return ec;
}

} // namespace

void semaphore::open(std::string_view name, const options& opts, error_code& ec) {
    ec = validate_name(object_kind::semaphore, name);
    if (!ec) ec = check_semaphore_options(opts);
    if (ec) return;
    const std::string owned(name);
    const std::string path = semaphore_path(owned);
    ::sem_t* opened = nullptr;
    const bool created = detail::open_by_mode(
        opts.open,
        [&](bool create) -> error_code {
            return create ? create_semaphore(path, opts.permissions, opts.initial_value, opened)
                          : open_existing_semaphore(path, opened);
        },
        ec);
    if (ec) return;
    close(ec); // a handle reopened in place lets go of its previous semaphore
    ec = {};
    sem_ = opened;
    name_ = owned;
    permissions_ = opts.permissions;
    created_ = created;
    on_signal_ = opts.on_signal;
    wait_ = opts.wait;
    detail::log_debug("semaphore {} \"{}\"", created ? "created" : "opened", name_);
}

void semaphore::open(std::string_view name, const options& opts) {
    error_code ec;
    open(name, opts, ec);
    if (ec) throw_error(ec, describe("semaphore::open", name));
}

void semaphore::open(unique_name_t, const options& opts, error_code& ec) {
    ec = check_semaphore_options(opts);
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

void semaphore::open(unique_name_t, const options& opts) {
    error_code ec;
    open(unique_name, opts, ec);
    if (ec) throw_error(ec, "semaphore::open (generated name)");
}

namespace {
// One poll of a spinning wait: sem_trywait is an atomic in user space (no system call). True
// when the wait is over: a unit taken, or an error (`ec`) that the sleeping call would report
// as well. EINTR cannot come from a call that never sleeps; retrying it costs nothing.
bool poll_semaphore(::sem_t* sem, error_code& ec) {
    for (;;) {
        if (sys().sem_trywait(sem) == 0) return true;
        if (errno == EAGAIN) return false;
        if (errno == EINTR) continue;
        ec = errno_code();
        return true;
    }
}
} // namespace

void semaphore::acquire(error_code& ec) {
    ec = {};
    if (!sem_) {
        ec = make_error_code(errc::closed);
        return;
    }
    // The default block() makes no call here: its path is the sem_wait below alone. A spinning
    // strategy tries once first, so that only waits that had to wait teach adaptive anything.
    if (spins()) {
        const auto poll = [&] { return poll_semaphore(sem_, ec); };
        // The try is made only when this wait will spin: a collapsed adaptive costs nothing.
        if ((wait_.current_budget().count() > 0 && poll()) || wait_.spin_until(poll)) return;
    }
    while (sys().sem_wait(sem_) != 0) {
        if (errno == EINTR && on_signal_ == signal_policy::retry) continue;
        ec = errno_code();
        return;
    }
}

void semaphore::acquire() {
    error_code ec;
    acquire(ec);
    if (ec) throw_error(ec, describe("semaphore::acquire", name_));
}

bool semaphore::try_acquire(error_code& ec) {
    ec = {};
    if (!sem_) {
        ec = make_error_code(errc::closed);
        return false;
    }
    while (sys().sem_trywait(sem_) != 0) {
        if (errno == EAGAIN) return false;
        if (errno == EINTR && on_signal_ == signal_policy::retry) continue;
        ec = errno_code();
        return false;
    }
    return true;
}

bool semaphore::try_acquire() {
    error_code ec;
    const bool acquired = try_acquire(ec);
    if (ec) throw_error(ec, describe("semaphore::try_acquire", name_));
    return acquired;
}

namespace {
bool clock_wait(::sem_t* sem, ::clockid_t clock, const ::timespec& abs, signal_policy on_signal,
                error_code& ec) {
    // An absolute deadline makes retrying after EINTR wait exactly the remaining time.
    while (sys().sem_clockwait(sem, clock, &abs) != 0) {
        if (errno == ETIMEDOUT) return false;
        if (errno == EINTR && on_signal == signal_policy::retry) continue;
        ec = errno_code();
        return false;
    }
    return true;
}
} // namespace

bool semaphore::wait_until(const detail::deadline& dl, error_code& ec) {
    if (dl.infinite) {
        acquire(ec);
        return !ec;
    }
    if (!sem_) {
        ec = make_error_code(errc::closed);
        return false;
    }
    // A past deadline still takes a free unit (glibc tries before it sleeps); only a deadline
    // before the clock's epoch is clamped, since sem_clockwait fails those without trying.
    if (spins()) { // as in acquire
        const auto poll = [&] { return poll_semaphore(sem_, ec); };
        if ((wait_.current_budget().count() > 0 && poll()) || wait_.spin_until(poll, dl.when))
            return !ec;
    }
    const auto since_epoch = std::max(dl.when.time_since_epoch(), std::chrono::nanoseconds(0));
    // libstdc++'s steady_clock is CLOCK_MONOTONIC, so its epoch is the kernel's.
    return clock_wait(sem_, CLOCK_MONOTONIC, detail::to_timespec(since_epoch), on_signal_, ec);
}

void semaphore::release(std::ptrdiff_t n, error_code& ec) {
    ec = {};
    if (!sem_) {
        ec = make_error_code(errc::closed);
        return;
    }
    if (n < 0) {
        ec = make_error_code(errc::invalid_release_count);
        return;
    }
    if (n == 0) return;
    if (n > 1) { // one post can only overflow by failing; several must not half-succeed
        int current = 0;
        if (sys().sem_getvalue(sem_, &current) != 0) {
            ec = errno_code();
            return;
        }
        if (static_cast<long>(n) > semaphore_value_max() - static_cast<long>(current)) {
            ec = make_error_code(errc::invalid_release_count);
            return;
        }
    }
    for (std::ptrdiff_t i = 0; i < n; ++i) {
        if (sys().sem_post(sem_) != 0) {
            ec = errno_code();
            return;
        }
    }
}

void semaphore::release(std::ptrdiff_t n) {
    error_code ec;
    release(n, ec);
    if (ec) throw_error(ec, describe("semaphore::release", name_));
}

int semaphore::value(error_code& ec) const {
    ec = {};
    if (!sem_) {
        ec = make_error_code(errc::closed);
        return 0;
    }
    int v = 0;
    if (sys().sem_getvalue(sem_, &v) != 0) ec = errno_code();
    return v;
}

int semaphore::value() const {
    error_code ec;
    const int v = value(ec);
    if (ec) throw_error(ec, describe("semaphore::value", name_));
    return v;
}

void semaphore::close(error_code& ec) {
    ec = {};
    if (!sem_) return;
    ::sem_t* s = std::exchange(sem_, nullptr);
    if (sys().munmap(s, sizeof(::sem_t)) != 0) ec = errno_code();
    detail::log_debug("semaphore closed \"{}\"", name_);
}

void semaphore::close() {
    error_code ec;
    close(ec);
    if (ec) throw_error(ec, describe("semaphore::close", name_));
}

void semaphore::unlink(std::string_view name, error_code& ec) {
    ec = detail::unlink_name(object_kind::semaphore, name, sys().sem_unlink);
}

void semaphore::unlink(std::string_view name) {
    error_code ec;
    unlink(name, ec);
    if (ec) throw_error(ec, describe("semaphore::unlink", name));
}

void semaphore::unlink(error_code& ec) {
    if (name_.empty()) {
        ec = make_error_code(errc::closed);
        return;
    }
    unlink(std::string_view(name_), ec);
}

void semaphore::unlink() {
    error_code ec;
    unlink(ec);
    if (ec) throw_error(ec, describe("semaphore::unlink", name_));
}

bool semaphore_intact(std::string_view name, error_code& ec) {
    ec = validate_name(object_kind::semaphore, name);
    if (ec) return false;
    struct ::stat st {};
    if (sys().fstatat(AT_FDCWD, semaphore_path(name).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        ec = errno_code();
        return false;
    }
    return S_ISREG(st.st_mode) && st.st_size >= static_cast<::off_t>(sizeof(::sem_t));
}

bool semaphore_intact(std::string_view name) {
    error_code ec;
    const bool intact = semaphore_intact(name, ec);
    if (ec) throw_error(ec, describe("semaphore_intact", name));
    return intact;
}

void unlink_semaphore(std::string_view name) {
    semaphore::unlink(name);
}
void unlink_semaphore(std::string_view name, error_code& ec) {
    semaphore::unlink(name, ec);
}

} // namespace pipc
