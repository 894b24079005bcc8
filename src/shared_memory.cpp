// SPDX-License-Identifier: BSL-1.0
#include <pipc/limits.hpp>
#include <pipc/shared_memory.hpp>

#include "common.hpp"
#include "log_internal.hpp"
#include "sys.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <limits>
#include <utility>

namespace pipc {

using detail::describe;
using detail::errno_code;
using detail::sys;

namespace {
constexpr std::uint64_t off_t_max = static_cast<std::uint64_t>(std::numeric_limits<::off_t>::max());

// Reserves [0, size) so that a full /dev/shm is reported now instead of as SIGBUS on first touch.
error_code reserve(int fd, std::uint64_t size) {
    const int rc = sys().posix_fallocate(fd, 0, static_cast<::off_t>(size));
    if (rc == 0) return {};
    if (rc == ENOSPC) return make_error_code(errc::no_space);
    return errno_code(rc);
}

// O_TRUNC with a size, made failure-atomic: the segment ends as `size` zero bytes, or, when that
// does not fit, keeps its data and size. The space is reserved first (the step that can really
// fail); zeroing the old bytes in place and shrinking need no new space.
error_code truncate_existing(int fd, std::uint64_t size) {
    if (size == 0) // one call: it happens or it does not
        return sys().ftruncate(fd, 0) == 0 ? error_code{} : errno_code();
    struct ::stat st {};
    if (sys().fstat(fd, &st) != 0) return errno_code();
    const auto old_size = static_cast<std::uint64_t>(st.st_size);
    if (auto ec = reserve(fd, size)) {
        // posix_fallocate may have grown the file part way before failing (glibc's fallback
        // for file systems without fallocate does); the old size is what the caller had.
        struct ::stat now {};
        if (sys().fstat(fd, &now) == 0 && static_cast<std::uint64_t>(now.st_size) != old_size)
            sys().ftruncate(fd, static_cast<::off_t>(old_size));
        return ec;
    }
    static constexpr std::array<char, 65536> zeros{};
    const std::uint64_t dirty = std::min(old_size, size);
    for (std::uint64_t done = 0; done < dirty;) {
        const auto chunk =
            static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), dirty - done));
        const auto n = sys().pwrite(fd, zeros.data(), chunk, static_cast<::off_t>(done));
        if (n < 0) {
            if (errno == EINTR) continue;
            const auto ec = errno_code();
            // Before the first byte is cleared the old size still makes it as if nothing
            // happened; later, the cleared part stays cleared (docs/failure-atomicity.md).
            if (size > old_size) sys().ftruncate(fd, static_cast<::off_t>(old_size));
            return ec;
        }
        done += static_cast<std::uint64_t>(n);
    }
    if (old_size > size && sys().ftruncate(fd, static_cast<::off_t>(size)) != 0)
        return errno_code();
    return {};
}

error_code check_shm_options(const shared_memory::options& opts) {
    if (auto ec = detail::check_open_mode(opts.open)) return ec;
    if (auto ec = detail::check_permissions(opts.permissions)) return ec;
    if (opts.size > off_t_max) return make_error_code(errc::invalid_size);
    if (opts.read_only && opts.size != 0 && opts.open != open_mode::open_existing)
        return make_error_code(errc::invalid_size);
    if (opts.read_only && opts.truncate) return make_error_code(errc::truncate_needs_write);
    return {};
}
} // namespace

shared_memory::shared_memory(std::string_view name, const options& opts) {
    open(name, opts);
}
shared_memory::shared_memory(unique_name_t, const options& opts) {
    open(unique_name, opts);
}

shared_memory::shared_memory(shared_memory&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), name_(std::move(other.name_)),
      permissions_(other.permissions_), created_(other.created_), read_only_(other.read_only_) {}

shared_memory& shared_memory::operator=(shared_memory&& other) noexcept {
    if (this != &other) {
        error_code ignored;
        close(ignored);
        fd_ = std::exchange(other.fd_, -1);
        name_ = std::move(other.name_);
        permissions_ = other.permissions_;
        created_ = other.created_;
        read_only_ = other.read_only_;
    }
    return *this;
}

