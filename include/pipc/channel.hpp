// SPDX-License-Identifier: BSL-1.0
// pipc/channel.hpp - a named bounded ring of message slots in one shared-memory object.
#pragma once

#include <pipc/export.hpp>
#include <pipc/detail/deadline.hpp>
#include <pipc/error.hpp>
#include <pipc/open_mode.hpp>
#include <pipc/wait_strategy.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pipc {

/// Who may send on a channel. There is always one consumer.
enum class channel_mode : std::uint32_t {
    spsc = 1, ///< One producer at a time (the caller guarantees it): no atomic read-modify-write.
    mpsc = 2, ///< Any number of producers, in any processes and threads.
};

/// Options for channel::open.
struct channel_options {
    open_mode open = open_mode::open_existing;
    /// Mode bits of a created channel, applied exactly whatever the umask (fchmod after create).
    ::mode_t permissions = 0600;
    /// Number of slots: a power of two 2..65536. 0: 64 when creating; when opening an existing
    /// channel 0 accepts its count and anything else must match it (errc::slot_count_mismatch).
    std::uint32_t slot_count = 0;
    /// Largest message, 1..256 MiB. 0: 8192 when creating, the existing one's when opening;
    /// otherwise it must match (errc::message_size_mismatch).
    std::uint32_t max_message_size = 0;
    /// Producer mode. Unset: spsc when creating, the existing one's when opening; otherwise it
    /// must match (errc::channel_mode_mismatch).
    std::optional<channel_mode> mode{};
    /// How blocking calls wait before they sleep (per handle).
    wait_strategy wait{};
    signal_policy on_signal = signal_policy::retry;
};

class channel;

/// A slot loaned to a producer: write up to `buffer().size()` bytes in place, then publish(n).
///
/// The slot is already claimed in the ring: messages behind it wait until it is published. A loan
/// destroyed without publish() is published as an empty cancelled slot that consumers skip.
/// A process killed while holding a loan leaves the slot to the consumer, which skips it once it
/// sees the holder dead (counted in channel::abandoned()); its bytes are never delivered.
///
/// @par Lifetime
/// Must not outlive the channel handle it came from. Movable, not copyable.
class PIPC_API channel_loan {
public:
    channel_loan() noexcept = default;
    channel_loan(channel_loan&& o) noexcept;
    channel_loan& operator=(channel_loan&& o) noexcept;
    channel_loan(const channel_loan&) = delete;
    channel_loan& operator=(const channel_loan&) = delete;
    ~channel_loan();

    bool valid() const noexcept { return owner_ != nullptr; }
    /// The writable slot, channel::max_message_size() bytes, 16-byte aligned.
    std::span<std::byte> buffer() const noexcept { return {data_, capacity_}; }
    /// Makes the first `n` bytes visible to the consumer (a release store after the payload).
    /// On a closed handle: errc::closed.
    /// `n` above buffer().size(): errc::message_too_long, nothing published, loan still valid.
    void publish(std::size_t n);
    void publish(std::size_t n, error_code& ec);

private:
    friend class channel;
    channel_loan(channel* owner, std::uint64_t pos, std::byte* data, std::size_t cap) noexcept
        : owner_(owner), pos_(pos), data_(data), capacity_(cap) {}
    channel* owner_ = nullptr;
    std::uint64_t pos_ = 0;
    std::byte* data_ = nullptr;
    std::size_t capacity_ = 0;
};

/// A published message read in place. The slot stays taken until release() (or destruction);
/// the producers cannot reuse it until then.
///
/// A consumer killed while holding a view has not released it: the next consumer receives the
/// message again (see channel's crash semantics).
///
/// @par Lifetime
/// Must not outlive the channel handle it came from. Movable, not copyable.
class PIPC_API channel_view {
public:
    channel_view() noexcept = default;
    channel_view(channel_view&& o) noexcept;
    channel_view& operator=(channel_view&& o) noexcept;
    channel_view(const channel_view&) = delete;
    channel_view& operator=(const channel_view&) = delete;
    ~channel_view();

    bool valid() const noexcept { return owner_ != nullptr; }
    std::span<const std::byte> data() const noexcept { return {data_, size_}; }
    std::size_t size() const noexcept { return size_; }
    std::string_view text() const noexcept { return {reinterpret_cast<const char*>(data_), size_}; }
    /// Gives the slot back to the producers. Releasing twice does nothing.
    void release() noexcept;

private:
    friend class channel;
    channel_view(channel* owner, std::uint64_t pos, const std::byte* data, std::size_t n) noexcept
        : owner_(owner), pos_(pos), data_(data), size_(n) {}
    channel* owner_ = nullptr;
    std::uint64_t pos_ = 0;
    const std::byte* data_ = nullptr;
    std::size_t size_ = 0;
};

