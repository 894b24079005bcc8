// SPDX-License-Identifier: BSL-1.0
// pipc/message_queue.hpp - a named POSIX message queue (mq_open), blocking and RAII.
#pragma once

#include <pipc/export.hpp>

#include <pipc/detail/deadline.hpp>
#include <pipc/error.hpp>
#include <pipc/open_mode.hpp>
#include <pipc/wait_strategy.hpp>

#include <mqueue.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pipc {

/// Which directions a queue handle may be used in (posix_ipc's `read` and `write`).
enum class access {
    read_only,  ///< receive only; sends fail with errc::not_writable
    write_only, ///< send only; receives fail with errc::not_readable
    read_write  ///< both
};

/// Size and priority of a message received into a caller's buffer.
struct received {
    std::size_t size = 0;  ///< Bytes written to the front of the buffer.
    unsigned priority = 0; ///< The priority it was sent with.
};

/// A received message that owns its bytes.
struct message {
    std::vector<std::byte> data; ///< The message, exactly as long as it was sent.
    unsigned priority = 0;       ///< The priority it was sent with.
    /// The bytes viewed as characters (no copy; valid while `data` is unchanged).
    std::string_view text() const noexcept {
        return {reinterpret_cast<const char*>(data.data()), data.size()};
    }
};

/// A snapshot of mq_getattr.
struct queue_attributes {
    long max_messages = 0;     ///< Capacity in messages.
    long max_message_size = 0; ///< Largest message in bytes.
    long current_messages = 0; ///< Messages in the queue when the snapshot was taken.
    bool blocking = true;      ///< False when O_NONBLOCK is set on the open file description.
};

/// Options for message_queue::open.
struct message_queue_options {
    /// Open an existing queue, create one, or either (posix_ipc's O_CREAT/O_EXCL flags).
    open_mode open = open_mode::open_existing;
    /// Mode bits of a created queue, applied exactly whatever the umask (fchmod after create).
    ::mode_t permissions = 0600;
    /// Capacity of a created queue; 0 takes /proc/sys/fs/mqueue/msg_default.
    long max_messages = 0;
    /// Largest message of a created queue; 0 takes /proc/sys/fs/mqueue/msgsize_default.
    long max_message_size = 0;
    /// Directions this handle may be used in.
    pipc::access access = pipc::access::read_write;
    /// Initial O_NONBLOCK state of the new open file description (see set_blocking).
    bool blocking = true;
    /// What a signal interrupting a wait does: retry with the remaining time, or report EINTR.
    signal_policy on_signal = signal_policy::retry;
    /// How the blocking and timed sends and receives wait when they cannot proceed: sleep at once
    /// (the default, exactly the behaviour without strategies), or first poll the queue for a
    /// budget (see set_wait_strategy and docs/wait-strategies.md).
    wait_strategy wait{};
};

/// A named POSIX message queue, posix_ipc's `MessageQueue`.
///
/// Messages come out highest priority first, FIFO within a priority. `send` and `receive` block
/// until they can proceed, `try_*` never block, `*_for`/`*_until` wait at most until a deadline;
/// each works whatever the descriptor's O_NONBLOCK flag says (`set_blocking` only decides what a
/// foreign user of the same description sees, and what posix_ipc's `block` reports).
/// Timed calls try first (one system call when the queue is ready) and otherwise sleep in ppoll on
/// the monotonic clock, so wall-clock jumps do not change them; the kernel's own timed calls only
/// take CLOCK_REALTIME deadlines.
///
/// Every send form takes the same payloads: a `std::span<const std::byte>`, or a
/// `std::string_view` and so anything that converts to one (a string literal, a `std::string`).
/// Every receive form either fills a caller's buffer of at least max_message_size() bytes and
/// returns a pipc::received, or takes no buffer and returns an owning pipc::message.
///
/// The destructor closes the descriptor and never unlinks.
///
/// @par Errors
/// Each throwing call throws pipc::error (a subclass by condition, see pipc::condition); its
/// twin taking `error_code& ec` sets `ec` instead and never throws. Bad arguments are reported
/// before any system call, naming the field (errc::message_too_long, errc::invalid_priority,
/// errc::buffer_too_small, errc::invalid_timeout, ...); a closed handle reports errc::closed;
/// a handle opened without the direction reports errc::not_readable / errc::not_writable.
///
/// @par Thread safety
/// Distinct objects: safe. Shared object: sends, receives and attribute reads may run
/// concurrently (the kernel serialises them); `open`, `close`, notification calls and moves may not
/// overlap with anything else.
///
/// @par Exception safety
/// A failed call changes nothing: no message is sent or consumed, an open object keeps its queue.
class PIPC_API message_queue {
public:
    /// The options type, for `message_queue::options{...}`.
    using options = message_queue_options;

