// pipc/error.hpp - error codes, the posix_ipc condition classes, and typed exceptions.
#pragma once

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
const boost::system::error_category& pipc_category() noexcept;
/// The category of pipc::condition. Returns a reference to a static object; thread-safe.
const boost::system::error_category& condition_category() noexcept;

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
class error : public boost::system::system_error {
public:
    using boost::system::system_error::system_error;
};
/// Thrown for codes equivalent to condition::existential.
class existential_error : public error {
public:
    using error::error;
};
/// Thrown for codes equivalent to condition::permissions.
class permissions_error : public error {
public:
    using error::error;
};
/// Thrown for codes equivalent to condition::busy.
class busy_error : public error {
public:
    using error::error;
};
/// Thrown for codes equivalent to condition::signal.
class signal_error : public error {
public:
    using error::error;
};

/// Throws the exception class matching `ec`'s condition, with `what` prefixed to the message.
/// `what` should name the operation and the object, e.g. `message_queue::open "/jobs"`.
[[noreturn]] void throw_error(const error_code& ec, const std::string& what);

} // namespace pipc

/// @cond PIPC_INTERNAL
template <>
struct boost::system::is_error_code_enum<pipc::errc> : std::true_type {};
template <>
struct boost::system::is_error_condition_enum<pipc::condition> : std::true_type {};
/// @endcond
