#include <pipc/limits.hpp>
#include <pipc/semaphore.hpp>

#include "common.hpp"
#include "log_internal.hpp"
#include "sys.hpp"

#include <fcntl.h>

#include <algorithm>
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
      permissions_(other.permissions_), created_(other.created_), on_signal_(other.on_signal_) {}

semaphore& semaphore::operator=(semaphore&& other) noexcept {
    if (this != &other) {
        error_code ignored;
        close(ignored);
        sem_ = std::exchange(other.sem_, nullptr);
        name_ = std::move(other.name_);
        permissions_ = other.permissions_;
        created_ = other.created_;
        on_signal_ = other.on_signal_;
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

// sem_open applies the umask; a created semaphore gets exactly the requested mode through its
// backing file (glibc keeps named semaphores at /dev/shm/sem.NAME).
error_code fix_semaphore_mode(const std::string& name, ::mode_t permissions) {
    const std::string path = "/dev/shm/sem." + name.substr(1);
    if (sys().chmod(path.c_str(), permissions) != 0) return errno_code();
    return {};
}

} // namespace

void semaphore::open(std::string_view name, const options& opts, error_code& ec) {
    ec = validate_name(object_kind::semaphore, name);
    if (!ec) ec = check_semaphore_options(opts);
    if (ec) return;
    const std::string owned(name);
    ::sem_t* opened = nullptr;
    const bool created = detail::open_by_mode(
        opts.open,
        [&](bool create) -> error_code {
            opened = create ? sys().sem_open(owned.c_str(), O_CREAT | O_EXCL, opts.permissions,
                                             opts.initial_value)
                            : sys().sem_open(owned.c_str(), 0, 0, 0);
            return opened == SEM_FAILED ? errno_code() : error_code{};
        },
        ec);
    if (ec) return;
    if (created) {
        if (auto chmod_ec = fix_semaphore_mode(owned, opts.permissions)) {
            sys().sem_close(opened);
            sys().sem_unlink(owned.c_str());
            ec = chmod_ec;
            return;
        }
    }
    close(ec); // a handle reopened in place lets go of its previous semaphore
    ec = {};
    sem_ = opened;
    name_ = owned;
    permissions_ = opts.permissions;
    created_ = created;
    on_signal_ = opts.on_signal;
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

void semaphore::acquire(error_code& ec) {
    ec = {};
    if (!sem_) {
        ec = make_error_code(errc::closed);
        return;
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
    if (sys().sem_close(s) != 0) ec = errno_code();
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

void unlink_semaphore(std::string_view name) {
    semaphore::unlink(name);
}
void unlink_semaphore(std::string_view name, error_code& ec) {
    semaphore::unlink(name, ec);
}

} // namespace pipc