/// A named, bounded ring of message slots in one POSIX shared-memory object ("/name" is the
/// shm_open name), for one consumer and one (spsc) or many (mpsc) producers in any processes.
///
/// Messages come out in the order their slots were claimed (FIFO per producer; across producers
/// in the order they claimed). `send`/`receive` block until they can proceed, `try_*` never block,
/// `*_for`/`*_until` wait at most until a deadline on the monotonic clock. Copying calls copy in
/// and out; `loan()`/`receive_view()` work in place (zero-copy).
///
/// A side that has to sleep first spins as its wait_strategy allows, then announces itself in a
/// flag of the shared header and sleeps on a shared futex word; the other side makes the wake-up
/// system call only when the flag says someone sleeps, so a busy stream makes no system calls.
///
/// Creation is atomic: the object is built unnamed (O_TMPFILE in /dev/shm) and linked under its
/// name only when complete, so an opener never sees a half-initialised channel and a creator
/// killed midway leaves nothing behind. Opening checks magic, protocol version and geometry.
///
/// @par Crash semantics
/// A message becomes visible only when its slot's sequence number is published (release store)
/// after the payload: a producer killed mid-write never exposes a partial message. The consumer
/// skips such a claimed-but-unpublished slot once the claiming process is gone (counted in
/// abandoned()). The consumer's position advances only when a slot is released, so messages a
/// killed consumer had received but not released are delivered again to the next consumer, which
/// learns of it through took_over(): at-least-once for those, exactly-once for the rest.
///
/// @par Thread safety
/// Handles are per process: after fork(), open a new handle in the child. One consumer: receives
/// on one channel must not overlap (a second process trying is told errc::consumer_busy while the
/// first lives). In spsc mode the caller guarantees one producer at a time; in mpsc mode sends
/// from any threads and processes may overlap. `open`, `close` and moves may not overlap with
/// anything else on the same handle.
class PIPC_API channel {
public:
    using options = channel_options;

    /// The protocol version written into the header and checked on open.
    static constexpr std::uint32_t protocol_version = 1;
    static constexpr std::uint32_t max_slot_count = 65536;
    static constexpr std::uint32_t max_message_size_limit = 256U * 1024 * 1024;

    channel() noexcept = default;
    explicit channel(std::string_view name, const options& opts = {});
    channel(channel&& other) noexcept;
    channel& operator=(channel&& other) noexcept;
    channel(const channel&) = delete;
    channel& operator=(const channel&) = delete;
    ~channel();

    void open(std::string_view name, const options& opts);
    void open(std::string_view name, const options& opts, error_code& ec);

    bool is_open() const noexcept { return base_ != nullptr; }
    const std::string& name() const noexcept { return name_; }
    bool created() const noexcept { return created_; }
    ::mode_t permissions() const noexcept { return permissions_; }
    std::uint32_t slot_count() const noexcept { return slot_count_; }
    std::uint32_t max_message_size() const noexcept { return max_message_size_; }
    channel_mode mode() const noexcept { return mode_; }
    wait_strategy& strategy() noexcept { return wait_; }
    /// Messages published or being written and not yet released: a snapshot (0 when closed).
    std::uint64_t fill() const noexcept;
    /// Slots skipped because the producer that claimed them died before publishing.
    std::uint64_t abandoned() const noexcept;
    /// True when this handle became the consumer after a consumer process died: the first
    /// messages it receives may have been received (not released) by that process before.
    bool took_over() const noexcept { return took_over_; }

    // --- send ------------------------------------------------------------------------------
    /// Copies `msg` into the next slot, waiting while the ring is full. Longer than
    /// max_message_size(): errc::message_too_long, nothing sent.
    void send(std::span<const std::byte> msg);
    void send(std::span<const std::byte> msg, error_code& ec);
    void send(std::string_view msg);
    void send(std::string_view msg, error_code& ec);
    /// Sends only if a slot is free now; false when the ring is full.
    bool try_send(std::span<const std::byte> msg);
    bool try_send(std::span<const std::byte> msg, error_code& ec);
    template <class Rep, class Period>
    bool send_for(std::span<const std::byte> msg, std::chrono::duration<Rep, Period> d,
                  error_code& ec) {
        const auto dl = detail::deadline_after(d, ec);
        return !ec && send_until_deadline(msg, dl, ec);
    }
    template <class Rep, class Period>
    bool send_for(std::span<const std::byte> msg, std::chrono::duration<Rep, Period> d) {
        error_code ec;
        const bool sent = send_for(msg, d, ec);
        if (ec) throw_error(ec, "channel::send_for \"" + name_ + "\"");
        return sent;
    }
    template <class Clock, class Duration>
    bool send_until(std::span<const std::byte> msg, std::chrono::time_point<Clock, Duration> tp,
                    error_code& ec) {
        const auto dl = detail::deadline_at(tp, ec);
        return !ec && send_until_deadline(msg, dl, ec);
    }

    /// Claims the next slot for writing in place, waiting while the ring is full.
    channel_loan loan();
    channel_loan loan(error_code& ec);
    /// Claims a slot only if one is free now; an invalid loan when the ring is full.
    channel_loan try_loan(error_code& ec);
    template <class Rep, class Period>
    channel_loan loan_for(std::chrono::duration<Rep, Period> d, error_code& ec) {
        const auto dl = detail::deadline_after(d, ec);
        if (ec) return {};
        return loan_until_deadline(dl, ec);
    }

