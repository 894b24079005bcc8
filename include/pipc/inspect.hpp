// SPDX-License-Identifier: BSL-1.0
// pipc/inspect.hpp - read-only looks at robust mutexes and channels, for tools and monitoring.
#pragma once

#include <pipc/channel.hpp>
#include <pipc/error.hpp>
#include <pipc/export.hpp>

#include <sys/types.h>

#include <cstdint>
#include <string_view>
#include <vector>

namespace pipc {

/// What inspect_robust_mutex() found in a robust mutex's lock word.
enum class robust_mutex_status {
    free,           ///< Nobody holds it.
    held,           ///< A live thread holds it (robust_mutex_state::owner_tid).
    owner_dead,     ///< Its owner died holding it; the next lock reports owner_dead.
    recovering,     ///< Held by a thread that took it from a dead owner and has not yet
                    ///< called consistent().
    not_recoverable ///< Unlocked while inconsistent: every lock fails until it is recreated.
};

/// A snapshot of a robust mutex, as inspect_robust_mutex() reads it.
struct robust_mutex_state {
    robust_mutex_status status = robust_mutex_status::free; ///< What the lock word says.
    /// The owning thread's id (in the PID namespace of the process that locked it) while held
    /// or recovering; 0 otherwise.
    ::pid_t owner_tid = 0;
    /// The process that thread belongs to (from /proc/TID/status), 0 when it cannot be told
    /// (no /proc, another PID namespace, or a thread that is gone).
    ::pid_t owner_pid = 0;
    /// True when the lock word names a thread that no longer exists (its process is gone but
    /// the kernel could not mark the mutex owner-dead, e.g. its mapping was removed).
    bool owner_gone = false;
    /// True when some thread sleeps waiting for it (the futex waiters bit).
    bool waiters = false;
};

/// @{
/// Reads the state of the robust mutex `name` (its object "/pipc-robust-mutex.x") without
/// changing it and without ever blocking: the object is opened read-only and mapped read-only,
/// and the lock word is read with one atomic load. Needs read permission on the object only.
/// Errors: the name's validation errors, ENOENT (condition::existential), EACCES
/// (condition::permissions), errc::not_a_robust_mutex for an object without a valid header.
/// The state is glibc's (NPTL) lock word layout; the answer is a snapshot and may be stale.
/// @throws pipc::error (the `ec` form sets `ec` instead).
PIPC_API robust_mutex_state inspect_robust_mutex(std::string_view name);
PIPC_API robust_mutex_state inspect_robust_mutex(std::string_view name, error_code& ec);
/// @}

/// A slot claimed by a producer that died before publishing it (the consumer will skip it).
struct channel_dead_claim {
    std::uint64_t position = 0; ///< The slot's position in the stream.
    ::pid_t pid = 0;            ///< The dead producer.
};

/// A snapshot of a channel's header, as inspect_channel() reads it.
struct channel_info {
    std::uint32_t slot_count = 0;           ///< Number of slots.
    std::uint32_t max_message_size = 0;     ///< Largest message in bytes.
    channel_mode mode = channel_mode::spsc; ///< Producer mode.
    std::uint64_t size = 0;                 ///< Size of the shared-memory object in bytes.
    std::uint64_t head = 0;                 ///< Oldest position not yet released by the consumer.
    std::uint64_t tail = 0;                 ///< Next position a producer will claim.
    std::uint64_t fill = 0;                 ///< Slots claimed and not yet released (tail - head).
    std::uint64_t ready = 0;     ///< Of those, published messages at the front, ready to receive.
    std::uint64_t abandoned = 0; ///< Slots skipped so far because their producer died.
    /// The process holding the consumer role, 0 when none.
    ::pid_t consumer_pid = 0;
    /// True when consumer_pid names a process that is gone (a zombie counts as gone): messages
    /// it had received but not released are delivered again to the next consumer.
    bool consumer_dead = false;
    /// Claimed, unpublished slots whose producer is gone.
    std::vector<channel_dead_claim> dead_claims;
};

/// @{
/// Reads the geometry and fill level of the channel `name` without changing it and without
/// blocking: the object is opened read-only and mapped read-only. Needs read permission only.
/// Errors: the name's validation errors, ENOENT (condition::existential), EACCES
/// (condition::permissions), errc::not_a_channel (no channel header, or a damaged one),
/// errc::channel_version_mismatch (a channel of another protocol version).
/// @throws pipc::error (the `ec` form sets `ec` instead).
PIPC_API channel_info inspect_channel(std::string_view name);
PIPC_API channel_info inspect_channel(std::string_view name, error_code& ec);
/// @}

} // namespace pipc
