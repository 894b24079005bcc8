// SPDX-License-Identifier: BSL-1.0
#include <pipc/limits.hpp>
#include <pipc/message_queue.hpp>

#include "common.hpp"
#include "log_internal.hpp"
#include "sys.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <utility>

namespace pipc {

using detail::describe;
using detail::errno_code;
using detail::sys;

namespace {

using namespace std::chrono_literals;

// A deadline in 1970: the timed calls then never sleep, whatever O_NONBLOCK says.
constexpr ::timespec already_expired{0, 0};

error_code check_queue_options(const message_queue::options& opts) {
    if (auto ec = detail::check_open_mode(opts.open)) return ec;
    if (auto ec = detail::check_permissions(opts.permissions)) return ec;
    switch (opts.access) {
    case access::read_only:
    case access::write_only:
    case access::read_write:
        break;
    default:
        return make_error_code(errc::invalid_access);
    }
    if (opts.max_messages < 0 || opts.max_messages > hard_msg_max)
        return make_error_code(errc::invalid_max_messages);
    if (opts.max_message_size < 0 || opts.max_message_size > hard_msgsize_max)
        return make_error_code(errc::invalid_max_message_size);
    return {};
}

int access_flags(access a) {
    switch (a) {
    case access::read_only:
        return O_RDONLY;
    case access::write_only:
        return O_WRONLY;
    case access::read_write:
        break;
    }
    return O_RDWR;
}

// Is the process out of descriptors? /proc/self/fd cannot tell then (opening it fails too), but
// one more open can.
bool descriptor_table_full() {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == EMFILE;
    ::close(fd);
    return false;
}

// The kernel answers several distinct limits with the same errno; name the one that was hit.
error_code diagnose_open_failure(int err, const ::mq_attr& attr, bool creating) {
    if (creating && err == EINVAL) {
        const auto limits = read_mqueue_limits();
        if (limits.msg_max && attr.mq_maxmsg > *limits.msg_max)
            return make_error_code(errc::msg_max_exceeded);
        if (limits.msgsize_max && attr.mq_msgsize > *limits.msgsize_max)
            return make_error_code(errc::msgsize_max_exceeded);
    }
    if (creating && err == ENOSPC) return make_error_code(errc::queues_max_reached);
    // EMFILE is also the kernel's answer when RLIMIT_MSGQUEUE would be exceeded.
    if (creating && err == EMFILE && !descriptor_table_full())
        return make_error_code(errc::rlimit_msgqueue_exceeded);
    return errno_code(err);
}

// SIGEV_THREAD callbacks live in a registry keyed by id: a notification thread that glibc starts
// late must find either the callback or nothing, never a destroyed queue object.
struct callback_registry {
    std::mutex mutex;
    std::map<std::uint64_t, std::shared_ptr<std::function<void()>>> callbacks;
    std::uint64_t next_id = 1;
};

callback_registry& registry() {
    static callback_registry r;
    return r;
}

void notification_trampoline(::sigval value) {
    // glibc unblocks every signal in its notification threads; a process-directed signal that
    // the application blocks everywhere else would then land here and, say, kill the process.
    ::sigset_t all;
    sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, nullptr);
    const auto id = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(value.sival_ptr));
    std::shared_ptr<std::function<void()>> callback;
    {
        auto& r = registry();
        const std::lock_guard lock(r.mutex);
        const auto it = r.callbacks.find(id);
        if (it == r.callbacks.end()) return;
        callback = std::move(it->second); // one-shot, as the kernel's registration is
        r.callbacks.erase(it);
    }
    (*callback)();
}

} // namespace

message_queue::message_queue(std::string_view name, const options& opts) {
    open(name, opts);
}
message_queue::message_queue(unique_name_t, const options& opts) {
    open(unique_name, opts);
}

message_queue::message_queue(message_queue&& other) noexcept
    : mqd_(std::exchange(other.mqd_, -1)), name_(std::move(other.name_)),
      permissions_(other.permissions_), created_(other.created_), access_(other.access_),
      on_signal_(other.on_signal_), max_messages_(other.max_messages_),
      max_message_size_(other.max_message_size_), poll_mqd_(std::exchange(other.poll_mqd_, -1)),
      keep_poll_mqd_(other.keep_poll_mqd_), wait_(other.wait_),
      callback_id_(std::exchange(other.callback_id_, 0)) {}