    // --- receive -----------------------------------------------------------------------------
    /// Copies the next message into `buffer` and releases its slot; returns its size. A buffer
    /// shorter than the message: errc::buffer_too_small and the message stays in the ring.
    std::size_t receive(std::span<std::byte> buffer);
    std::size_t receive(std::span<std::byte> buffer, error_code& ec);
    /// Receives into a fresh vector holding exactly the message.
    std::vector<std::byte> receive();
    std::vector<std::byte> receive(error_code& ec);
    std::optional<std::size_t> try_receive(std::span<std::byte> buffer);
    std::optional<std::size_t> try_receive(std::span<std::byte> buffer, error_code& ec);
    template <class Rep, class Period>
    std::optional<std::size_t> receive_for(std::span<std::byte> buffer,
                                           std::chrono::duration<Rep, Period> d, error_code& ec) {
        const auto dl = detail::deadline_after(d, ec);
        if (ec) return std::nullopt;
        return receive_until_deadline(buffer, dl, ec);
    }
    template <class Rep, class Period>
    std::optional<std::size_t> receive_for(std::span<std::byte> buffer,
                                           std::chrono::duration<Rep, Period> d) {
        error_code ec;
        auto r = receive_for(buffer, d, ec);
        if (ec) throw_error(ec, "channel::receive_for \"" + name_ + "\"");
        return r;
    }
    template <class Clock, class Duration>
    std::optional<std::size_t> receive_until(std::span<std::byte> buffer,
                                             std::chrono::time_point<Clock, Duration> tp,
                                             error_code& ec) {
        const auto dl = detail::deadline_at(tp, ec);
        if (ec) return std::nullopt;
        return receive_until_deadline(buffer, dl, ec);
    }

    /// The next message in place, waiting for one. One view at a time per handle: receiving
    /// while a view is held is errc::view_outstanding.
    channel_view receive_view();
    channel_view receive_view(error_code& ec);
    /// A view only if a message is there now; an invalid view otherwise.
    channel_view try_receive_view(error_code& ec);
    template <class Rep, class Period>
    channel_view receive_view_for(std::chrono::duration<Rep, Period> d, error_code& ec) {
        const auto dl = detail::deadline_after(d, ec);
        if (ec) return {};
        return view_until_deadline(dl, ec);
    }

    /// Closes the handle (unmaps; gives up the consumer role). Closing twice does nothing.
    /// Loans and views of this handle must be gone.
    void close() noexcept;
    /// Removes the name (shm_unlink); works before or after close().
    void unlink();
    void unlink(error_code& ec);
    static void unlink(std::string_view name);
    static void unlink(std::string_view name, error_code& ec);

private:
    friend class channel_loan;
    friend class channel_view;
    struct header;
    struct slot;

    header* hdr() const noexcept { return static_cast<header*>(base_); }
    slot* slot_at(std::uint64_t pos) const noexcept;
    std::byte* payload(slot* s) const noexcept;

    error_code check_open() const noexcept;
    error_code claim_consumer() noexcept;
    // Producer side.
    std::optional<std::uint64_t> try_claim() noexcept;
    std::optional<std::uint64_t> claim_until(const detail::deadline& dl, error_code& ec);
    void publish_slot(std::uint64_t pos, std::uint32_t size) noexcept;
    bool send_until_deadline(std::span<const std::byte> msg, const detail::deadline& dl,
                             error_code& ec);
    channel_loan loan_until_deadline(const detail::deadline& dl, error_code& ec);
    // Consumer side.
    slot* try_front(bool check_writers) noexcept;
    slot* front_until(const detail::deadline& dl, error_code& ec);
    void release_front() noexcept;
    std::optional<std::size_t> receive_until_deadline(std::span<std::byte> buffer,
                                                      const detail::deadline& dl, error_code& ec);
    channel_view view_until_deadline(const detail::deadline& dl, error_code& ec);
    std::optional<std::size_t> copy_out(slot* s, std::span<std::byte> buffer, error_code& ec);
    void wake_consumer() noexcept;
    void wake_producers() noexcept;

    void* base_ = nullptr;
    std::size_t length_ = 0;
    std::string name_;
    ::mode_t permissions_ = 0600;
    bool created_ = false;
    bool consumer_ = false; ///< This handle holds the consumer role.
    bool took_over_ = false;
    bool view_out_ = false;
    std::uint32_t slot_count_ = 0;
    std::uint32_t max_message_size_ = 0;
    std::uint64_t stride_ = 0;
    channel_mode mode_ = channel_mode::spsc;
    std::int32_t pid_ = 0;
    wait_strategy wait_;
    signal_policy on_signal_ = signal_policy::retry;
};

PIPC_API void unlink_channel(std::string_view name);
PIPC_API void unlink_channel(std::string_view name, error_code& ec);

} // namespace pipc
