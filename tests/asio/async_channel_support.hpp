// SPDX-License-Identifier: BSL-1.0
// tests/asio/async_channel_support.hpp - what the async channel tests share.
#pragma once

#include <pipc/channel.hpp>

#include <pipc_test/asio_run.hpp>
#include <pipc_test/fault.hpp>
#include <pipc_test/support.hpp>

#include <atomic>
#include <string>
#include <string_view>

namespace channel_test {

/// A unique channel name, removed (with its doorbells) on entry and exit.
struct channel_name {
    std::string name;
    explicit channel_name(const char* tag = "ach") : name(pipc_test::unique_name(tag)) { remove(); }
    ~channel_name() { remove(); }
    channel_name(const channel_name&) = delete;
    channel_name& operator=(const channel_name&) = delete;
    void remove() const {
        pipc::error_code ignored;
        pipc::unlink_channel(name, ignored);
    }
    operator std::string_view() const { return name; } // NOLINT: used as a name
};

/// Doorbell system calls of the tests' own process, counted through the syscall layer while an
/// object lives: a ring is a write, the drain of a woken bell a read (the library reads and
/// writes nothing else).
inline std::atomic<int> g_rings{0};
inline std::atomic<int> g_drains{0};
struct counting_bells {
    pipc_test::fault_scope faults;
    counting_bells() {
        g_rings = 0;
        g_drains = 0;
        // The doorbells are the library's only reads and writes.
        faults.table().write = [](int fd, const void* b, std::size_t n) {
            ++g_rings;
            return pipc::detail::real_sys().write(fd, b, n);
        };
        faults.table().read = [](int fd, void* b, std::size_t n) {
            ++g_drains;
            return pipc::detail::real_sys().read(fd, b, n);
        };
    }
};
/// Rings and drains together.
inline int bell_calls() {
    return g_rings + g_drains;
}

} // namespace channel_test