message_queue& message_queue::operator=(message_queue&& other) noexcept {
    if (this != &other) {
        error_code ignored;
        close(ignored);
        mqd_ = std::exchange(other.mqd_, -1);
        name_ = std::move(other.name_);
        permissions_ = other.permissions_;
        created_ = other.created_;
        access_ = other.access_;
        on_signal_ = other.on_signal_;
        max_messages_ = other.max_messages_;
        max_message_size_ = other.max_message_size_;
        poll_mqd_ = std::exchange(other.poll_mqd_, -1);
        keep_poll_mqd_ = other.keep_poll_mqd_;
        wait_ = other.wait_;
        callback_id_ = std::exchange(other.callback_id_, 0);
    }
    return *this;
}

message_queue::~message_queue() {
    error_code ignored;
    close(ignored);
}

void message_queue::open(std::string_view name, const options& opts, error_code& ec) {
    ec = validate_name(object_kind::message_queue, name);
    if (!ec) ec = check_queue_options(opts);
    if (ec) return;
    const std::string owned(name);
    ::mq_attr attr{};
    if (opts.open != open_mode::open_existing) {
        const auto limits = read_mqueue_limits();
        attr.mq_maxmsg = opts.max_messages ? opts.max_messages : limits.msg_default.value_or(10);
        attr.mq_msgsize =
            opts.max_message_size ? opts.max_message_size : limits.msgsize_default.value_or(8192);
    }
    const int flags = access_flags(opts.access) | (opts.blocking ? 0 : O_NONBLOCK);
    ::mqd_t mqd = -1;
    const bool created = detail::open_by_mode(
        opts.open,
        [&](bool create) -> error_code {
            mqd = sys().mq_open(owned.c_str(), flags | (create ? O_CREAT | O_EXCL : 0),
                                opts.permissions, create ? &attr : nullptr);
            return mqd == -1 ? diagnose_open_failure(errno, attr, create) : error_code{};
        },
        ec);
    if (ec) return;
    error_code setup_ec;
    // mq_open applied the umask; on Linux fchmod on the queue descriptor sets the real mode.
    if (created && sys().fchmod(mqd, opts.permissions) != 0) setup_ec = errno_code();
    ::mq_attr actual{};
    if (!setup_ec && sys().mq_getattr(mqd, &actual) != 0) setup_ec = errno_code();
    if (setup_ec) {
        sys().mq_close(mqd);
        if (created) sys().mq_unlink(owned.c_str());
        ec = setup_ec;
        return;
    }
    close(ec);
    ec = {};
    mqd_ = mqd;
    name_ = owned;
    permissions_ = opts.permissions;
    created_ = created;
    access_ = opts.access;
    on_signal_ = opts.on_signal;
    max_messages_ = actual.mq_maxmsg;
    max_message_size_ = actual.mq_msgsize;
    wait_ = opts.wait;
    update_poll_descriptor(); // nothing at all with the default block() (unless kept)
    detail::log_debug("message queue {} \"{}\" ({} x {} bytes)", created ? "created" : "opened",
                      name_, max_messages_, max_message_size_);
}

void message_queue::open(std::string_view name, const options& opts) {
    error_code ec;
    open(name, opts, ec);
    if (ec) throw_error(ec, describe("message_queue::open", name));
}

void message_queue::open(unique_name_t, const options& opts, error_code& ec) {
    ec = check_queue_options(opts);
    if (ec) return;
    options exclusive = opts;
    exclusive.open = open_mode::create_exclusive;
    detail::open_unique(
        [&](const std::string& name) {
            error_code attempt_ec;
            open(name, exclusive, attempt_ec);
            return attempt_ec;
        },
        ec);
}

void message_queue::open(unique_name_t, const options& opts) {
    error_code ec;
    open(unique_name, opts, ec);
    if (ec) throw_error(ec, "message_queue::open (generated name)");
}

// ---- send ----------------------------------------------------------------------------------

