// SPDX-License-Identifier: BSL-1.0
#include <pipc/name.hpp>

#include "common.hpp"
#include "log_internal.hpp"
#include "sys.hpp"

#include <cerrno>
#include <cstdint>

namespace pipc {

std::size_t max_name_length(object_kind kind) noexcept {
    // NAME_MAX is 255; glibc stores a semaphore as /dev/shm/sem.NAME, so "sem." costs 4 bytes.
    return kind == object_kind::semaphore ? 251 : 255;
}

error_code validate_name(object_kind kind, std::string_view name) noexcept {
    if (name.size() < 2 || name.front() != '/') return make_error_code(errc::invalid_name);
    const std::string_view rest = name.substr(1);
    if (rest == "." || rest == "..") return make_error_code(errc::invalid_name);
    for (const char c : rest)
        if (c == '/' || c == '\0') return make_error_code(errc::invalid_name);
    // A shared-memory name "sem.X" would open semaphore X's backing file in /dev/shm.
    if (kind == object_kind::shared_memory && rest.starts_with("sem."))
        return make_error_code(errc::invalid_name);
    if (rest.size() > max_name_length(kind)) return make_error_code(errc::name_too_long);
    return {};
}

namespace detail {
std::string generate_name(error_code& ec) {
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char random[13]; // 104 bits, of which 20 * 5 = 100 are used
    std::size_t filled = 0;
    while (filled < sizeof random) {
        const auto n = detail::sys().getrandom(random + filled, sizeof random - filled, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            ec = errno_code();
            return {};
        }
        filled += static_cast<std::size_t>(n);
    }
    std::string name = "/pipc-";
    std::uint32_t acc = 0;
    int bits = 0;
    std::size_t next = 0;
    while (name.size() < 6 + 20) {
        if (bits < 5) {
            acc = (acc << 8) | random[next++];
            bits += 8;
        }
        bits -= 5;
        name += alphabet[(acc >> bits) & 31U];
    }
    ec = {};
    return name;
}

error_code unlink_name(object_kind kind, std::string_view name, int (*unlink_call)(const char*)) {
    if (auto ec = validate_name(kind, name)) return ec;
    const std::string owned(name);
    if (unlink_call(owned.c_str()) != 0) return errno_code();
    static constexpr const char* kind_names[] = {"semaphore", "shared memory", "message queue"};
    log_debug("{} unlinked \"{}\"", kind_names[static_cast<int>(kind)], owned);
    return {};
}

} // namespace detail

std::string generate_name() {
    error_code ec;
    std::string name = detail::generate_name(ec);
    if (ec) throw_error(ec, "generate_name: getrandom");
    return name;
}

} // namespace pipc
