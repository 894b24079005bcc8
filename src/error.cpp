// SPDX-License-Identifier: BSL-1.0
#include <pipc/error.hpp>

#include <cerrno>
#include <string>

namespace pipc {
namespace {

namespace bse = boost::system::errc;

class pipc_category_impl final : public boost::system::error_category {
public:
    // A fixed id keeps categories equal across shared-library boundaries.
    constexpr pipc_category_impl() noexcept : error_category(0x9e1c'7a50'2b4d'0001ULL) {}
    const char* name() const noexcept override { return "pipc"; }

    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
        case errc::closed:
            return "the object has been closed";
        case errc::invalid_name:
            return "invalid name: it needs exactly one leading '/', no other '/', must not be "
                   "\"/.\" or \"/..\" and must not contain NUL";
        case errc::name_too_long:
            return "name too long: at most 255 bytes after '/' (251 for semaphores)";
        case errc::invalid_permissions:
            return "invalid permissions: only the bits 07777 may be set";
        case errc::invalid_initial_value:
            return "invalid initial_value: above SEM_VALUE_MAX";
        case errc::invalid_release_count:
            return "invalid release count: n must be >= 0 and value + n at most SEM_VALUE_MAX";
        case errc::invalid_max_messages:
            return "invalid max_messages: must be 0 (system default) or 1..65536";
        case errc::invalid_max_message_size:
            return "invalid max_message_size: must be 0 (system default) or 1..16777216";
        case errc::invalid_access:
            return "invalid access: not read_only, write_only or read_write";
        case errc::invalid_priority:
            return "invalid priority: must be below MQ_PRIO_MAX";
        case errc::invalid_timeout:
            return "invalid timeout: NaN";
        case errc::invalid_size:
            return "invalid size: beyond off_t, or a size for a read-only segment";
        case errc::invalid_signal:
            return "invalid signal number: must be 0..SIGRTMAX";
        case errc::invalid_open_mode:
            return "invalid open mode: not open_existing, open_or_create or create_exclusive";
        case errc::message_too_long:
            return "message too long: longer than the queue's max_message_size";
        case errc::buffer_too_small:
            return "receive buffer too small: it must hold the queue's max_message_size bytes";
        case errc::not_readable:
            return "the queue is not open for reading";
        case errc::not_writable:
            return "the queue is not open for writing";
        case errc::read_only:
            return "the shared memory is open read-only";
        case errc::truncate_needs_write:
            return "truncate needs a read-write handle";
        case errc::msg_max_exceeded:
            return "max_messages exceeds /proc/sys/fs/mqueue/msg_max (raise it with sysctl "
                   "fs.mqueue.msg_max)";
        case errc::msgsize_max_exceeded:
            return "max_message_size exceeds /proc/sys/fs/mqueue/msgsize_max (raise it with sysctl "
                   "fs.mqueue.msgsize_max)";
        case errc::queues_max_reached:
            return "/proc/sys/fs/mqueue/queues_max reached: no more queues can be created";
        case errc::rlimit_msgqueue_exceeded:
            return "RLIMIT_MSGQUEUE exceeded: this user's queues would use more bytes than ulimit "
                   "-q "
                   "allows (unlink unused queues or raise the limit)";
        case errc::no_space:
            return "not enough free space in /dev/shm for the segment";
        case errc::mapping_out_of_range:
            return "offset/length: the mapping would be empty or reach past the end of the segment";
        case errc::empty_segment:
            return "the segment has size 0: nothing to map";
        case errc::name_generation_failed:
            return "no unused generated name found after 16 tries";
        case errc::damaged_semaphore:
            return "damaged semaphore: its file /dev/shm/sem.NAME is shorter than a sem_t or not a "
                   "regular file (unlink it and create it again)";
        case errc::owner_dead:
            return "the previous owner died holding the robust mutex: the lock is held; repair the "
                   "protected state, then call consistent()";
        case errc::not_recoverable:
            return "the robust mutex is not recoverable: an owner unlocked it without calling "
                   "consistent() after its previous owner died; unlink and recreate it";
        case errc::already_owner:
            return "the calling thread already holds this robust mutex (it is not recursive)";
        case errc::not_owner:
            return "the calling thread does not hold this robust mutex";
        case errc::not_a_robust_mutex:
            return "the shared-memory object is not a pipc robust mutex (bad header or size)";
        case errc::invalid_slot_count:
            return "invalid slot_count: must be 0 (default 64) or a power of two 2..65536";
        case errc::invalid_channel_mode:
            return "invalid mode: not channel_mode::spsc or channel_mode::mpsc";
        case errc::not_a_channel:
            return "not a channel: the shared-memory object has no channel header (magic or size)";
        case errc::channel_version_mismatch:
            return "channel protocol version differs from the one this pipc speaks";
        case errc::slot_count_mismatch:
            return "slot_count differs from the existing channel's";
        case errc::message_size_mismatch:
            return "max_message_size differs from the existing channel's";
        case errc::channel_mode_mismatch:
            return "mode (spsc or mpsc) differs from the existing channel's";
        case errc::view_outstanding:
            return "the consumer still holds a received view: release it first";
        case errc::consumer_busy:
            return "another live process is this channel's consumer";
        }
        return "unknown pipc error";
    }