namespace {
error_code check_send(::mqd_t mqd, bool can_write, long max_size, std::size_t size,
                      unsigned priority) {
    if (mqd == -1) return make_error_code(errc::closed);
    if (!can_write) return make_error_code(errc::not_writable);
    if (size > static_cast<std::size_t>(max_size)) return make_error_code(errc::message_too_long);
    static const long priority_limit = message_priority_max(); // fixed for the process's life
    if (static_cast<long>(priority) >= priority_limit)
        return make_error_code(errc::invalid_priority);
    return {};
}

error_code check_receive(::mqd_t mqd, bool can_read, long max_size, std::size_t buffer_size) {
    if (mqd == -1) return make_error_code(errc::closed);
    if (!can_read) return make_error_code(errc::not_readable);
    if (buffer_size < static_cast<std::size_t>(max_size))
        return make_error_code(errc::buffer_too_small);
    return {};
}
} // namespace

void message_queue::send(std::span<const std::byte> msg, unsigned priority, error_code& ec) {
    ec = check_send(mqd_, can_write(), max_message_size_, msg.size(), priority);
    if (ec) return;
    // The default block() makes no call here: its path is the send below alone. A spinning
    // strategy tries once first, so that only waits that had to wait teach adaptive anything.
    if (wait_.type() != wait_strategy::kind::block) {
        const auto poll = [&] { return try_send(msg, priority, ec) || ec; };
        // The try is made only when this wait will spin: a collapsed adaptive costs nothing.
        if ((wait_.current_budget().count() > 0 && poll()) || wait_.spin_until(poll)) return;
    }
    const auto* data = reinterpret_cast<const char*>(msg.data());
    for (;;) {
        if (sys().mq_timedsend(mqd_, data, msg.size(), priority, nullptr) == 0) return;
        const int err = errno;
        if (err == EINTR && on_signal_ == signal_policy::retry) continue;
        if (err == EAGAIN) { // the description is non-blocking: wait for room ourselves
            if (wait_or_report(nullptr, true, ec)) continue;
            return;
        }
        ec = errno_code(err);
        return;
    }
}

void message_queue::send(std::span<const std::byte> msg, unsigned priority) {
    error_code ec;
    send(msg, priority, ec);
    if (ec) throw_error(ec, describe("message_queue::send", name_));
}

void message_queue::send(std::string_view msg, unsigned priority, error_code& ec) {
    send(as_bytes(msg), priority, ec);
}

void message_queue::send(std::string_view msg, unsigned priority) {
    send(as_bytes(msg), priority);
}

bool message_queue::try_send(std::span<const std::byte> msg, unsigned priority, error_code& ec) {
    ec = check_send(mqd_, can_write(), max_message_size_, msg.size(), priority);
    if (ec) return false;
    const auto* data = reinterpret_cast<const char*>(msg.data());
    // The poll descriptor (O_NONBLOCK) fails at once without reading a timeout.
    const bool nb = poll_mqd_ != -1;
    for (;;) {
        if (sys().mq_timedsend(nb ? poll_mqd_ : mqd_, data, msg.size(), priority,
                               nb ? nullptr : &already_expired) == 0)
            return true;
        const int err = errno;
        if (err == EAGAIN || err == ETIMEDOUT) return false;
        if (err == EINTR) continue; // cannot have slept: retrying costs nothing
        ec = errno_code(err);
        return false;
    }
}

bool message_queue::try_send(std::span<const std::byte> msg, unsigned priority) {
    error_code ec;
    const bool sent = try_send(msg, priority, ec);
    if (ec) throw_error(ec, describe("message_queue::try_send", name_));
    return sent;
}

bool message_queue::try_send(std::string_view msg, unsigned priority, error_code& ec) {
    return try_send(as_bytes(msg), priority, ec);
}

bool message_queue::try_send(std::string_view msg, unsigned priority) {
    return try_send(as_bytes(msg), priority);
}

bool message_queue::send_until_deadline(std::span<const std::byte> msg, unsigned priority,
                                        const detail::deadline& dl, error_code& ec) {
    if (dl.infinite) {
        send(msg, priority, ec);
        return !ec;
    }
    // Try, then sleep in ppoll on the monotonic clock until the queue has room or the budget is
    // spent. The kernel's own timed send takes only CLOCK_REALTIME deadlines, which a wall-clock
    // jump (either way) would stretch or cut.
    bool spun = false;
    for (;;) {
        if (try_send(msg, priority, ec) || ec) return !ec;
        if (!spun) { // once, and never past the deadline
            spun = true;
            if (wait_.spin_until([&] { return try_send(msg, priority, ec) || ec; }, dl.when))
                return !ec;
        }
        const auto now = std::chrono::steady_clock::now();
        if (now >= dl.when) return false;
        const ::timespec budget = detail::to_timespec(dl.when - now);
        if (!wait_or_report(&budget, true, ec)) return false;
    }
}

