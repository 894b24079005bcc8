// SPDX-License-Identifier: BSL-1.0
// pipc/error.hpp - error codes, the posix_ipc condition classes, and typed exceptions.
#pragma once

#include <pipc/export.hpp>

#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <string>
#include <type_traits>

namespace pipc {

/// The error code of every non-throwing call: Boost.System's, so it compares with std errc,
/// boost::system::errc, pipc::errc and pipc::condition alike.
using error_code = boost::system::error_code;

/// Failures that pipc detects itself, before or instead of a system call.
///
/// Operating-system failures keep their errno in `boost::system::system_category()`, so
/// `ec == boost::system::errc::no_such_file_or_directory` and `ec.message()` work as usual.
/// Each enumerator's message names the field or the limit concerned.
enum class errc {
    closed = 1,   ///< The object has been closed (or was never opened).
    invalid_name, ///< Name: needs exactly one leading '/', no other '/', not "/." or "/..", no NUL.
    name_too_long, ///< Name: longer than this kind allows (mq/shm 255, semaphore 251 bytes after
                   ///< '/').
    invalid_permissions,      ///< permissions: only the bits 07777 are allowed.
    invalid_initial_value,    ///< initial_value: above SEM_VALUE_MAX.
    invalid_release_count,    ///< release(n): n must be at least 0, and value + n at most
                              ///< SEM_VALUE_MAX.
    invalid_max_messages,     ///< max_messages: must be 0 (system default) or 1..65536.
    invalid_max_message_size, ///< max_message_size: must be 0 (system default) or 1..16 MiB.
    invalid_access,           ///< access: a value outside read_only, write_only, read_write.
    invalid_priority,         ///< priority: must be below MQ_PRIO_MAX.
    invalid_timeout,          ///< timeout: NaN.
    invalid_size,      ///< size: larger than off_t can hold, or given for a read-only object.
    invalid_signal,    ///< signal number: outside 1..SIGRTMAX.
    invalid_open_mode, ///< open: a value outside open_existing, open_or_create, create_exclusive.
    message_too_long,  ///< message: longer than the queue's max_message_size.
    buffer_too_small,  ///< receive buffer: shorter than the queue's max_message_size.
    not_readable,      ///< The queue was opened without read access.
    not_writable,      ///< The queue was opened without write access.
    read_only,         ///< The shared memory was opened read-only.
    truncate_needs_write,     ///< truncate: a read-only handle may not truncate a segment.
    msg_max_exceeded,         ///< max_messages: above /proc/sys/fs/mqueue/msg_max.
    msgsize_max_exceeded,     ///< max_message_size: above /proc/sys/fs/mqueue/msgsize_max.
    queues_max_reached,       ///< /proc/sys/fs/mqueue/queues_max queues exist already.
    rlimit_msgqueue_exceeded, ///< The queue would exceed this user's RLIMIT_MSGQUEUE (ulimit -q).
    no_space,                 ///< Not enough free space in /dev/shm for the segment.
    mapping_out_of_range,   ///< offset/length: the mapping would reach past the end of the segment.
    empty_segment,          ///< The segment has size 0: there is nothing to map.
    name_generation_failed, ///< No unused generated name was found within the retry bound.
    /// The semaphore's file /dev/shm/sem.NAME is not a regular file of at least sizeof(sem_t)
    /// bytes (a crash while creating it, or written by something else). Condition existential:
    /// there is no usable semaphore under the name; unlink it and create it again.
    damaged_semaphore,
    owner_dead,      ///< Not a failure: the lock is held, but its previous owner died holding it.
    not_recoverable, ///< The robust mutex was unlocked inconsistent and can never be locked again.
    already_owner,   ///< lock: the calling thread already holds this robust mutex.
    not_owner,       ///< unlock/consistent: the calling thread does not hold the robust mutex.
    not_a_robust_mutex,       ///< The shared-memory object has no valid robust-mutex header.
    invalid_slot_count,       ///< slot_count: must be 0 (default) or a power of two 2..65536.
    invalid_channel_mode,     ///< mode: a value outside channel_mode::spsc and channel_mode::mpsc.
    not_a_channel,            ///< The shared-memory object has no channel header (magic or size).
    channel_version_mismatch, ///< The channel's protocol version is not the one this pipc speaks.
    slot_count_mismatch,      ///< slot_count: differs from the existing channel's.
    message_size_mismatch,    ///< max_message_size: differs from the existing channel's.
    channel_mode_mismatch,    ///< mode: differs from the existing channel's (spsc or mpsc).
    view_outstanding,         ///< The consumer still holds a view: release it before receiving.
    consumer_busy,            ///< Another live process is this channel's consumer.
};

/// posix_ipc's four exception classes, as error conditions: `ec == pipc::condition::busy`.
enum class condition {
    existential =
        1, ///< Does not exist, already exists, or has been closed (posix_ipc ExistentialError).
    permissions, ///< Not allowed by mode bits or access flags (PermissionsError).
    busy,        ///< Would block, timed out, queue full/empty, notification taken (BusyError).
    signal,      ///< Interrupted by a signal (SignalError).
};

/// The category of pipc::errc. Returns a reference to a static object; thread-safe.
PIPC_API const boost::system::error_category& pipc_category() noexcept;
/// The category of pipc::condition. Returns a reference to a static object; thread-safe.
PIPC_API const boost::system::error_category& condition_category() noexcept;

/// Makes `e` an error_code of pipc_category() (found by ADL: `ec == errc::closed` works).
inline error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), pipc_category()};
}
/// Makes `c` an error_condition of condition_category() (`ec == condition::busy` works).
inline boost::system::error_condition make_error_condition(condition c) noexcept {
    return {static_cast<int>(c), condition_category()};
}

/// Base of every exception pipc throws; still a `boost::system::system_error`, so
/// `catch (const boost::system::system_error&)` keeps working.
class PIPC_API error : public boost::system::system_error {
public:
    using boost::system::system_error::system_error;
};
/// Thrown for codes equivalent to condition::existential.
class PIPC_API existential_error : public error {
public:
    using error::error;
};
/// Thrown for codes equivalent to condition::permissions.
class PIPC_API permissions_error : public error {
public:
    using error::error;
};
/// Thrown for codes equivalent to condition::busy.
class PIPC_API busy_error : public error {
public:
    using error::error;
};
/// Thrown for codes equivalent to condition::signal.
class PIPC_API signal_error : public error {
public:
    using error::error;
};

/// Throws the exception class matching `ec`'s condition, with `what` prefixed to the message.
/// `what` should name the operation and the object, e.g. `message_queue::open "/jobs"`.
[[noreturn]] PIPC_API void throw_error(const error_code& ec, const std::string& what);

} // namespace pipc

/// @cond PIPC_INTERNAL
template <>
struct boost::system::is_error_code_enum<pipc::errc> : std::true_type {};
template <>
struct boost::system::is_error_condition_enum<pipc::condition> : std::true_type {};
/// @endcond