    /// A closed handle; open it with open() or by move-assignment.
    message_queue() noexcept = default;
    /// Opens or creates the queue `name` as `opts` says. @throws pipc::error
    explicit message_queue(std::string_view name, const options& opts = {});
    /// Creates a queue under a fresh unique name (name() tells it). @throws pipc::error
    message_queue(unique_name_t, const options& opts = {});
    /// Takes over `other`'s descriptor and notification; `other` is left closed.
    message_queue(message_queue&& other) noexcept;
    /// Closes this handle, then takes over `other`'s; `other` is left closed.
    message_queue& operator=(message_queue&& other) noexcept;
    message_queue(const message_queue&) = delete;
    message_queue& operator=(const message_queue&) = delete;
    /// Closes the descriptor (and this process's notification); never unlinks.
    ~message_queue();

    /// @{
    /// Opens or creates the queue `name` as `opts` says. An open handle lets go of its queue
    /// only once the new one is open: a failed open changes nothing. A queue this call created
    /// is removed again if a later step (the exact chmod) fails.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    void open(std::string_view name, const options& opts);
    void open(std::string_view name, const options& opts, error_code& ec);
    /// @}
    /// @{
    /// Creates a queue under a fresh unguessable name (exclusive; a few retries on collision).
    void open(unique_name_t, const options& opts);
    void open(unique_name_t, const options& opts, error_code& ec);
    /// @}

    /// True between a successful open and close.
    bool is_open() const noexcept { return mqd_ != -1; }
    /// The name it was opened with (kept after close(), so unlink() still works).
    const std::string& name() const noexcept { return name_; }
    /// True when the last open() created the queue rather than opening an existing one.
    bool created() const noexcept { return created_; }
    /// The requested mode bits (posix_ipc's `mode`), not those of a pre-existing queue.
    ::mode_t permissions() const noexcept { return permissions_; }
    /// False for a write_only handle.
    bool can_read() const noexcept { return access_ != access::write_only; }
    /// False for a read_only handle.
    bool can_write() const noexcept { return access_ != access::read_only; }
    /// What a signal interrupting a wait does.
    signal_policy on_signal() const noexcept { return on_signal_; }
    /// Changes what a signal interrupting a later wait does.
    void set_signal_policy(signal_policy p) noexcept { on_signal_ = p; }
    /// The wait strategy of the blocking and timed sends and receives (learned state included).
    pipc::wait_strategy& strategy() noexcept { return wait_; }
    /// The wait strategy of the blocking and timed sends and receives.
    const pipc::wait_strategy& strategy() const noexcept { return wait_; }
    /// Replaces the wait strategy; no wait on this object may be under way. A spinning strategy
    /// polls with a second descriptor of the same queue opened O_NONBLOCK (mq_open by name, kept
    /// only if it is the same queue; a plain receive on it costs about half of a receive with an
    /// expired timeout). When that cannot be had (the name was unlinked or reused, no descriptor
    /// left) the polls use the main descriptor with an expired timeout instead: never an error.
    /// block() closes that descriptor again.
    void set_wait_strategy(const pipc::wait_strategy& w) noexcept;
    /// Keeps that O_NONBLOCK descriptor open whatever the strategy (`true`), so that every
    /// try_send and try_receive uses it: a failing try then costs about half as much (the kernel
    /// neither reads a timeout nor queues the caller as a waiter). The descriptor is opened at
    /// once if the queue is open, and by every later open(); `false` (the default) keeps it only
    /// while the strategy spins. Costs one more descriptor per queue. Closing that descriptor, as
    /// every close does, removes this process's mq_notify registration of the queue (Linux), so
    /// do not switch it off while a notification is registered. The async queue's descriptor
    /// backend switches it on. Same rules as set_wait_strategy: no wait may be under way.
    void keep_poll_descriptor(bool keep) noexcept;
    /// What keep_poll_descriptor() last set (false by default).
    bool keeps_poll_descriptor() const noexcept { return keep_poll_mqd_; }
    /// The descriptor; on Linux a pollable fd (readable when non-empty, writable when not full).
    ::mqd_t native_handle() const noexcept { return mqd_; }
    /// Capacity in messages; read once at open (a queue's geometry never changes).
    long max_messages() const noexcept { return max_messages_; }
    /// Largest message in bytes; read once at open.
    long max_message_size() const noexcept { return max_message_size_; }