// ---- receive -------------------------------------------------------------------------------

received message_queue::receive(std::span<std::byte> buffer, error_code& ec) {
    ec = check_receive(mqd_, can_read(), max_message_size_, buffer.size());
    if (ec) return {};
    if (wait_.type() != wait_strategy::kind::block) { // as in send
        std::optional<received> got;
        const auto poll = [&] { return (got = try_receive(buffer, ec)) || ec; };
        if ((wait_.current_budget().count() > 0 && poll()) || wait_.spin_until(poll))
            return got.value_or(received{});
    }
    auto* data = reinterpret_cast<char*>(buffer.data());
    for (;;) {
        unsigned priority = 0;
        const auto n = sys().mq_timedreceive(mqd_, data, buffer.size(), &priority, nullptr);
        if (n >= 0) return {static_cast<std::size_t>(n), priority};
        const int err = errno;
        if (err == EINTR && on_signal_ == signal_policy::retry) continue;
        if (err == EAGAIN) {
            if (wait_or_report(nullptr, false, ec)) continue;
            return {};
        }
        ec = errno_code(err);
        return {};
    }
}

received message_queue::receive(std::span<std::byte> buffer) {
    error_code ec;
    const auto r = receive(buffer, ec);
    if (ec) throw_error(ec, describe("message_queue::receive", name_));
    return r;
}

message message_queue::receive(error_code& ec) {
    message m;
    if (mqd_ != -1) m.data.resize(static_cast<std::size_t>(max_message_size_));
    const auto r = receive(std::span(m.data), ec);
    if (ec) return {};
    m.data.resize(r.size);
    m.priority = r.priority;
    return m;
}

message message_queue::receive() {
    error_code ec;
    auto m = receive(ec);
    if (ec) throw_error(ec, describe("message_queue::receive", name_));
    return m;
}

std::optional<received> message_queue::try_receive(std::span<std::byte> buffer, error_code& ec) {
    ec = check_receive(mqd_, can_read(), max_message_size_, buffer.size());
    if (ec) return std::nullopt;
    auto* data = reinterpret_cast<char*>(buffer.data());
    const bool nb = poll_mqd_ != -1; // as in try_send
    for (;;) {
        unsigned priority = 0;
        const auto n = sys().mq_timedreceive(nb ? poll_mqd_ : mqd_, data, buffer.size(), &priority,
                                             nb ? nullptr : &already_expired);
        if (n >= 0) return received{static_cast<std::size_t>(n), priority};
        const int err = errno;
        if (err == EAGAIN || err == ETIMEDOUT) return std::nullopt;
        if (err == EINTR) continue;
        ec = errno_code(err);
        return std::nullopt;
    }
}

std::optional<received> message_queue::try_receive(std::span<std::byte> buffer) {
    error_code ec;
    auto r = try_receive(buffer, ec);
    if (ec) throw_error(ec, describe("message_queue::try_receive", name_));
    return r;
}

std::optional<message> message_queue::try_receive(error_code& ec) {
    return receive_owned(
        [this](std::span<std::byte> b, error_code& e) { return try_receive(b, e); }, ec);
}

std::optional<message> message_queue::try_receive() {
    error_code ec;
    auto m = try_receive(ec);
    if (ec) throw_error(ec, describe("message_queue::try_receive", name_));
    return m;
}

std::optional<received> message_queue::receive_until_deadline(std::span<std::byte> buffer,
                                                              const detail::deadline& dl,
                                                              error_code& ec) {
    if (dl.infinite) {
        auto r = receive(buffer, ec);
        if (ec) return std::nullopt;
        return r;
    }
    bool spun = false;
    for (;;) { // as send_until_deadline: try, spin once, then a monotonic ppoll
        auto r = try_receive(buffer, ec);
        if (r || ec) return r;
        if (!spun) {
            spun = true;
            if (wait_.spin_until([&] { return (r = try_receive(buffer, ec)) || ec; }, dl.when))
                return ec ? std::nullopt : r;
        }
        const auto now = std::chrono::steady_clock::now();
        if (now >= dl.when) return std::nullopt;
        const ::timespec budget = detail::to_timespec(dl.when - now);
        if (!wait_or_report(&budget, false, ec)) return std::nullopt;
    }
}

