// SPDX-License-Identifier: BSL-1.0
// pipc/detail/channel_async.hpp - the doorbell hooks of pipc::channel that basic_async_channel
// waits with. Internal: the protocol is described in docs/channel.md ("Asio").
#pragma once

#include <pipc/channel.hpp>
#include <pipc/error.hpp>
#include <pipc/export.hpp>

#include <cstdint>

namespace pipc::detail {

struct PIPC_API channel_async_access {
    /// Opens (creating it if needed: a FIFO next to the channel's shared-memory object, with the
    /// channel's permissions) the doorbell `b` of `ch` for waiting and ringing. @return a new
    /// non-blocking, pollable descriptor the caller owns, or -1 with `ec`.
    static int open_bell(channel& ch, channel_bell b, error_code& ec);
    /// Announces a waiter on bell `b` (data: the consumer flag; room: one more waiting handle),
    /// then a seq_cst fence: the caller re-checks the ring afterwards.
    static void announce(channel& ch, channel_bell b) noexcept;
    /// Undoes announce().
    static void withdraw(channel& ch, channel_bell b) noexcept;
    /// Handles waiting for the room bell, this one included.
    static std::uint32_t room_waiters(const channel& ch) noexcept;
    /// Rings bell `b` (passes a wake-up on to other waiting handles).
    static void ring(channel& ch, channel_bell b) noexcept;
    /// Empties a bell descriptor from open_bell (every byte: rings add up); then a seq_cst
    /// fence. @return true if it rang.
    static bool drain(int fd) noexcept;
    /// True when the data bell of `ch` was last rung from a CPU other than the caller's (the
    /// header's hint written before each ring; see docs/channel.md). No system call.
    static bool rung_from_other_cpu(const channel& ch) noexcept;
    /// True when a receive try on `ch` is worth making: the consumer's next slot is published
    /// (a message, or a cancelled loan the receive skips), or the try has something else to
    /// do or report (the handle is closed, is not the consumer yet, or holds a view). What an
    /// asynchronous receive looks at before each try, its first one included. No system call,
    /// and nothing but the consumer's own line and the slot: a failed try also reads the
    /// producers' line (`tail`, to see a slot being written), which then has to travel back
    /// to the producer's CPU before its next claim, on the path of every round trip; and it
    /// checks a writer's liveness in /proc, far too slow for every poll of a spin.
    static bool receive_worth_trying(const channel& ch) noexcept;
    /// True while a claimed slot is not yet published (the consumer rechecks such a slot now
    /// and then, to skip it if its producer died).
    static bool write_in_progress(const channel& ch) noexcept;
};

} // namespace pipc::detail