    // --- send -----------------------------------------------------------------------------
    /// @{
    /// Sends `msg` with `priority` (0 .. message_priority_max()-1), waiting while the queue is
    /// full (spinning first if the wait strategy says so). @throws pipc::error (the `ec` forms set
    /// `ec` instead).
    void send(std::span<const std::byte> msg, unsigned priority = 0);
    void send(std::span<const std::byte> msg, unsigned priority, error_code& ec);
    void send(std::string_view msg, unsigned priority = 0);
    void send(std::string_view msg, unsigned priority, error_code& ec);
    /// @}
    /// @{
    /// Sends only if there is room now. @return false when the queue is full (not an error).
    bool try_send(std::span<const std::byte> msg, unsigned priority = 0);
    bool try_send(std::span<const std::byte> msg, unsigned priority, error_code& ec);
    bool try_send(std::string_view msg, unsigned priority = 0);
    bool try_send(std::string_view msg, unsigned priority, error_code& ec);
    /// @}
    /// @{
    /// Sends, waiting at most `d` for room. A non-positive `d` makes one try; a huge one waits
    /// forever; NaN is errc::invalid_timeout. @return false on timeout (not an error).
    template <class Rep, class Period>
    bool send_for(std::span<const std::byte> msg, std::chrono::duration<Rep, Period> d,
                  unsigned priority, error_code& ec);
    template <class Rep, class Period>
    bool send_for(std::span<const std::byte> msg, std::chrono::duration<Rep, Period> d,
                  unsigned priority = 0);
    template <class Rep, class Period>
    bool send_for(std::string_view msg, std::chrono::duration<Rep, Period> d, unsigned priority,
                  error_code& ec) {
        return send_for(as_bytes(msg), d, priority, ec);
    }
    template <class Rep, class Period>
    bool send_for(std::string_view msg, std::chrono::duration<Rep, Period> d,
                  unsigned priority = 0) {
        return send_for(as_bytes(msg), d, priority);
    }
    /// @}
    /// @{
    /// Sends, waiting for room at most until `tp` of any clock (turned into the remaining time
    /// when the call starts, then measured on the monotonic clock). @return false on timeout.
    template <class Clock, class Duration>
    bool send_until(std::span<const std::byte> msg, std::chrono::time_point<Clock, Duration> tp,
                    unsigned priority, error_code& ec);
    template <class Clock, class Duration>
    bool send_until(std::span<const std::byte> msg, std::chrono::time_point<Clock, Duration> tp,
                    unsigned priority = 0);
    template <class Clock, class Duration>
    bool send_until(std::string_view msg, std::chrono::time_point<Clock, Duration> tp,
                    unsigned priority, error_code& ec) {
        return send_until(as_bytes(msg), tp, priority, ec);
    }
    template <class Clock, class Duration>
    bool send_until(std::string_view msg, std::chrono::time_point<Clock, Duration> tp,
                    unsigned priority = 0) {
        return send_until(as_bytes(msg), tp, priority);
    }
    /// @}