bool message_queue::wait_or_report(const ::timespec* timeout, bool sending, error_code& ec) {
    ::pollfd p{mqd_, static_cast<short>(sending ? POLLOUT : POLLIN), 0};
    if (sys().ppoll(&p, 1, timeout, nullptr) >= 0) return true;
    ec = errno_code();
    if (ec == boost::system::errc::interrupted && on_signal_ == signal_policy::retry) {
        ec = {};
        return true;
    }
    return false;
}

// ---- wait strategy -------------------------------------------------------------------------

void message_queue::set_wait_strategy(const pipc::wait_strategy& w) noexcept {
    wait_ = w;
    update_poll_descriptor();
}

void message_queue::keep_poll_descriptor(bool keep) noexcept {
    keep_poll_mqd_ = keep;
    update_poll_descriptor();
}

void message_queue::update_poll_descriptor() noexcept {
    const bool wanted = keep_poll_mqd_ || wait_.type() != wait_strategy::kind::block;
    if (!wanted || mqd_ == -1) {
        if (poll_mqd_ != -1) sys().mq_close(std::exchange(poll_mqd_, -1));
        return;
    }
    if (poll_mqd_ != -1) return;
    // O_NONBLOCK belongs to the open file description, so a dup() would share it: a second
    // mq_open of the name it is, kept only when it reaches the very queue mqd_ does.
    const ::mqd_t p = sys().mq_open(name_.c_str(), access_flags(access_) | O_NONBLOCK, 0, nullptr);
    if (p == -1) return; // polls fall back to mqd_ with an expired timeout
    struct ::stat mine {};
    struct ::stat theirs {};
    if (sys().fstat(mqd_, &mine) == 0 && sys().fstat(p, &theirs) == 0 &&
        mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino) {
        poll_mqd_ = p;
        return;
    }
    sys().mq_close(p);
}

// ---- attributes ----------------------------------------------------------------------------

queue_attributes message_queue::attributes(error_code& ec) const {
    ec = {};
    if (mqd_ == -1) {
        ec = make_error_code(errc::closed);
        return {};
    }
    ::mq_attr attr{};
    if (sys().mq_getattr(mqd_, &attr) != 0) {
        ec = errno_code();
        return {};
    }
    return {attr.mq_maxmsg, attr.mq_msgsize, attr.mq_curmsgs, (attr.mq_flags & O_NONBLOCK) == 0};
}

queue_attributes message_queue::attributes() const {
    error_code ec;
    const auto a = attributes(ec);
    if (ec) throw_error(ec, describe("message_queue::attributes", name_));
    return a;
}

long message_queue::current_messages(error_code& ec) const {
    return attributes(ec).current_messages;
}
long message_queue::current_messages() const {
    return attributes().current_messages;
}
bool message_queue::blocking(error_code& ec) const {
    return attributes(ec).blocking;
}
bool message_queue::blocking() const {
    return attributes().blocking;
}

void message_queue::set_blocking(bool blocking, error_code& ec) {
    ec = {};
    if (mqd_ == -1) {
        ec = make_error_code(errc::closed);
        return;
    }
    ::mq_attr attr{};
    attr.mq_flags = blocking ? 0 : O_NONBLOCK;
    if (sys().mq_setattr(mqd_, &attr, nullptr) != 0) ec = errno_code();
}

void message_queue::set_blocking(bool blocking) {
    error_code ec;
    set_blocking(blocking, ec);
    if (ec) throw_error(ec, describe("message_queue::set_blocking", name_));
}

// ---- notification --------------------------------------------------------------------------

void message_queue::release_callback() noexcept {
    if (callback_id_ == 0) return;
    auto& r = registry();
    const std::lock_guard lock(r.mutex);
    r.callbacks.erase(std::exchange(callback_id_, 0));
}

