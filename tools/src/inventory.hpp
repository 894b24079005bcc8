// SPDX-License-Identifier: BSL-1.0
// tools/src/inventory.hpp - finding POSIX IPC objects and the processes that hold them.
//
// Shared memory and semaphores are files in /dev/shm (a semaphore "/x" is /dev/shm/sem.x);
// message queues are only visible through an mqueue file system mount. Holders are found by
// matching (device, inode) against /proc/*/fd and /proc/*/maps: glibc maps a semaphore under a
// temporary file name, so paths cannot be trusted, but the inode can.
#pragma once

#include <pipc/inspect.hpp>
#include <pipc/name.hpp>

#include <boost/json.hpp>
#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace pipc_cli {

struct holder {
    ::pid_t pid = 0;
    std::string command; ///< /proc/PID/comm
};

/// One object, as `pipc ls` and `pipc * info` show it. Kind-specific fields stay empty for other
/// kinds; a field that could not be read (no permission) is nullopt.
/// What a shared-memory object turned out to be: pipc's robust mutexes and channels are shm
/// objects, told apart by their name ("/pipc-robust-mutex.x") or their header; a channel's
/// doorbells are FIFOs next to it ("/x.bell-data", "/x.bell-room").
enum class shm_type { plain, lock, channel, bell };

struct object_info {
    pipc::object_kind kind = pipc::object_kind::shared_memory;
    shm_type type = shm_type::plain; ///< Only for shared_memory.
    std::string name;                ///< With the leading '/'.
    ::mode_t mode = 0;
    ::uid_t uid = 0;
    ::gid_t gid = 0;
    std::int64_t ctime = 0;            ///< Seconds since the epoch (inode change).
    std::int64_t mtime = 0;            ///< Seconds since the epoch (last write, send or receive).
    std::optional<std::int64_t> btime; ///< Creation (statx birth time) where the fs records it.
    ::dev_t dev = 0;
    ::ino_t ino = 0;
    // shared memory
    std::optional<std::uint64_t> size;
    // semaphore
    std::optional<int> value;
    // message queue
    std::optional<long> current_messages;
    std::optional<long> max_messages;
    std::optional<long> message_size;
    std::optional<std::uint64_t> queued_bytes; ///< QSIZE from the mqueue fs.
    std::optional<long> notify_pid;            ///< NOTIFY_PID from the mqueue fs (0: none).
    // robust mutex (type lock): nullopt when it cannot be read
    std::optional<pipc::robust_mutex_state> lock;
    // channel
    std::optional<pipc::channel_info> channel;
    // doorbell (type bell): the channel it belongs to, and whether that channel still exists
    std::string bell_of;
    bool bell_orphaned = false;
    std::vector<holder> holders;
    /// False when some process could not be inspected: `holders` may then miss some, and an
    /// empty list means "unknown", never "none".
    bool holders_complete = false;
};

/// When set, the processes of pipc's own PID namespace are taken to be all processes that can
/// hold its objects (true in a container with a private IPC namespace and /dev/shm). Unset, a
/// non-initial PID namespace makes every holder scan incomplete.
void set_trust_pid_namespace(bool trust) noexcept;

/// Fills the stat-derived fields (mode, owner, times, device and inode) of `info`.
void fill_from_stat(object_info& info, const struct ::stat& st, const std::string& path);

const char* kind_label(pipc::object_kind kind) noexcept; ///< "mq", "sem", "shm"
/// "mq", "sem", "shm", "lock" or "channel".
const char* kind_label(const object_info& info) noexcept;
/// The robust mutex prefix of its shm object's file name ("pipc-robust-mutex.").
inline constexpr std::string_view lock_file_prefix = "pipc-robust-mutex.";
/// The robust mutex "/x" whose shm object is the file `pipc-robust-mutex.x` in /dev/shm, or "" if
/// the name is not a robust mutex's.
std::string lock_of_file(std::string_view file);
/// The channel "/x" whose doorbell the file `x.bell-data` / `x.bell-room` in /dev/shm is, or ""
/// if the name is not a bell's.
std::string bell_channel(std::string_view file);
/// Reads a robust mutex's state into `info` (best effort: left unset when unreadable).
void fill_lock(object_info& info);
/// Reads a channel's header into `info`; false when the object is not a channel.
bool fill_channel(object_info& info);
/// "free", "held by PID 12 (tid 13)", "owner dead", "not recoverable", ...
std::string lock_state_text(const pipc::robust_mutex_state& state);
/// "free", "held", "owner_dead", "recovering", "not_recoverable"
const char* lock_status_label(pipc::robust_mutex_status status) noexcept;
/// "spsc" or "mpsc"
const char* channel_mode_label(pipc::channel_mode mode) noexcept;