    // --- receive ---------------------------------------------------------------------------
    /// @{
    /// Receives the oldest message of the highest priority into `buffer`, which must hold at least
    /// max_message_size() bytes (the kernel's rule, checked first: errc::buffer_too_small),
    /// waiting while the queue is empty. @throws pipc::error (the `ec` forms set `ec` instead).
    received receive(std::span<std::byte> buffer);
    received receive(std::span<std::byte> buffer, error_code& ec);
    /// @}
    /// @{
    /// Receives into a fresh buffer of max_message_size() bytes, trimmed to the message.
    message receive();
    message receive(error_code& ec);
    /// @}
    /// @{
    /// Receives only if a message is waiting. @return nullopt when the queue is empty (not an
    /// error).
    std::optional<received> try_receive(std::span<std::byte> buffer);
    std::optional<received> try_receive(std::span<std::byte> buffer, error_code& ec);
    std::optional<message> try_receive();
    std::optional<message> try_receive(error_code& ec);
    /// @}
    /// @{
    /// Receives, waiting at most `d` for a message (the rules of send_for).
    /// @return nullopt on timeout (not an error).
    template <class Rep, class Period>
    std::optional<received> receive_for(std::span<std::byte> buffer,
                                        std::chrono::duration<Rep, Period> d, error_code& ec);
    template <class Rep, class Period>
    std::optional<received> receive_for(std::span<std::byte> buffer,
                                        std::chrono::duration<Rep, Period> d);
    template <class Rep, class Period>
    std::optional<message> receive_for(std::chrono::duration<Rep, Period> d, error_code& ec);
    template <class Rep, class Period>
    std::optional<message> receive_for(std::chrono::duration<Rep, Period> d);
    /// @}
    /// @{
    /// Receives, waiting for a message at most until `tp` of any clock (the rules of
    /// send_until). @return nullopt on timeout (not an error).
    template <class Clock, class Duration>
    std::optional<received> receive_until(std::span<std::byte> buffer,
                                          std::chrono::time_point<Clock, Duration> tp,
                                          error_code& ec);
    template <class Clock, class Duration>
    std::optional<received> receive_until(std::span<std::byte> buffer,
                                          std::chrono::time_point<Clock, Duration> tp);
    template <class Clock, class Duration>
    std::optional<message> receive_until(std::chrono::time_point<Clock, Duration> tp,
                                         error_code& ec);
    template <class Clock, class Duration>
    std::optional<message> receive_until(std::chrono::time_point<Clock, Duration> tp);
    /// @}

    // --- attributes ------------------------------------------------------------------------
    /// @{
    /// A snapshot of the queue's attributes (mq_getattr).
    queue_attributes attributes() const;
    queue_attributes attributes(error_code& ec) const;
    /// @}
    /// @{
    /// The number of messages in the queue now (a snapshot).
    long current_messages() const;
    long current_messages(error_code& ec) const;
    /// @}
    /// @{
    /// O_NONBLOCK of the open file description (shared with dup()s and forked children).
    bool blocking() const;
    bool blocking(error_code& ec) const;
    /// @}
    /// @{
    /// Sets O_NONBLOCK on the open file description. pipc's own calls behave the same either
    /// way; this is for foreign users of the description and posix_ipc's `block`.
    void set_blocking(bool blocking);
    void set_blocking(bool blocking, error_code& ec);
    /// @}

