// SPDX-License-Identifier: BSL-1.0
// pipc/channel.hpp - a named bounded ring of message slots in one shared-memory object.
#pragma once

#include <pipc/detail/deadline.hpp>
#include <pipc/error.hpp>
#include <pipc/export.hpp>
#include <pipc/open_mode.hpp>
#include <pipc/wait_strategy.hpp>

#include <sys/types.h>

#include <atomic>
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
    /// Open an existing channel, create one, or either. Opening an existing one checks it is a
    /// channel of this protocol version (errc::not_a_channel, errc::channel_version_mismatch).
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
    /// How blocking calls wait before they sleep. Copied into the handle: each handle learns
    /// on its own, and the other processes of the channel are not affected.
    wait_strategy wait{};
    /// What a signal interrupting a sleep does: retry with the remaining time, or report EINTR
    /// (condition::signal). Spinning is never interrupted.
    signal_policy on_signal = signal_policy::retry;
};

class channel;

namespace detail {
/// The two doorbells of a channel: `data` wakes an asynchronous consumer, `room` asynchronous
/// producers (see docs/channel.md, "Asio").
enum class channel_bell : int { data = 0, room = 1 };
/// The protocol hooks basic_async_channel waits with (compiled in the library).
struct channel_async_access;
} // namespace detail

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
    /// An invalid loan, as returned by a failed or timed-out claim.
    channel_loan() noexcept = default;
    /// Takes over `o`'s slot; `o` is left invalid.
    channel_loan(channel_loan&& o) noexcept;
    /// Cancels the slot this loan holds (as the destructor does), then takes over `o`'s.
    channel_loan& operator=(channel_loan&& o) noexcept;
    channel_loan(const channel_loan&) = delete;
    channel_loan& operator=(const channel_loan&) = delete;
    /// Publishes an unpublished slot as cancelled, so the messages claimed after it can flow.
    /// Does nothing once the handle is closed: the slot then stays claimed until this process
    /// is gone and a consumer skips it.
    ~channel_loan();

    /// True while the loan holds a slot: false when default-constructed, moved from, returned by
    /// a claim that failed or timed out, or after a successful publish().
    bool valid() const noexcept { return owner_ != nullptr; }
    /// The writable slot, channel::max_message_size() bytes, 16-byte aligned.
    std::span<std::byte> buffer() const noexcept { return {data_, capacity_}; }
    /// @{
    /// Makes the first `n` bytes visible to the consumer (a release store after the payload)
    /// and wakes it if it sleeps; the loan is invalid afterwards. Never blocks.
    /// An invalid loan or a closed handle: errc::closed (condition::existential).
    /// `n` above buffer().size(): errc::message_too_long, nothing published, loan still valid.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    void publish(std::size_t n);
    void publish(std::size_t n, error_code& ec);
    /// @}

private:
    friend class channel;
    channel_loan(channel* owner, std::uint64_t pos, std::byte* data, std::size_t cap) noexcept
        : owner_(owner), pos_(pos), data_(data), capacity_(cap) {}
    /// Both publish forms' body, defined (and inlined) in channel.cpp only.
    inline errc publish_impl(std::size_t n) noexcept;
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
    /// An invalid view, as returned when no message came.
    channel_view() noexcept = default;
    /// Takes over `o`'s slot; `o` is left invalid.
    channel_view(channel_view&& o) noexcept;
    /// Releases the slot this view holds, then takes over `o`'s.
    channel_view& operator=(channel_view&& o) noexcept;
    channel_view(const channel_view&) = delete;
    channel_view& operator=(const channel_view&) = delete;
    /// Releases the slot (see release()).
    ~channel_view();

    /// True while the view holds a slot: false when default-constructed, moved from, returned
    /// by a receive that failed or timed out, or after release().
    bool valid() const noexcept { return owner_ != nullptr; }
    /// The message bytes in the shared slot; valid until release(). Its size may be 0.
    std::span<const std::byte> data() const noexcept { return {data_, size_}; }
    /// The message size in bytes (kept after release(), but data() must no longer be read).
    std::size_t size() const noexcept { return size_; }
    /// data() seen as characters, for text messages; the same lifetime as data().
    std::string_view text() const noexcept { return {reinterpret_cast<const char*>(data_), size_}; }
    /// Gives the slot back to the producers (and wakes those sleeping for room); the handle may
    /// receive again. Releasing twice, or after the handle was closed, does nothing.
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
/// An asynchronous side (pipc::basic_async_channel) announces itself the same way and waits on a
/// pollable doorbell that every peer rings when the flag says so (docs/channel.md, "Asio").
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
/// anything else on the same handle, and a handle with a loan or view outstanding must not be
/// moved (they point at it). A thread may send and another receive on one handle at once.
///
/// @par Errors
/// Each throwing call throws pipc::error (a subclass by condition, see pipc::condition); its
/// twin taking `error_code& ec` sets `ec` instead and never throws. Not being able to proceed
/// in time (`try_*` on a full or empty ring, a `*_for`/`*_until` deadline passing) is not an
/// error: false, an empty optional or an invalid loan or view. A closed handle reports
/// errc::closed; bad options are reported before anything is opened, naming the field.
///
/// @par Exception safety
/// A failed call changes nothing: no slot is claimed, no message consumed, an open handle keeps
/// its channel. One exception: a receive call claims the consumer role before it looks for a
/// message, and the role stays with the handle until close() even if that call fails.
///
/// The destructor closes the handle and never unlinks the name.
class PIPC_API channel {
public:
    /// The options type, for `channel::options{...}`.
    using options = channel_options;

