// SPDX-License-Identifier: BSL-1.0
// pipc/limits.hpp - the system's IPC limits, read at run time rather than frozen at build time.
#pragma once

#include <pipc/export.hpp>

#include <cstdint>
#include <optional>

namespace pipc {

/// /proc/sys/fs/mqueue of the caller's IPC namespace. A value that cannot be read is nullopt.
struct mqueue_limits {
    std::optional<long> msg_max;         ///< Upper bound for max_messages (unprivileged).
    std::optional<long> msg_default;     ///< max_messages when a queue is created without one.
    std::optional<long> msgsize_max;     ///< Upper bound for max_message_size (unprivileged).
    std::optional<long> msgsize_default; ///< max_message_size when created without one.
    std::optional<long> queues_max;      ///< Queues the namespace may hold.
};

/// RLIMIT_MSGQUEUE: bytes of queue storage the real user may have allocated (ulimit -q).
struct rlimit_value {
    std::uint64_t soft = 0;      ///< The soft limit in bytes (meaningless when soft_unlimited).
    std::uint64_t hard = 0;      ///< The hard limit in bytes (meaningless when hard_unlimited).
    bool soft_unlimited = false; ///< RLIM_INFINITY.
    bool hard_unlimited = false; ///< RLIM_INFINITY.
};

PIPC_API long page_size() noexcept; ///< sysconf(_SC_PAGESIZE).
PIPC_API long
semaphore_value_max() noexcept; ///< sysconf(_SC_SEM_VALUE_MAX), SEM_VALUE_MAX if unknown.
PIPC_API long
message_priority_max() noexcept; ///< sysconf(_SC_MQ_PRIO_MAX): priorities are 0..this-1.
PIPC_API mqueue_limits read_mqueue_limits(); ///< Reads /proc/sys/fs/mqueue/* afresh on every call.
PIPC_API rlimit_value read_rlimit_msgqueue() noexcept; ///< getrlimit(RLIMIT_MSGQUEUE) afresh.

/// Kernel hard caps (mq_overview(7), Linux >= 3.5); pipc rejects larger values before the call.
inline constexpr long hard_msg_max = 65536;                 ///< Largest msg_max the kernel allows.
inline constexpr long hard_msgsize_max = 16L * 1024 * 1024; ///< Largest msgsize_max, bytes.

} // namespace pipc