shared_memory::~shared_memory() {
    error_code ignored;
    close(ignored);
}

void shared_memory::open(std::string_view name, const options& opts, error_code& ec) {
    ec = validate_name(object_kind::shared_memory, name);
    if (!ec) ec = check_shm_options(opts);
    if (ec) return;
    const std::string owned(name);
    // No O_TRUNC: it would empty the segment before pipc knows whether the new size fits.
    // O_NONBLOCK: a read-only open of a FIFO under the name (a channel's doorbell, say) would
    // block until some process opened it for writing; on a regular file it does nothing.
    const int access_flags = opts.read_only ? O_RDONLY | O_NONBLOCK : O_RDWR;
    int fd = -1;
    const bool created = detail::open_by_mode(
        opts.open,
        [&](bool create) -> error_code {
            fd = sys().shm_open(owned.c_str(), access_flags | (create ? O_CREAT | O_EXCL : 0),
                                opts.permissions);
            return fd < 0 ? errno_code() : error_code{};
        },
        ec);
    if (ec) return;
    if (created) {
        // shm_open applied the umask; the requested mode is what the segment gets.
        error_code setup_ec;
        if (sys().fchmod(fd, opts.permissions) != 0) setup_ec = errno_code();
        if (!setup_ec && opts.size > 0) setup_ec = reserve(fd, opts.size);
        if (setup_ec) { // leave nothing behind: the half-made segment was ours
            sys().close(fd);
            sys().shm_unlink(owned.c_str());
            ec = setup_ec;
            return;
        }
    }
    if (!created && opts.truncate) {
        if (auto trunc_ec = truncate_existing(fd, opts.size)) {
            sys().close(fd);
            ec = trunc_ec;
            return;
        }
    }
    close(ec);
    ec = {};
    fd_ = fd;
    name_ = owned;
    permissions_ = opts.permissions;
    created_ = created;
    read_only_ = opts.read_only;
    detail::log_debug("shared memory {} \"{}\"", created ? "created" : "opened", name_);
}

void shared_memory::open(std::string_view name, const options& opts) {
    error_code ec;
    open(name, opts, ec);
    if (ec) throw_error(ec, describe("shared_memory::open", name));
}

