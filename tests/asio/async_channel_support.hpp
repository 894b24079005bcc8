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
/// object lives: a ring is an mq_timedsend (every mq_timedsend of these tests rings a doorbell),
/// the drain of a woken bell an mq_timedreceive.
inline std::atomic<int> g_rings{0};
inline std::atomic<int> g_drains{0};
struct counting_bells {
    pipc_test::fault_scope faults;
    counting_bells() {
        g_rings = 0;
        g_drains = 0;
        faults.table().mq_timedsend = [](::mqd_t q, const char* b, std::size_t n, unsigned p,
                                         const ::timespec* to) {
            ++g_rings;
            return pipc::detail::real_sys().mq_timedsend(q, b, n, p, to);
        };
        faults.table().mq_timedreceive = [](::mqd_t q, char* b, std::size_t n, unsigned* p,
                                            const ::timespec* to) {
            ++g_drains;
            return pipc::detail::real_sys().mq_timedreceive(q, b, n, p, to);
        };
    }
};
/// Rings and drains together.
inline int bell_calls() {
    return g_rings + g_drains;
}

} // namespace channel_test