    /// The protocol version written into the header and checked on open.
    static constexpr std::uint32_t protocol_version = 6;
    /// Largest channel_options::slot_count.
    static constexpr std::uint32_t max_slot_count = 65536;
    /// Largest channel_options::max_message_size (256 MiB): bounds the mapping a wrong
    /// option can ask for.
    static constexpr std::uint32_t max_message_size_limit = 256U * 1024 * 1024;

    /// A closed handle; open it with open() or by move-assignment.
    channel() noexcept = default;
    /// Opens or creates `name` as `opts` says (see open()). @throws pipc::error
    explicit channel(std::string_view name, const options& opts = {});
    /// Takes over `other`'s mapping and consumer role; `other` is left closed. `other` must have
    /// no loan or view outstanding.
    channel(channel&& other) noexcept;
    /// Closes this handle, then takes over `other`'s; `other` is left closed. Neither may have a
    /// loan or view outstanding.
    channel& operator=(channel&& other) noexcept;
    channel(const channel&) = delete;
    channel& operator=(const channel&) = delete;
    /// Closes the handle (see close()); never unlinks.
    ~channel();

    /// @{
    /// Opens or creates the channel `name` (a shm_open name) as `opts` says. A created channel
    /// appears under its name complete or not at all; an existing one is checked before it is
    /// used: errc::not_a_channel, errc::channel_version_mismatch, and errc::slot_count_mismatch,
    /// errc::message_size_mismatch, errc::channel_mode_mismatch for geometry the options ask for.
    /// Bad options: errc::invalid_slot_count, errc::invalid_max_message_size,
    /// errc::invalid_channel_mode, errc::invalid_open_mode, errc::invalid_permissions, and the
    /// name errors. A full /dev/shm at creation: errc::no_space. An open handle lets go of its
    /// channel only once the new one is open, so a failed open leaves it as it was (a channel
    /// this call created stays, complete, if mapping it fails afterwards).
    /// Never waits for other processes.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    void open(std::string_view name, const options& opts);
    void open(std::string_view name, const options& opts, error_code& ec);
    /// @}

    /// True between a successful open and close.
    bool is_open() const noexcept { return base_ != nullptr; }
    /// The name it was opened with (kept after close(), so unlink() still works).
    const std::string& name() const noexcept { return name_; }
    /// True when the last open() created the channel rather than opening an existing one.
    bool created() const noexcept { return created_; }
    /// The mode bits: those requested when this handle created the channel, otherwise those of
    /// the existing object as open() found them.
    ::mode_t permissions() const noexcept { return permissions_; }
    /// The channel's slot count, read from its header at open (it never changes).
    std::uint32_t slot_count() const noexcept { return slot_count_; }
    /// The channel's largest message in bytes, read from its header at open.
    std::uint32_t max_message_size() const noexcept { return max_message_size_; }
    /// The channel's producer mode, read from its header at open.
    channel_mode mode() const noexcept { return mode_; }
    /// This handle's wait strategy, to read what `adaptive` learned or to replace it. Replace it
    /// only while no call on this handle waits: the configuration is not atomic.
    wait_strategy& strategy() noexcept { return wait_; }
    /// Messages published or being written and not yet released: a snapshot (0 when closed).
    std::uint64_t fill() const noexcept;
    /// Slots skipped because the producer that claimed them died before publishing.
    std::uint64_t abandoned() const noexcept;
    /// True when this handle became the consumer after a consumer process died: the first
    /// messages it receives may have been received (not released) by that process before.
    bool took_over() const noexcept { return took_over_; }