    boost::system::error_condition default_error_condition(int ev) const noexcept override {
        switch (static_cast<errc>(ev)) {
        case errc::closed:
            return bse::bad_file_descriptor;
        case errc::name_too_long:
            return bse::filename_too_long;
        case errc::message_too_long:
        case errc::buffer_too_small:
            return bse::message_size;
        case errc::not_readable:
        case errc::not_writable:
        case errc::read_only:
        case errc::truncate_needs_write:
            return bse::permission_denied;
        case errc::queues_max_reached:
        case errc::no_space:
            return bse::no_space_on_device;
        case errc::name_generation_failed:
            return bse::file_exists;
        case errc::rlimit_msgqueue_exceeded:
            return bse::too_many_files_open;
        case errc::owner_dead:
            return bse::owner_dead;
        case errc::not_recoverable:
            return bse::state_not_recoverable;
        case errc::already_owner:
            return bse::resource_deadlock_would_occur;
        case errc::consumer_busy:
            return bse::device_or_resource_busy;
        case errc::not_owner:
        case errc::view_outstanding:
            return bse::operation_not_permitted;
        default:
            return bse::invalid_argument;
        }
    }
};

class condition_category_impl final : public boost::system::error_category {
public:
    constexpr condition_category_impl() noexcept : error_category(0x9e1c'7a50'2b4d'0002ULL) {}
    const char* name() const noexcept override { return "pipc.condition"; }

    std::string message(int ev) const override {
        switch (static_cast<condition>(ev)) {
        case condition::existential:
            return "does not exist, already exists, or has been closed";
        case condition::permissions:
            return "permission denied";
        case condition::busy:
            return "busy: would block, timed out, or taken by another process";
        case condition::signal:
            return "interrupted by a signal";
        }
        return "unknown pipc condition";
    }

    bool equivalent(const boost::system::error_code& code, int cond) const noexcept override {
        const auto c = static_cast<condition>(cond);
        if (code.category() == pipc_category()) {
            switch (static_cast<errc>(code.value())) {
            case errc::closed:
            case errc::damaged_semaphore:
                return c == condition::existential;
            case errc::not_readable:
            case errc::not_writable:
            case errc::read_only:
            case errc::truncate_needs_write:
            case errc::not_owner:
                return c == condition::permissions;
            case errc::not_recoverable:
                return c == condition::existential;
            case errc::consumer_busy:
                return c == condition::busy;
            default:
                return false;
            }
        }
        if (code.category() != boost::system::system_category() &&
            code.category() != boost::system::generic_category())
            return false;
        switch (code.value()) {
        case ENOENT:
        case EEXIST:
        case ESRCH: // a watched process that does not exist
            return c == condition::existential;
        case EACCES:
        case EPERM:
            return c == condition::permissions;
        case EAGAIN:
        case ETIMEDOUT:
        case EBUSY:
            return c == condition::busy;
        case EINTR:
            return c == condition::signal;
        default:
            return false;
        }
    }
};

constinit const pipc_category_impl pipc_category_instance;
constinit const condition_category_impl condition_category_instance;

} // namespace

const boost::system::error_category& pipc_category() noexcept {
    return pipc_category_instance;
}
const boost::system::error_category& condition_category() noexcept {
    return condition_category_instance;
}

void throw_error(const error_code& ec, const std::string& what) {
    if (ec == condition::existential) throw existential_error(ec, what);
    if (ec == condition::permissions) throw permissions_error(ec, what);
    if (ec == condition::busy) throw busy_error(ec, what);
    if (ec == condition::signal) throw signal_error(ec, what);
    throw error(ec, what);
}

} // namespace pipc