void message_queue::request_notification(int signal_number, error_code& ec) {
    ec = {};
    if (mqd_ == -1) {
        ec = make_error_code(errc::closed);
        return;
    }
    if (signal_number < 0 || signal_number > SIGRTMAX) {
        ec = make_error_code(errc::invalid_signal);
        return;
    }
    sys().mq_notify(mqd_, nullptr); // replace this process's registration, as posix_ipc does
    ::sigevent sev{};
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = signal_number;
    if (sys().mq_notify(mqd_, &sev) != 0) {
        ec = errno_code();
        release_callback(); // the previous registration was cancelled above
        return;
    }
    release_callback();
    detail::log_debug("message queue \"{}\": notification by signal {}", name_, signal_number);
}

void message_queue::request_notification(int signal_number) {
    error_code ec;
    request_notification(signal_number, ec);
    if (ec) throw_error(ec, describe("message_queue::request_notification", name_));
}

void message_queue::request_notification(std::function<void()> callback, error_code& ec) {
    ec = {};
    if (mqd_ == -1) {
        ec = make_error_code(errc::closed);
        return;
    }
    if (!callback) { // an empty function is a request to cancel, as posix_ipc's None is
        cancel_notification(ec);
        return;
    }
    std::uint64_t id = 0;
    {
        auto& r = registry();
        const std::lock_guard lock(r.mutex);
        id = r.next_id++;
        r.callbacks.emplace(id, std::make_shared<std::function<void()>>(std::move(callback)));
    }
    sys().mq_notify(mqd_, nullptr);
    ::sigevent sev{};
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = notification_trampoline;
    // The value carries a registry key, never a pointer to this object (which may be gone).
    // NOLINTNEXTLINE(performance-no-int-to-ptr)
    sev.sigev_value.sival_ptr = reinterpret_cast<void*>(static_cast<std::uintptr_t>(id));
    if (sys().mq_notify(mqd_, &sev) != 0) {
        ec = errno_code();
        auto& r = registry();
        const std::lock_guard lock(r.mutex);
        r.callbacks.erase(id);
        if (callback_id_ != 0) r.callbacks.erase(std::exchange(callback_id_, 0)); // cancelled above
        return;
    }
    release_callback();
    callback_id_ = id;
    detail::log_debug("message queue \"{}\": notification by callback", name_);
}

void message_queue::request_notification(std::function<void()> callback) {
    error_code ec;
    request_notification(std::move(callback), ec);
    if (ec) throw_error(ec, describe("message_queue::request_notification", name_));
}

void message_queue::cancel_notification(error_code& ec) {
    ec = {};
    if (mqd_ == -1) {
        ec = make_error_code(errc::closed);
        return;
    }
    if (sys().mq_notify(mqd_, nullptr) != 0) ec = errno_code();
    release_callback();
}

void message_queue::cancel_notification() {
    error_code ec;
    cancel_notification(ec);
    if (ec) throw_error(ec, describe("message_queue::cancel_notification", name_));
}

// ---- lifetime ------------------------------------------------------------------------------

void message_queue::close(error_code& ec) {
    ec = {};
    release_callback();
    if (poll_mqd_ != -1) sys().mq_close(std::exchange(poll_mqd_, -1)); // ours alone: no error
    if (mqd_ == -1) return;
    if (sys().mq_close(std::exchange(mqd_, -1)) != 0) ec = errno_code();
    detail::log_debug("message queue closed \"{}\"", name_);
}

void message_queue::close() {
    error_code ec;
    close(ec);
    if (ec) throw_error(ec, describe("message_queue::close", name_));
}

void message_queue::unlink(std::string_view name, error_code& ec) {
    ec = detail::unlink_name(object_kind::message_queue, name, sys().mq_unlink);
}

void message_queue::unlink(std::string_view name) {
    error_code ec;
    unlink(name, ec);
    if (ec) throw_error(ec, describe("message_queue::unlink", name));
}

void message_queue::unlink(error_code& ec) {
    if (name_.empty()) {
        ec = make_error_code(errc::closed);
        return;
    }
    unlink(std::string_view(name_), ec);
}

void message_queue::unlink() {
    error_code ec;
    unlink(ec);
    if (ec) throw_error(ec, describe("message_queue::unlink", name_));
}

void unlink_message_queue(std::string_view name) {
    message_queue::unlink(name);
}
void unlink_message_queue(std::string_view name, error_code& ec) {
    message_queue::unlink(name, ec);
}

} // namespace pipc