    // --- send ------------------------------------------------------------------------------
    /// @{
    /// Copies `msg` into the next slot, waiting while the ring is full: first spinning as the
    /// wait strategy allows, then sleeping until the consumer releases a slot, for as long as it
    /// takes. Longer than max_message_size(): errc::message_too_long, nothing sent. A signal
    /// under signal_policy::report: EINTR (condition::signal), nothing sent. No system call
    /// unless the ring is full or the consumer sleeps. Empty messages are delivered.
    /// @throws pipc::error (the `ec` forms set `ec` instead).
    void send(std::span<const std::byte> msg);
    void send(std::span<const std::byte> msg, error_code& ec);
    void send(std::string_view msg);
    void send(std::string_view msg, error_code& ec);
    /// @}
    /// @{
    /// Sends only if a slot is free now; never sleeps (in mpsc mode it may briefly spin while
    /// another producer is between the two steps of its claim). @return false when the ring is
    /// full (not an error). Errors: errc::closed, errc::message_too_long.
    bool try_send(std::span<const std::byte> msg);
    bool try_send(std::span<const std::byte> msg, error_code& ec);
    /// @}
    /// @{
    /// Sends, waiting at most `d` for a free slot. A non-positive `d` makes one try; a huge or
    /// infinite one waits forever; NaN is errc::invalid_timeout. @return false on timeout (not
    /// an error). Errors as send().
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
    /// @}
    /// Sends, waiting for a free slot at most until `tp` of any clock (turned into the remaining
    /// time when the call starts, then measured on the monotonic clock). @return false on
    /// timeout. The rules of send_for apply.
    /// @{
    template <class Clock, class Duration>
    bool send_until(std::span<const std::byte> msg, std::chrono::time_point<Clock, Duration> tp,
                    error_code& ec) {
        const auto dl = detail::deadline_at(tp, ec);
        return !ec && send_until_deadline(msg, dl, ec);
    }
    template <class Clock, class Duration>
    bool send_until(std::span<const std::byte> msg, std::chrono::time_point<Clock, Duration> tp) {
        error_code ec;
        const bool sent = send_until(msg, tp, ec);
        if (ec) throw_error(ec, "channel::send_until \"" + name_ + "\"");
        return sent;
    }
    /// @}

    /// @{
    /// Claims the next slot for writing in place, waiting while the ring is full as send() does.
    /// Keep the loan short: every message claimed after it waits for it. Errors: errc::closed,
    /// EINTR under signal_policy::report; an invalid loan with them.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    channel_loan loan();
    channel_loan loan(error_code& ec);
    /// @}
    /// @{
    /// Claims a slot only if one is free now, never blocking; an invalid loan (no error) when the
    /// ring is full. Errors: errc::closed.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    channel_loan try_loan();
    channel_loan try_loan(error_code& ec);
    /// @}
    /// @{
    /// Claims a slot, waiting at most `d`; an invalid loan (no error) on timeout. Timeouts follow
    /// send_for's rules, errors loan()'s.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    template <class Rep, class Period>
    channel_loan loan_for(std::chrono::duration<Rep, Period> d, error_code& ec) {
        const auto dl = detail::deadline_after(d, ec);
        if (ec) return {};
        return loan_until_deadline(dl, ec);
    }
    template <class Rep, class Period>
    channel_loan loan_for(std::chrono::duration<Rep, Period> d) {
        error_code ec;
        auto l = loan_for(d, ec);
        if (ec) throw_error(ec, "channel::loan_for \"" + name_ + "\"");
        return l;
    }
    /// @}

