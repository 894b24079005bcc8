// SPDX-License-Identifier: BSL-1.0
// src/common.hpp - helpers shared by the three object kinds. Internal.
#pragma once

#include <pipc/error.hpp>
#include <pipc/name.hpp>
#include <pipc/open_mode.hpp>

#include <sys/types.h>
#include <time.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <string_view>

namespace pipc::detail {

inline error_code errno_code(int e = errno) noexcept {
    return {e, boost::system::system_category()};
}

inline error_code check_permissions(::mode_t permissions) noexcept {
    return (permissions & ~static_cast<::mode_t>(07777)) != 0
               ? make_error_code(errc::invalid_permissions)
               : error_code{};
}

inline error_code check_open_mode(open_mode m) noexcept {
    switch (m) {
    case open_mode::open_existing:
    case open_mode::open_or_create:
    case open_mode::create_exclusive:
        return {};
    }
    return make_error_code(errc::invalid_open_mode);
}

inline ::timespec to_timespec(std::chrono::nanoseconds since_epoch) noexcept {
    const auto secs = std::chrono::floor<std::chrono::seconds>(since_epoch);
    return {static_cast<::time_t>(secs.count()), static_cast<long>((since_epoch - secs).count())};
}

/// CLOCK_REALTIME now + d, for the kernel calls that only take realtime deadlines.
inline ::timespec realtime_after(std::chrono::nanoseconds d) noexcept {
    ::timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    return to_timespec(std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec) +
                       d);
}

/// Runs `attempt(bool exclusive_create) -> error_code` as `mode` asks. For open_or_create it
/// alternates "create exclusively" and "open existing" so that it learns which one happened and
/// survives races with other processes creating or unlinking the same name.
/// @returns true when the object was created.
template <class Attempt>
bool open_by_mode(open_mode mode, Attempt&& attempt, error_code& ec) {
    switch (mode) {
    case open_mode::open_existing:
        ec = attempt(false);
        return false;
    case open_mode::create_exclusive:
        ec = attempt(true);
        return !ec;
    case open_mode::open_or_create:
        for (int round = 0; round < 16; ++round) {
            ec = attempt(true);
            if (!ec) return true;
            if (ec != boost::system::errc::file_exists) return false;
            ec = attempt(false);
            if (!ec) return false;
            if (ec != boost::system::errc::no_such_file_or_directory) return false;
        }
        return false;
    }
    ec = make_error_code(errc::invalid_open_mode);
    return false;
}

/// generate_name() without exceptions.
std::string generate_name(error_code& ec);

/// Creates an object under fresh generated names until `attempt(name) -> error_code` stops
/// reporting EEXIST (16 tries at most). @returns the name used.
template <class Attempt>
std::string open_unique(Attempt&& attempt, error_code& ec) {
    for (int round = 0; round < 16; ++round) {
        std::string name = generate_name(ec);
        if (ec) return {};
        ec = attempt(name);
        if (ec != boost::system::errc::file_exists) return name;
    }
    ec = make_error_code(errc::name_generation_failed);
    return {};
}

/// Validates `name` for `kind`, then removes it with `unlink_call` (mq_unlink, sem_unlink or
/// shm_unlink). Validation comes first because glibc reports unbuildable names as ENOENT.
error_code unlink_name(object_kind kind, std::string_view name, int (*unlink_call)(const char*));

inline std::string describe(std::string_view operation, std::string_view name) {
    std::string s(operation);
    s += " \"";
    s += name;
    s += '"';
    return s;
}

} // namespace pipc::detail