    // --- notification ----------------------------------------------------------------------
    /// @{
    /// mq_notify(SIGEV_SIGNAL): `signal_number` (0..SIGRTMAX; 0 registers without sending a
    /// signal, as posix_ipc allows) is sent to this process when the queue goes from empty to
    /// non-empty while no receiver is blocked. One-shot; one process per queue (another process's
    /// registration: EBUSY, condition::busy). Replaces this process's registration; if the new
    /// registration then fails, the previous one is gone too (the kernel allows only one).
    void request_notification(int signal_number);
    void request_notification(int signal_number, error_code& ec);
    /// @}
    /// @{
    /// mq_notify(SIGEV_THREAD): `callback` runs once on a thread glibc creates. Exceptions escaping
    /// the callback terminate the program. The callback is dropped by close() and destruction;
    /// a notification already under way may still run it concurrently with them.
    void request_notification(std::function<void()> callback);
    void request_notification(std::function<void()> callback, error_code& ec);
    /// @}
    /// @{
    /// Removes this process's registration (if any).
    void cancel_notification();
    void cancel_notification(error_code& ec);
    /// @}

    /// @{
    /// Closes the descriptor. Closing twice does nothing. Also ends this process's notification.
    void close();
    void close(error_code& ec);
    /// @}
    /// @{
    /// Removes the name (mq_unlink); works before or after close(). Processes that have the
    /// queue open keep using it until they close it. Missing name: condition::existential.
    void unlink();
    void unlink(error_code& ec);
    /// @}
    /// @{
    /// Removes the queue `name` (mq_unlink), as unlink_message_queue().
    static void unlink(std::string_view name);
    static void unlink(std::string_view name, error_code& ec);
    /// @}

private:
    static std::span<const std::byte> as_bytes(std::string_view s) noexcept {
        return std::as_bytes(std::span(s.data(), s.size()));
    }
    /// Runs `receive_into` on a fresh buffer of max_message_size() bytes and trims it to the
    /// message; nullopt (and no allocation kept) when it received nothing.
    template <class ReceiveInto>
    std::optional<message> receive_owned(ReceiveInto&& receive_into, error_code& ec) {
        message m;
        if (is_open()) m.data.resize(static_cast<std::size_t>(max_message_size_));
        const std::optional<received> r = receive_into(std::span<std::byte>(m.data), ec);
        if (ec || !r) return std::nullopt;
        m.data.resize(r->size);
        m.priority = r->priority;
        return m;
    }
    bool send_until_deadline(std::span<const std::byte> msg, unsigned priority,
                             const detail::deadline& dl, error_code& ec);
    std::optional<received> receive_until_deadline(std::span<std::byte> buffer,
                                                   const detail::deadline& dl, error_code& ec);
    /// ppoll for room (sending) or a message, at most `timeout` (nullptr: no limit); false with
    /// `ec` on a failure, or on EINTR when the signal policy says report.
    bool wait_or_report(const ::timespec* timeout, bool sending, error_code& ec);
    void release_callback() noexcept;
    /// Opens poll_mqd_ when the strategy spins or keep_poll_mqd_ (and it is not open yet), closes
    /// it when neither.
    void update_poll_descriptor() noexcept;

    ::mqd_t mqd_ = -1;
    std::string name_;
    ::mode_t permissions_ = 0600;
    bool created_ = false;
    pipc::access access_ = pipc::access::read_write;
    signal_policy on_signal_ = signal_policy::retry;
    long max_messages_ = 0;
    long max_message_size_ = 0;
    /// O_NONBLOCK descriptor of the same queue for the polls of a spinning wait; -1 if none.
    ::mqd_t poll_mqd_ = -1;
    bool keep_poll_mqd_ = false; ///< keep_poll_descriptor(true): poll_mqd_ whatever the strategy.
    pipc::wait_strategy wait_{};
    std::uint64_t callback_id_ = 0; ///< Registry key of the SIGEV_THREAD callback, 0 if none.
};

/// @{
/// Removes a message queue by name (mq_unlink); the same as message_queue::unlink(name).
/// Missing name: condition::existential.
PIPC_API void unlink_message_queue(std::string_view name);
PIPC_API void unlink_message_queue(std::string_view name, error_code& ec);
/// @}

// --- template definitions ----------------------------------------------------------------