    // --- receive -----------------------------------------------------------------------------
    /// @{
    /// Copies the next message into `buffer` and releases its slot; returns its size. Waits for
    /// a message as long as it takes: spinning as the wait strategy allows, then sleeping until
    /// a producer publishes (waking every 10 ms while a slot is claimed but unpublished, to
    /// skip it if its producer died). The first receive on a handle claims the consumer role.
    /// Errors: errc::closed; errc::consumer_busy (condition::busy) while another live process
    /// is the consumer; errc::view_outstanding while this handle holds a view; a buffer shorter
    /// than the message: errc::buffer_too_small, and the message stays in the ring; EINTR
    /// under signal_policy::report. The `ec` form returns 0 on error.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    std::size_t receive(std::span<std::byte> buffer);
    std::size_t receive(std::span<std::byte> buffer, error_code& ec);
    /// @}
    /// @{
    /// Receives, waiting as the buffer form does, into a fresh vector holding exactly the
    /// message (so never errc::buffer_too_small); empty on error, and for an empty message.
    /// @throws pipc::error (the `ec` form sets `ec` instead); std::bad_alloc from both forms.
    std::vector<std::byte> receive();
    std::vector<std::byte> receive(error_code& ec);
    /// @}
    /// @{
    /// Receives only if a message is there now, never blocking. A slot whose producer died
    /// before publishing is skipped at once. @return the size, or an empty optional when there
    /// is no message (not an error). Errors as receive(), except EINTR: it never sleeps.
    std::optional<std::size_t> try_receive(std::span<std::byte> buffer);
    std::optional<std::size_t> try_receive(std::span<std::byte> buffer, error_code& ec);
    /// @}
    /// @{
    /// Receives, waiting at most `d` for a message. A non-positive `d` makes one try; a huge or
    /// infinite one waits forever; NaN is errc::invalid_timeout. @return the size, or an empty
    /// optional on timeout (not an error). Errors as receive().
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
    /// @}
    /// Receives, waiting at most until `tp` of any clock (turned into the remaining time when
    /// the call starts). @return the size, or an empty optional on timeout. The rules of
    /// receive_for apply.
    /// @{
    template <class Clock, class Duration>
    std::optional<std::size_t> receive_until(std::span<std::byte> buffer,
                                             std::chrono::time_point<Clock, Duration> tp,
                                             error_code& ec) {
        const auto dl = detail::deadline_at(tp, ec);
        if (ec) return std::nullopt;
        return receive_until_deadline(buffer, dl, ec);
    }
    template <class Clock, class Duration>
    std::optional<std::size_t> receive_until(std::span<std::byte> buffer,
                                             std::chrono::time_point<Clock, Duration> tp) {
        error_code ec;
        auto r = receive_until(buffer, tp, ec);
        if (ec) throw_error(ec, "channel::receive_until \"" + name_ + "\"");
        return r;
    }
    /// @}

    /// @{
    /// The next message in place, waiting for one as receive() does. The slot stays taken until
    /// the view is released, so hold it briefly when the ring is small. One view at a time per
    /// handle: receiving while a view is held is errc::view_outstanding. Errors as receive()
    /// (never errc::buffer_too_small); an invalid view with them.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    channel_view receive_view();
    channel_view receive_view(error_code& ec);
    /// @}
    /// @{
    /// A view only if a message is there now, never blocking; an invalid view (no error)
    /// otherwise. Errors as receive_view(), except EINTR: it never sleeps.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    channel_view try_receive_view();
    channel_view try_receive_view(error_code& ec);
    /// @}
    /// @{
    /// A view of the next message, waiting at most `d`; an invalid view (no error) on timeout.
    /// Timeouts follow receive_for's rules, errors receive_view()'s.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    template <class Rep, class Period>
    channel_view receive_view_for(std::chrono::duration<Rep, Period> d, error_code& ec) {
        const auto dl = detail::deadline_after(d, ec);
        if (ec) return {};
        return view_until_deadline(dl, ec);
    }
    template <class Rep, class Period>
    channel_view receive_view_for(std::chrono::duration<Rep, Period> d) {
        error_code ec;
        auto v = receive_view_for(d, ec);
        if (ec) throw_error(ec, "channel::receive_view_for \"" + name_ + "\"");
        return v;
    }
    /// @}

    /// Closes the handle (unmaps; gives up the consumer role so another process may take it
    /// without waiting for this one to die). Closing twice does nothing. Loans and views of this
    /// handle must be gone: a loan still held stays claimed until this process exits.
    /// The core of a basic_async_channel closed this way takes back the doorbell waits it
    /// announced and rings them, so its pending operations complete with errc::closed.
    void close() noexcept;
    /// @{
    /// Removes the name (shm_unlink) and the doorbells an async_channel made (the FIFOs
    /// /dev/shm/`name`.bell-data and .bell-room); works before or after close(). Open handles, here
    /// and in other processes, keep working on the unnamed channel. Never opened: errc::closed.
    /// Missing name: condition::existential.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    void unlink();
    void unlink(error_code& ec);
    /// @}
    /// @{
    /// Removes the shared-memory object `name` (shm_unlink) and its doorbell FIFOs (missing ones
    /// are fine; a file of another kind under a bell's name is left alone), as unlink_channel(). It
    /// does not check that the object is a channel.
    static void unlink(std::string_view name);
    static void unlink(std::string_view name, error_code& ec);
    /// @}

private:
    friend class channel_loan;
    friend class channel_view;
    friend struct detail::channel_async_access;
    struct header;
    struct slot;