/// Where message queues can be read as files: an existing mqueue mount, or (as root) a private
/// one made in a private mount namespace and removed again by the destructor.
class mqueue_view {
public:
    mqueue_view();
    ~mqueue_view();
    mqueue_view(const mqueue_view&) = delete;
    mqueue_view& operator=(const mqueue_view&) = delete;

    bool available() const noexcept { return !dir_.empty(); }
    const std::string& dir() const noexcept { return dir_; }
    /// True when the view is pipc's own temporary mount rather than an existing one.
    bool private_mount() const noexcept { return private_; }
    /// Why queues cannot be listed (empty when available()).
    const std::string& reason() const noexcept { return reason_; }
    /// The errno behind reason(), 0 when available().
    int error() const noexcept { return error_; }
    /// The mount point of an mqueue file system in this mount namespace, if any (/dev/mqueue).
    static std::optional<std::string> find_mount();

private:
    std::string dir_;
    std::string reason_;
    int error_ = 0;
    bool private_ = false;
};

/// Holders of every object on the given devices, from one pass over /proc.
class holder_index {
public:
    /// `devices`: st_dev of /dev/shm and of the mqueue fs; other files are ignored.
    explicit holder_index(const std::set<::dev_t>& devices);
    std::vector<holder> find(::dev_t dev, ::ino_t ino) const;
    /// False when some processes could not be inspected (another user's, as non-root), or when
    /// /proc hides other users' processes altogether (hidepid).
    bool complete() const noexcept { return uninspected_.empty() && hidden_.empty(); }
    /// Why processes may be invisible (/proc mounted with hidepid); empty when they are not.
    const std::string& hidden() const noexcept { return hidden_; }
    /// The processes whose descriptors or mappings could not be read.
    const std::vector<::pid_t>& uninspected() const noexcept { return uninspected_; }

private:
    std::map<std::pair<::dev_t, ::ino_t>, std::set<::pid_t>> by_inode_;
    std::map<::pid_t, std::string> commands_;
    std::vector<::pid_t> uninspected_;
    std::string hidden_;
};

/// The holders of one file (an object's st_dev and st_ino) and whether that list is complete.
struct holder_scan {
    std::vector<holder> holders;
    bool complete = false;
    std::string incomplete_text; ///< holders_incomplete_text(...) when !complete.
};
holder_scan scan_holders(::dev_t dev, ::ino_t ino);

/// Reads a semaphore's value and queue attributes/QSIZE into `info` (best effort).
void fill_semaphore(object_info& info);
void fill_queue(object_info& info, const std::string& mqueue_dir);

struct inventory {
    std::vector<object_info> objects; ///< Sorted by kind and name.
    std::vector<::pid_t> uninspected; ///< See holder_index::uninspected().
    std::string hidden;               ///< See holder_index::hidden().
    std::set<::dev_t> devices;        ///< The file systems the objects live on.
    bool holders_complete() const noexcept { return uninspected.empty() && hidden.empty(); }
};

/// "holders may be incomplete: ..." naming the processes that could not be inspected.
std::string holders_incomplete_text(const std::vector<::pid_t>& uninspected,
                                    const std::string& hidden = {});
std::string holders_incomplete_text(const holder_index& index);

/// Every object of `kinds`. Queues are listed only when `mq` is available (null: not wanted).
inventory list_objects(const std::set<pipc::object_kind>& kinds, const mqueue_view* mq);

/// st_dev of /dev/shm, if it exists.
std::optional<::dev_t> shm_device();

boost::json::object to_json(const object_info& info);
/// `key: value` lines for `pipc * info`.
std::string to_text(const object_info& info);
/// Prints `info` for `pipc * info`: to_json's object with `json`, else to_text's lines.
void print_info(const object_info& info, bool json);

/// "none" only when the holders are known to be none; "?" (or a trailing ",?") when the list is
/// incomplete.
std::string holders_text(const object_info& info);

/// The columns `pipc ls -o` accepts, in their documented order, with a one-line description.
struct column {
    const char* name;
    const char* description;
};
const std::vector<column>& all_columns();
/// The default `pipc ls` columns.
std::vector<std::string> default_columns();

struct table_style {
    bool headings = true;
    bool raw = false; ///< One space between cells, no padding (cells never contain spaces).
};
/// The `pipc ls` table with the given columns (names from all_columns()).
std::string to_table(const std::vector<object_info>& objects,
                     const std::vector<std::string>& columns, const table_style& style);

} // namespace pipc_cli