template <class Rep, class Period>
bool message_queue::send_for(std::span<const std::byte> msg, std::chrono::duration<Rep, Period> d,
                             unsigned priority, error_code& ec) {
    const auto dl = detail::deadline_after(d, ec);
    if (ec) return false;
    return send_until_deadline(msg, priority, dl, ec);
}
template <class Rep, class Period>
bool message_queue::send_for(std::span<const std::byte> msg, std::chrono::duration<Rep, Period> d,
                             unsigned priority) {
    error_code ec;
    const bool sent = send_for(msg, d, priority, ec);
    if (ec) throw_error(ec, "message_queue::send_for \"" + name_ + "\"");
    return sent;
}
template <class Clock, class Duration>
bool message_queue::send_until(std::span<const std::byte> msg,
                               std::chrono::time_point<Clock, Duration> tp, unsigned priority,
                               error_code& ec) {
    const auto dl = detail::deadline_at(tp, ec);
    if (ec) return false;
    return send_until_deadline(msg, priority, dl, ec);
}
template <class Clock, class Duration>
bool message_queue::send_until(std::span<const std::byte> msg,
                               std::chrono::time_point<Clock, Duration> tp, unsigned priority) {
    error_code ec;
    const bool sent = send_until(msg, tp, priority, ec);
    if (ec) throw_error(ec, "message_queue::send_until \"" + name_ + "\"");
    return sent;
}
template <class Rep, class Period>
std::optional<received> message_queue::receive_for(std::span<std::byte> buffer,
                                                   std::chrono::duration<Rep, Period> d,
                                                   error_code& ec) {
    const auto dl = detail::deadline_after(d, ec);
    if (ec) return std::nullopt;
    return receive_until_deadline(buffer, dl, ec);
}
template <class Rep, class Period>
std::optional<received> message_queue::receive_for(std::span<std::byte> buffer,
                                                   std::chrono::duration<Rep, Period> d) {
    error_code ec;
    auto r = receive_for(buffer, d, ec);
    if (ec) throw_error(ec, "message_queue::receive_for \"" + name_ + "\"");
    return r;
}
template <class Clock, class Duration>
std::optional<received> message_queue::receive_until(std::span<std::byte> buffer,
                                                     std::chrono::time_point<Clock, Duration> tp,
                                                     error_code& ec) {
    const auto dl = detail::deadline_at(tp, ec);
    if (ec) return std::nullopt;
    return receive_until_deadline(buffer, dl, ec);
}
template <class Clock, class Duration>
std::optional<received> message_queue::receive_until(std::span<std::byte> buffer,
                                                     std::chrono::time_point<Clock, Duration> tp) {
    error_code ec;
    auto r = receive_until(buffer, tp, ec);
    if (ec) throw_error(ec, "message_queue::receive_until \"" + name_ + "\"");
    return r;
}

template <class Rep, class Period>
std::optional<message> message_queue::receive_for(std::chrono::duration<Rep, Period> d,
                                                  error_code& ec) {
    return receive_owned(
        [&](std::span<std::byte> b, error_code& e) { return receive_for(b, d, e); }, ec);
}
template <class Rep, class Period>
std::optional<message> message_queue::receive_for(std::chrono::duration<Rep, Period> d) {
    error_code ec;
    auto m = receive_for(d, ec);
    if (ec) throw_error(ec, "message_queue::receive_for \"" + name_ + "\"");
    return m;
}
template <class Clock, class Duration>
std::optional<message> message_queue::receive_until(std::chrono::time_point<Clock, Duration> tp,
                                                    error_code& ec) {
    return receive_owned(
        [&](std::span<std::byte> b, error_code& e) { return receive_until(b, tp, e); }, ec);
}
template <class Clock, class Duration>
std::optional<message> message_queue::receive_until(std::chrono::time_point<Clock, Duration> tp) {
    error_code ec;
    auto m = receive_until(tp, ec);
    if (ec) throw_error(ec, "message_queue::receive_until \"" + name_ + "\"");
    return m;
}

} // namespace pipc