    header* hdr() const noexcept { return static_cast<header*>(base_); }
    slot* slot_at(std::uint64_t pos) const noexcept;
    std::byte* payload(slot* s) const noexcept;

    error_code check_open() const noexcept;
    error_code claim_consumer() noexcept;
    // Producer side.
    // The hot path's small steps are declared inline and defined (and used) in channel.cpp
    // only, so that a send or receive is one call however many steps it takes.
    inline std::optional<std::uint64_t> try_claim() noexcept;
    std::optional<std::uint64_t> try_claim_mpsc() noexcept;
    inline std::optional<std::uint64_t> claim_until(const detail::deadline& dl, error_code& ec);
    std::optional<std::uint64_t> claim_after_miss(const detail::deadline& dl, error_code& ec);
    inline void publish_slot(std::uint64_t pos, std::uint32_t size) noexcept;
    // Each operation's body (*_impl) is written once and inlined into its throwing and
    // error_code forms and into its out-of-line *_until_deadline, which the templates above call.
    inline bool send_impl(std::span<const std::byte> msg, const detail::deadline& dl,
                          error_code& ec);
    bool send_until_deadline(std::span<const std::byte> msg, const detail::deadline& dl,
                             error_code& ec);
    inline channel_loan loan_impl(const detail::deadline& dl, error_code& ec);
    channel_loan loan_until_deadline(const detail::deadline& dl, error_code& ec);
    // Consumer side.
    inline slot* try_front(bool check_writers) noexcept;
    slot* scan_front(bool check_writers) noexcept;
    inline slot* front_until(const detail::deadline& dl, error_code& ec);
    slot* front_after_miss(const detail::deadline& dl, error_code& ec);
    inline void release_front() noexcept;
    bool room_watermark_reached(std::uint64_t head) const noexcept;
    inline std::optional<std::size_t> receive_impl(std::span<std::byte> buffer,
                                                   const detail::deadline& dl, error_code& ec);
    std::optional<std::size_t> receive_until_deadline(std::span<std::byte> buffer,
                                                      const detail::deadline& dl, error_code& ec);
    inline channel_view view_impl(const detail::deadline& dl, error_code& ec);
    channel_view view_until_deadline(const detail::deadline& dl, error_code& ec);
    inline std::optional<std::size_t> copy_out(slot* s, std::span<std::byte> buffer,
                                               error_code& ec);
    void wake_consumer() noexcept;
    void wake_producers() noexcept;
    // Doorbells: rung only when the header says an asynchronous side waits for them.
    std::string bell_path(detail::channel_bell b) const;
    void ring(detail::channel_bell b) noexcept;
    void close_bells() noexcept;

    void* base_ = nullptr;
    std::size_t length_ = 0;
    std::string name_;
    ::mode_t permissions_ = 0600;
    bool created_ = false;
    bool consumer_ = false; ///< This handle holds the consumer role.
    bool took_over_ = false;
    bool view_out_ = false;
    /// Messages the consumer found without waiting since it last had to wait (saturates at 2):
    /// it yields before sleeping only while draining a stream, never in a round trip.
    std::uint32_t streak_ = 0;
    std::uint32_t slot_count_ = 0;
    std::uint32_t max_message_size_ = 0;
    std::uint64_t stride_ = 0;
    channel_mode mode_ = channel_mode::spsc;
    std::int32_t pid_ = 0;
    wait_strategy wait_;
    signal_policy on_signal_ = signal_policy::retry;
    /// Cached descriptors of the doorbells to ring them (-1: not open yet); rung from any thread.
    std::atomic<int> bells_[2] = {-1, -1};
    /// Doorbell waits this handle announced in the header (bit 1 << channel_bell) and not yet
    /// withdrew: close() takes them back, so a closed handle leaves no waiter behind.
    std::uint8_t announced_bells_ = 0;
};

/// @{
/// Removes a channel by name; the same as channel::unlink(name). Missing name:
/// condition::existential. @throws pipc::error (the `ec` form sets `ec` instead).
PIPC_API void unlink_channel(std::string_view name);
PIPC_API void unlink_channel(std::string_view name, error_code& ec);
/// @}

} // namespace pipc