void shared_memory::open(unique_name_t, const options& opts, error_code& ec) {
    ec = check_shm_options(opts);
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

void shared_memory::open(unique_name_t, const options& opts) {
    error_code ec;
    open(unique_name, opts, ec);
    if (ec) throw_error(ec, "shared_memory::open (generated name)");
}

std::uint64_t shared_memory::size(error_code& ec) const {
    ec = {};
    if (fd_ < 0) {
        ec = make_error_code(errc::closed);
        return 0;
    }
    struct ::stat st {};
    if (sys().fstat(fd_, &st) != 0) {
        ec = errno_code();
        return 0;
    }
    return static_cast<std::uint64_t>(st.st_size);
}

std::uint64_t shared_memory::size() const {
    error_code ec;
    const auto s = size(ec);
    if (ec) throw_error(ec, describe("shared_memory::size", name_));
    return s;
}

void shared_memory::resize(std::uint64_t new_size, error_code& ec) {
    const std::uint64_t old_size = size(ec);
    if (ec) return;
    if (read_only_) {
        ec = make_error_code(errc::read_only);
        return;
    }
    if (new_size > off_t_max) {
        ec = make_error_code(errc::invalid_size);
        return;
    }
    if (new_size > old_size) {
        ec = reserve(fd_, new_size);
        if (ec) sys().ftruncate(fd_, static_cast<::off_t>(old_size)); // undo any partial growth
        return;
    }
    if (new_size < old_size && sys().ftruncate(fd_, static_cast<::off_t>(new_size)) != 0)
        ec = errno_code();
}

void shared_memory::resize(std::uint64_t new_size) {
    error_code ec;
    resize(new_size, ec);
    if (ec) throw_error(ec, describe("shared_memory::resize", name_));
}

shared_memory::raw_mapping shared_memory::map_raw(std::uint64_t offset, std::uint64_t length,
                                                  bool writable, error_code& ec) const {
    const std::uint64_t total = size(ec);
    if (ec) return {};
    if (writable && read_only_) {
        ec = make_error_code(errc::read_only);
        return {};
    }
    if (total == 0) {
        ec = make_error_code(errc::empty_segment);
        return {};
    }
    if (offset >= total) {
        ec = make_error_code(errc::mapping_out_of_range);
        return {};
    }
    if (length == whole) length = total - offset;
    if (length == 0 || length > total - offset ||
        length > std::numeric_limits<std::size_t>::max() / 2) {
        ec = make_error_code(errc::mapping_out_of_range);
        return {};
    }
    const auto page = static_cast<std::uint64_t>(page_size());
    const std::uint64_t aligned = offset - offset % page;
    const auto lead = static_cast<std::size_t>(offset - aligned);
    const auto mapped_length = lead + static_cast<std::size_t>(length);
    void* base = sys().mmap(nullptr, mapped_length, writable ? PROT_READ | PROT_WRITE : PROT_READ,
                            MAP_SHARED, fd_, static_cast<::off_t>(aligned));
    if (base == MAP_FAILED) {
        ec = errno_code();
        return {};
    }
    return {base, mapped_length, lead, static_cast<std::size_t>(length)};
}

mapping shared_memory::map(std::uint64_t offset, std::uint64_t length, error_code& ec) const {
    const auto raw = map_raw(offset, length, true, ec);
    if (ec) return {};
    return mapping(raw.base, raw.mapped_length, raw.lead, raw.length, offset);
}

mapping shared_memory::map(std::uint64_t offset, std::uint64_t length) const {
    error_code ec;
    auto m = map(offset, length, ec);
    if (ec) throw_error(ec, describe("shared_memory::map", name_));
    return m;
}

const_mapping shared_memory::map_read_only(std::uint64_t offset, std::uint64_t length,
                                           error_code& ec) const {
    const auto raw = map_raw(offset, length, false, ec);
    if (ec) return {};
    return const_mapping(raw.base, raw.mapped_length, raw.lead, raw.length, offset);
}

const_mapping shared_memory::map_read_only(std::uint64_t offset, std::uint64_t length) const {
    error_code ec;
    auto m = map_read_only(offset, length, ec);
    if (ec) throw_error(ec, describe("shared_memory::map_read_only", name_));
    return m;
}

void shared_memory::close(error_code& ec) {
    ec = {};
    if (fd_ < 0) return;
    if (sys().close(std::exchange(fd_, -1)) != 0) ec = errno_code();
    detail::log_debug("shared memory closed \"{}\"", name_);
}

void shared_memory::close() {
    error_code ec;
    close(ec);
    if (ec) throw_error(ec, describe("shared_memory::close", name_));
}

void shared_memory::unlink(std::string_view name, error_code& ec) {
    ec = detail::unlink_name(object_kind::shared_memory, name, sys().shm_unlink);
}

void shared_memory::unlink(std::string_view name) {
    error_code ec;
    unlink(name, ec);
    if (ec) throw_error(ec, describe("shared_memory::unlink", name));
}

void shared_memory::unlink(error_code& ec) {
    if (name_.empty()) {
        ec = make_error_code(errc::closed);
        return;
    }
    unlink(std::string_view(name_), ec);
}

void shared_memory::unlink() {
    error_code ec;
    unlink(ec);
    if (ec) throw_error(ec, describe("shared_memory::unlink", name_));
}

void unlink_shared_memory(std::string_view name) {
    shared_memory::unlink(name);
}
void unlink_shared_memory(std::string_view name, error_code& ec) {
    shared_memory::unlink(name, ec);
}

} // namespace pipc
