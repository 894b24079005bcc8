// SPDX-License-Identifier: BSL-1.0
#include "inventory.hpp"

#include "common.hpp"

#include <pipc/message_queue.hpp>
#include <pipc/semaphore.hpp>

#include <spdlog/spdlog.h>

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <tuple>

namespace pipc_cli {
namespace {

// A number after `key` in the status line the mqueue file system returns ("QSIZE:0 NOTIFY:0 ...").
template <class T>
std::optional<T> status_field(const std::string& status, std::string_view key) {
    const auto at = status.find(key);
    if (at == std::string::npos) return std::nullopt;
    const char* first = status.data() + at + key.size();
    T value{};
    const auto [end, ec] = std::from_chars(first, status.data() + status.size(), value);
    if (ec != std::errc{} || end == first) return std::nullopt;
    return value;
}

constexpr const char* shm_dir = "/dev/shm";

void debug(const std::string& message) {
    if (auto lg = logger()) lg->debug("{}", message);
}

std::string errno_text(int err) {
    return std::strerror(err);
}

// Mount points in /proc/self/mountinfo escape space, tab, newline and backslash as \ooo.
std::string unescape_mountinfo(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size()) {
            const std::string oct = s.substr(i + 1, 3);
            if (oct.size() == 3 &&
                std::all_of(oct.begin(), oct.end(), [](char c) { return c >= '0' && c <= '7'; })) {
                out += static_cast<char>(std::stoi(oct, nullptr, 8));
                i += 3;
                continue;
            }
        }
        out += s[i];
    }
    return out;
}

std::string read_small_file(const std::string& path, int* err = nullptr) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (err) *err = errno;
        return {};
    }
    std::string data;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            if (err) *err = errno;
            ::close(fd);
            return {};
        }
        if (n == 0) break;
        data.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    if (err) *err = 0;
    return data;
}

std::optional<std::string> user_name(::uid_t uid) {
    std::vector<char> buf(16384);
    ::passwd pw{};
    ::passwd* result = nullptr;
    if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &result) == 0 && result)
        return std::string(result->pw_name);
    return std::nullopt;
}

std::optional<std::string> group_name(::gid_t gid) {
    std::vector<char> buf(16384);
    ::group gr{};
    ::group* result = nullptr;
    if (::getgrgid_r(gid, &gr, buf.data(), buf.size(), &result) == 0 && result)
        return std::string(result->gr_name);
    return std::nullopt;
}

object_info from_stat(pipc::object_kind kind, std::string name, const struct ::stat& st,
                      const std::string& path) {
    object_info info;
    info.kind = kind;
    info.name = std::move(name);
    fill_from_stat(info, st, path);
    return info;
}

// The hidepid= option of the /proc mount: with it, other users' processes are not even listed,
// so a scan that sees no holder proves nothing.
bool trust_pid_namespace_flag = false;

// The initial PID namespace's inode number (PROC_PID_INIT_INO in the kernel).
constexpr ::ino_t initial_pid_namespace = 0xEFFFFFFCU;

std::string proc_hidepid() {
    struct ::stat ns {};
    if (!trust_pid_namespace_flag && ::stat("/proc/self/ns/pid", &ns) == 0 &&
        ns.st_ino != initial_pid_namespace)
        return "pipc runs in a PID namespace (a container): processes outside it that share this "
               "/dev/shm or IPC namespace are invisible (--trust-pid-namespace asserts there are "
               "none)";
    if (::geteuid() == 0) return {};
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        const auto sep = line.find(" - ");
        if (sep == std::string::npos) continue;
        std::istringstream head(line.substr(0, sep));
        std::string id, parent, devno, root, mount_point;
        head >> id >> parent >> devno >> root >> mount_point;
        if (mount_point != "/proc") continue;
        std::istringstream tail(line.substr(sep + 3));
        std::string fstype, source, options;
        tail >> fstype >> source >> options;
        if (fstype != "proc") continue;
        const auto at = options.find("hidepid=");
        if (at == std::string::npos) return {};
        const std::string value = options.substr(at + 8, options.find(',', at) - at - 8);
        if (value == "0" || value == "off") return {};
        return "/proc is mounted with hidepid=" + value +
               ": other users' processes are invisible; run as root to see them";
    }
    return {};
}

} // namespace

void set_trust_pid_namespace(bool trust) noexcept {
    trust_pid_namespace_flag = trust;
}

void fill_from_stat(object_info& info, const struct ::stat& st, const std::string& path) {
    info.mode = st.st_mode & 07777;
    info.uid = st.st_uid;
    info.gid = st.st_gid;
    info.ctime = static_cast<std::int64_t>(st.st_ctim.tv_sec);
    info.mtime = static_cast<std::int64_t>(st.st_mtim.tv_sec);
    info.dev = st.st_dev;
    info.ino = st.st_ino;
    if (path.empty()) return;
    struct ::statx sx {};
    if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BTIME, &sx) == 0 &&
        (sx.stx_mask & STATX_BTIME) != 0 && sx.stx_ino == st.st_ino)
        info.btime = static_cast<std::int64_t>(sx.stx_btime.tv_sec);
}

const char* kind_label(pipc::object_kind kind) noexcept {
    switch (kind) {
    case pipc::object_kind::message_queue:
        return "mq";
    case pipc::object_kind::semaphore:
        return "sem";
    case pipc::object_kind::shared_memory:
        return "shm";
    }
    return "?";
}

const char* kind_label(const object_info& info) noexcept {
    if (info.kind == pipc::object_kind::shared_memory) {
        if (info.type == shm_type::lock) return "lock";
        if (info.type == shm_type::channel) return "channel";
        if (info.type == shm_type::bell) return "bell";
    }
    return kind_label(info.kind);
}

const char* lock_status_label(pipc::robust_mutex_status status) noexcept {
    switch (status) {
    case pipc::robust_mutex_status::free:
        return "free";
    case pipc::robust_mutex_status::held:
        return "held";
    case pipc::robust_mutex_status::owner_dead:
        return "owner_dead";
    case pipc::robust_mutex_status::recovering:
        return "recovering";
    case pipc::robust_mutex_status::not_recoverable:
        return "not_recoverable";
    }
    return "?";
}

std::string lock_state_text(const pipc::robust_mutex_state& state) {
    const auto owner = [&] {
        std::string who = state.owner_pid != 0 ? "PID " + std::to_string(state.owner_pid)
                                               : "TID " + std::to_string(state.owner_tid);
        if (state.owner_pid != 0 && state.owner_pid != state.owner_tid)
            who += " (thread " + std::to_string(state.owner_tid) + ")";
        if (state.owner_gone) who += " (gone)";
        return who;
    };
    switch (state.status) {
    case pipc::robust_mutex_status::free:
        return "free";
    case pipc::robust_mutex_status::held:
        return "held by " + owner();
    case pipc::robust_mutex_status::owner_dead:
        return "owner dead";
    case pipc::robust_mutex_status::recovering:
        return "recovering by " + owner() + " (owner died)";
    case pipc::robust_mutex_status::not_recoverable:
        return "not recoverable";
    }
    return "?";
}

const char* channel_mode_label(pipc::channel_mode mode) noexcept {
    return mode == pipc::channel_mode::mpsc ? "mpsc" : "spsc";
}

void fill_lock(object_info& info) {
    pipc::error_code ec;
    const auto state = pipc::inspect_robust_mutex(info.name, ec);
    if (ec) {
        debug("cannot inspect robust mutex " + escape_for_text(info.name) + ": " + ec.message());
        return;
    }
    info.lock = state;
}

std::string lock_of_file(std::string_view file) {
    if (file.rfind(lock_file_prefix, 0) != 0 || file.size() == lock_file_prefix.size()) return {};
    return "/" + std::string(file.substr(lock_file_prefix.size()));
}

std::string bell_channel(std::string_view file) {
    for (const std::string_view suffix : {".bell-data", ".bell-room"}) {
        if (file.size() > suffix.size() &&
            file.compare(file.size() - suffix.size(), suffix.size(), suffix) == 0)
            return "/" + std::string(file.substr(0, file.size() - suffix.size()));
    }
    return {};
}

bool fill_channel(object_info& info) {
    pipc::error_code ec;
    auto ch = pipc::inspect_channel(info.name, ec);
    if (ec) return false;
    info.type = shm_type::channel;
    info.channel = std::move(ch);
    return true;
}

// --- mqueue_view -----------------------------------------------------------------------------

std::optional<std::string> mqueue_view::find_mount() {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - FSTYPE SOURCE SUPEROPTIONS"
        const auto sep = line.find(" - ");
        if (sep == std::string::npos) continue;
        std::istringstream tail(line.substr(sep + 3));
        std::string fstype;
        tail >> fstype;
        if (fstype != "mqueue") continue;
        std::istringstream head(line.substr(0, sep));
        std::string id, parent, devno, root, mount_point;
        head >> id >> parent >> devno >> root >> mount_point;
        if (root != "/") continue;
        return unescape_mountinfo(mount_point);
    }
    return std::nullopt;
}

mqueue_view::mqueue_view() {
    if (auto existing = find_mount()) {
        dir_ = *existing;
        debug("message queues: using the mqueue mount at " + dir_);
        return;
    }
    // A private mount namespace keeps the temporary mount invisible to every other process and
    // guarantees it disappears with this process even if it is killed before cleaning up.
    const std::string hint =
        " (an administrator can make queues visible with: mount -t mqueue none /dev/mqueue)";
    if (::unshare(CLONE_NEWNS) != 0) {
        const int err = errno;
        error_ = err;
        reason_ = "message queues cannot be listed: no mqueue file system is mounted, and mounting "
                  "one privately needs root (CAP_SYS_ADMIN): unshare(CLONE_NEWNS): " +
                  errno_text(err) + hint;
        return;
    }
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        error_ = errno;
        reason_ = "message queues cannot be listed: making the private mount namespace private "
                  "failed: " +
                  errno_text(errno) + hint;
        return;
    }
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/pipc-mqueue-XXXXXX";
    std::vector<char> path(templ.begin(), templ.end());
    path.push_back('\0');
    if (!::mkdtemp(path.data())) {
        error_ = errno;
        reason_ = "message queues cannot be listed: cannot create a temporary mount point " +
                  templ + ": " + errno_text(errno) + hint;
        return;
    }
    if (::mount("mqueue", path.data(), "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
        const int err = errno;
        error_ = err;
        ::rmdir(path.data());
        reason_ =
            "message queues cannot be listed: mount -t mqueue failed: " + errno_text(err) + hint;
        return;
    }
    dir_ = path.data();
    private_ = true;
    debug("message queues: /dev/mqueue is not mounted; mounted mqueue privately at " + dir_);
}

mqueue_view::~mqueue_view() {
    if (!private_) return;
    if (::umount2(dir_.c_str(), MNT_DETACH) == 0) ::rmdir(dir_.c_str());
}

// --- holder_index ----------------------------------------------------------------------------

holder_index::holder_index(const std::set<::dev_t>& devices) : hidden_(proc_hidepid()) {
    if (devices.empty()) return;
    DIR* proc = ::opendir("/proc");
    if (!proc) {
        uninspected_.push_back(0);
        return;
    }
    const ::pid_t self = ::getpid();
    while (const ::dirent* entry = ::readdir(proc)) {
        char* end = nullptr;
        const long pid_long = std::strtol(entry->d_name, &end, 10);
        if (end == entry->d_name || *end != '\0' || pid_long <= 0) continue;
        const auto pid = static_cast<::pid_t>(pid_long);
        if (pid == self) continue; // pipc opens objects itself while it looks at them
        const std::string base = std::string("/proc/") + entry->d_name;
        bool found = false;
        bool denied = false;

        if (DIR* fds = ::opendir((base + "/fd").c_str())) {
            const int dfd = ::dirfd(fds);
            while (const ::dirent* fd = ::readdir(fds)) {
                if (fd->d_name[0] == '.') continue;
                struct ::stat st {};
                if (::fstatat(dfd, fd->d_name, &st, 0) != 0) {
                    // A descriptor closed meanwhile held nothing; one we may not look at might.
                    if (errno == EACCES || errno == EPERM) denied = true;
                    continue;
                }
                if (!devices.count(st.st_dev)) continue;
                by_inode_[{st.st_dev, st.st_ino}].insert(pid);
                found = true;
            }
            ::closedir(fds);
        } else if (errno == EACCES || errno == EPERM) {
            denied = true;
        }

        int err = 0;
        const std::string maps = read_small_file(base + "/maps", &err);
        if (err == EACCES || err == EPERM) denied = true;
        if (denied) uninspected_.push_back(pid);
        std::istringstream lines(maps);
        std::string line;
        while (std::getline(lines, line)) {
            // "start-end perms offset MAJ:MIN inode path"
            unsigned maj = 0, min = 0;
            unsigned long long inode = 0;
            // The kernel formats these fields; a line that does not parse is skipped.
            // NOLINTNEXTLINE(cert-err34-c)
            if (std::sscanf(line.c_str(), "%*s %*s %*s %x:%x %llu", &maj, &min, &inode) != 3)
                continue;
            if (inode == 0) continue;
            const ::dev_t dev = ::makedev(maj, min);
            if (!devices.count(dev)) continue;
            by_inode_[{dev, static_cast<::ino_t>(inode)}].insert(pid);
            found = true;
        }
        if (found) {
            std::string comm = read_small_file(base + "/comm");
            while (!comm.empty() && (comm.back() == '\n' || comm.back() == '\r')) comm.pop_back();
            commands_[pid] = comm;
        }
    }
    ::closedir(proc);
}

std::vector<holder> holder_index::find(::dev_t dev, ::ino_t ino) const {
    std::vector<holder> out;
    const auto it = by_inode_.find({dev, ino});
    if (it == by_inode_.end()) return out;
    for (const ::pid_t pid : it->second) {
        const auto c = commands_.find(pid);
        out.push_back({pid, c == commands_.end() ? std::string() : c->second});
    }
    return out;
}

std::string holders_incomplete_text(const std::vector<::pid_t>& uninspected,
                                    const std::string& hidden) {
    if (!hidden.empty()) return "holders are unknown: " + hidden;
    if (uninspected.empty()) return {};
    std::string pids;
    for (std::size_t i = 0; i < uninspected.size() && i < 10; ++i)
        pids += (i ? ", " : "") + std::to_string(uninspected[i]);
    if (uninspected.size() > 10) pids += ", ...";
    return "holders may be incomplete: " + std::to_string(uninspected.size()) +
           " process(es) could not be inspected (pid " + pids + ")" +
           (::geteuid() == 0 ? "" : "; run as root to see all");
}

std::string holders_incomplete_text(const holder_index& index) {
    return holders_incomplete_text(index.uninspected(), index.hidden());
}

holder_scan scan_holders(::dev_t dev, ::ino_t ino) {
    const holder_index index({dev});
    return {index.find(dev, ino), index.complete(), holders_incomplete_text(index)};
}

// --- objects ---------------------------------------------------------------------------------

std::optional<::dev_t> shm_device() {
    struct ::stat st {};
    if (::stat(shm_dir, &st) != 0) return std::nullopt;
    return st.st_dev;
}

void fill_semaphore(object_info& info) {
    pipc::error_code ec;
    pipc::semaphore sem;
    sem.open(info.name, {}, ec);
    if (ec) {
        debug("cannot open semaphore " + escape_for_text(info.name) + ": " + ec.message());
        return;
    }
    const int v = sem.value(ec);
    if (!ec) info.value = v;
}

void fill_queue(object_info& info, const std::string& mqueue_dir) {
    if (!mqueue_dir.empty()) {
        // One line: "QSIZE:12         NOTIFY:0     SIGNO:0     NOTIFY_PID:0".
        int err = 0;
        const std::string status = read_small_file(mqueue_dir + "/" + info.name.substr(1), &err);
        if (err == 0) {
            if (const auto qsize = status_field<unsigned long long>(status, "QSIZE:"))
                info.queued_bytes = *qsize;
            if (const auto npid = status_field<long>(status, "NOTIFY_PID:"))
                info.notify_pid = *npid;
        }
    }
    pipc::message_queue_options opts;
    opts.access = pipc::access::read_only;
    opts.blocking = false;
    pipc::error_code ec;
    pipc::message_queue q;
    q.open(info.name, opts, ec);
    if (ec) {
        debug("cannot open message queue " + escape_for_text(info.name) + ": " + ec.message());
        return;
    }
    const auto attr = q.attributes(ec);
    if (ec) return;
    info.current_messages = attr.current_messages;
    info.max_messages = attr.max_messages;
    info.message_size = attr.max_message_size;
}

inventory list_objects(const std::set<pipc::object_kind>& kinds, const mqueue_view* mq) {
    std::vector<object_info> objects;
    std::set<::dev_t> devices;
    const bool want_shm = kinds.count(pipc::object_kind::shared_memory) > 0;
    const bool want_sem = kinds.count(pipc::object_kind::semaphore) > 0;
    if (want_shm || want_sem) {
        if (DIR* dir = ::opendir(shm_dir)) {
            const int dfd = ::dirfd(dir);
            while (const ::dirent* entry = ::readdir(dir)) {
                const std::string file = entry->d_name;
                if (file == "." || file == "..") continue;
                struct ::stat st {};
                if (::fstatat(dfd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
                if (S_ISFIFO(st.st_mode) && want_shm) {
                    // A channel's doorbell; whether its channel still exists is known once
                    // every entry was seen.
                    std::string channel = bell_channel(file);
                    if (channel.empty()) continue;
                    devices.insert(st.st_dev);
                    auto info = from_stat(pipc::object_kind::shared_memory, "/" + file, st,
                                          std::string(shm_dir) + "/" + file);
                    info.type = shm_type::bell;
                    info.bell_of = std::move(channel);
                    objects.push_back(std::move(info));
                    continue;
                }
                if (!S_ISREG(st.st_mode)) continue;
                devices.insert(st.st_dev);
                // glibc keeps semaphore "/x" as /dev/shm/sem.x; everything else is shm_open's.
                if (file.rfind("sem.", 0) == 0) {
                    if (!want_sem) continue;
                    auto info = from_stat(pipc::object_kind::semaphore, "/" + file.substr(4), st,
                                          std::string(shm_dir) + "/" + file);
                    fill_semaphore(info);
                    objects.push_back(std::move(info));
                } else if (std::string lock = lock_of_file(file); !lock.empty()) {
                    // A robust mutex "/x" is the shm object "/pipc-robust-mutex.x".
                    if (!want_shm) continue;
                    auto info = from_stat(pipc::object_kind::shared_memory, lock, st,
                                          std::string(shm_dir) + "/" + file);
                    info.type = shm_type::lock;
                    info.size = static_cast<std::uint64_t>(st.st_size);
                    fill_lock(info);
                    objects.push_back(std::move(info));
                } else {
                    if (!want_shm) continue;
                    auto info = from_stat(pipc::object_kind::shared_memory, "/" + file, st,
                                          std::string(shm_dir) + "/" + file);
                    info.size = static_cast<std::uint64_t>(st.st_size);
                    fill_channel(info); // a channel is shm with a channel header
                    objects.push_back(std::move(info));
                }
            }
            ::closedir(dir);
        }
    }
    if (kinds.count(pipc::object_kind::message_queue) && mq && mq->available()) {
        if (DIR* dir = ::opendir(mq->dir().c_str())) {
            const int dfd = ::dirfd(dir);
            while (const ::dirent* entry = ::readdir(dir)) {
                const std::string file = entry->d_name;
                if (file == "." || file == "..") continue;
                struct ::stat st {};
                if (::fstatat(dfd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
                if (!S_ISREG(st.st_mode)) continue;
                devices.insert(st.st_dev);
                auto info = from_stat(pipc::object_kind::message_queue, "/" + file, st,
                                      mq->dir() + "/" + file);
                fill_queue(info, mq->dir());
                objects.push_back(std::move(info));
            }
            ::closedir(dir);
        }
    }
    std::set<std::string> channels;
    for (const auto& info : objects)
        if (info.type == shm_type::channel) channels.insert(info.name);
    for (auto& info : objects)
        if (info.type == shm_type::bell) info.bell_orphaned = channels.count(info.bell_of) == 0;
    const holder_index holders(devices);
    for (auto& info : objects) {
        info.holders = holders.find(info.dev, info.ino);
        info.holders_complete = holders.complete();
    }
    std::sort(objects.begin(), objects.end(), [](const object_info& a, const object_info& b) {
        return std::tuple(std::string_view(kind_label(a)), a.name) <
               std::tuple(std::string_view(kind_label(b)), b.name);
    });
    return {std::move(objects), holders.uninspected(), holders.hidden(), devices};
}

// --- rendering -------------------------------------------------------------------------------

namespace {
template <class T>
boost::json::value optional_json(const std::optional<T>& v) {
    if (!v) return nullptr;
    return boost::json::value(*v);
}

void lock_json(boost::json::object& o, const object_info& info) {
    if (!info.lock) {
        o["state"] = nullptr;
        o["owner_pid"] = nullptr;
        o["owner_tid"] = nullptr;
        return;
    }
    const auto& l = *info.lock;
    o["state"] = lock_status_label(l.status);
    const bool owned = l.owner_tid != 0;
    o["owner_pid"] =
        owned && l.owner_pid != 0 ? boost::json::value(l.owner_pid) : boost::json::value(nullptr);
    o["owner_tid"] = owned ? boost::json::value(l.owner_tid) : boost::json::value(nullptr);
    o["owner_gone"] = l.owner_gone;
    o["waiters"] = l.waiters;
}

void channel_json(boost::json::object& o, const object_info& info) {
    const auto& c = *info.channel;
    o["slots"] = c.slot_count;
    o["max_message_size"] = c.max_message_size;
    o["channel_mode"] = channel_mode_label(c.mode);
    o["fill"] = c.fill;
    o["ready"] = c.ready;
    o["abandoned"] = c.abandoned;
    o["consumer_pid"] =
        c.consumer_pid != 0 ? boost::json::value(c.consumer_pid) : boost::json::value(nullptr);
    o["consumer_dead"] = c.consumer_dead;
    boost::json::array dead;
    for (const auto& d : c.dead_claims) {
        boost::json::object x;
        x["position"] = d.position;
        x["pid"] = d.pid;
        dead.push_back(std::move(x));
    }
    o["dead_claims"] = std::move(dead);
}
} // namespace

boost::json::object to_json(const object_info& info) {
    boost::json::object o;
    o["kind"] = kind_label(info);
    put_bytes(o, "name", "name_encoding", info.name);
    o["mode"] = mode_string(info.mode);
    o["uid"] = info.uid;
    o["gid"] = info.gid;
    const auto user = user_name(info.uid);
    const auto group = group_name(info.gid);
    o["user"] = user ? boost::json::value(*user) : boost::json::value(nullptr);
    o["group"] = group ? boost::json::value(*group) : boost::json::value(nullptr);
    o["ctime"] = info.ctime;
    o["mtime"] = info.mtime;
    o["created"] = optional_json(info.btime);
    switch (info.kind) {
    case pipc::object_kind::shared_memory:
        o["size"] = optional_json(info.size);
        if (info.type == shm_type::lock) lock_json(o, info);
        if (info.type == shm_type::channel) channel_json(o, info);
        if (info.type == shm_type::bell) {
            o["channel"] = info.bell_of;
            o["orphaned"] = info.bell_orphaned;
        }
        break;
    case pipc::object_kind::semaphore:
        o["value"] = optional_json(info.value);
        break;
    case pipc::object_kind::message_queue:
        o["current_messages"] = optional_json(info.current_messages);
        o["max_messages"] = optional_json(info.max_messages);
        o["message_size"] = optional_json(info.message_size);
        o["queued_bytes"] = optional_json(info.queued_bytes);
        o["notify_pid"] = optional_json(info.notify_pid);
        break;
    }
    boost::json::array holders;
    for (const auto& h : info.holders) {
        boost::json::object ho;
        ho["pid"] = h.pid;
        put_bytes(ho, "command", "command_encoding", h.command);
        holders.push_back(std::move(ho));
    }
    o["holders"] = std::move(holders);
    o["holders_complete"] = info.holders_complete;
    return o;
}

namespace {
std::string owner_text(::uid_t uid) {
    const auto n = user_name(uid);
    return n ? *n : std::to_string(uid);
}
std::string group_text(::gid_t gid) {
    const auto n = group_name(gid);
    return n ? *n : std::to_string(gid);
}
template <class T>
std::string opt_text(const std::optional<T>& v) {
    return v ? std::to_string(*v) : std::string("?");
}
// Cells never contain spaces: "held:PID", "owner-dead", "not-recoverable".
std::string lock_cell(const object_info& info) {
    if (!info.lock) return "?";
    const auto& l = *info.lock;
    const std::string who = std::to_string(l.owner_pid != 0 ? l.owner_pid : l.owner_tid) +
                            (l.owner_gone ? "(gone)" : "");
    switch (l.status) {
    case pipc::robust_mutex_status::free:
        return "free";
    case pipc::robust_mutex_status::held:
        return "held:" + who;
    case pipc::robust_mutex_status::owner_dead:
        return "owner-dead";
    case pipc::robust_mutex_status::recovering:
        return "recovering:" + who;
    case pipc::robust_mutex_status::not_recoverable:
        return "not-recoverable";
    }
    return "?";
}
std::string channel_cell(const object_info& info) {
    const auto& c = *info.channel;
    std::string out = "fill=" + std::to_string(c.fill) + "/" + std::to_string(c.slot_count) +
                      ",msgsize=" + std::to_string(c.max_message_size) + "," +
                      channel_mode_label(c.mode);
    if (c.consumer_dead) out += ",consumer-dead:" + std::to_string(c.consumer_pid);
    if (!c.dead_claims.empty()) out += ",dead-claims=" + std::to_string(c.dead_claims.size());
    return out;
}
// Cells never contain spaces, so that --raw output splits on single spaces.
std::string details_text(const object_info& info) {
    switch (info.kind) {
    case pipc::object_kind::shared_memory:
        if (info.type == shm_type::lock) return "state=" + lock_cell(info);
        if (info.type == shm_type::channel) return channel_cell(info);
        if (info.type == shm_type::bell)
            return "channel=" + escape_for_text(info.bell_of) +
                   (info.bell_orphaned ? ",orphaned" : "");
        return "size=" + opt_text(info.size);
    case pipc::object_kind::semaphore:
        return "value=" + opt_text(info.value);
    case pipc::object_kind::message_queue:
        return "messages=" + opt_text(info.current_messages) + "/" + opt_text(info.max_messages) +
               ",msgsize=" + opt_text(info.message_size);
    }
    return {};
}
// ISO 8601 in local time, without spaces.
std::string time_text(std::int64_t seconds) {
    const auto t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    if (!::localtime_r(&t, &tm)) return std::to_string(seconds);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return buf;
}
} // namespace

std::string holders_text(const object_info& info) {
    if (info.holders.empty()) return info.holders_complete ? "none" : "?";
    std::string out;
    for (const auto& h : info.holders) {
        if (!out.empty()) out += ",";
        out += std::to_string(h.pid) + "(" + escape_for_text(h.command) + ")";
    }
    if (!info.holders_complete) out += ",?";
    return out;
}

std::string to_text(const object_info& info) {
    std::string out;
    const auto line = [&](const char* key, const std::string& value) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%-17s ", (std::string(key) + ":").c_str());
        out += buf + value + "\n";
    };
    line("name", escape_for_text(info.name));
    line("kind", kind_label(info));
    line("mode", mode_string(info.mode));
    line("owner", owner_text(info.uid) + " (" + std::to_string(info.uid) + ")");
    line("group", group_text(info.gid) + " (" + std::to_string(info.gid) + ")");
    line("created", info.btime ? time_text(*info.btime) : std::string("unknown"));
    line("modified", time_text(info.mtime));
    line("changed", time_text(info.ctime));
    switch (info.kind) {
    case pipc::object_kind::shared_memory:
        if (info.type == shm_type::lock) {
            line("state", info.lock ? lock_state_text(*info.lock) : std::string("?"));
            if (info.lock) line("waiters", info.lock->waiters ? "yes" : "no");
            break;
        }
        line("size", info.size ? std::to_string(*info.size) + " (" + human_size(*info.size) + ")"
                               : std::string("?"));
        if (info.type == shm_type::channel) {
            const auto& c = *info.channel;
            line("slots", std::to_string(c.slot_count));
            line("max_message_size", std::to_string(c.max_message_size));
            line("producers", channel_mode_label(c.mode));
            line("fill", std::to_string(c.fill) + " (" + std::to_string(c.ready) + " ready)");
            line("abandoned", std::to_string(c.abandoned));
            line("consumer", c.consumer_pid == 0 ? std::string("none")
                                                 : std::to_string(c.consumer_pid) +
                                                       (c.consumer_dead ? " (dead)" : ""));
            std::string dead;
            for (const auto& d : c.dead_claims)
                dead += (dead.empty() ? "" : ", ") + std::to_string(d.pid) + " (position " +
                        std::to_string(d.position) + ")";
            line("dead_producers", dead.empty() ? std::string("none") : dead);
        }
        break;
    case pipc::object_kind::semaphore:
        line("value", opt_text(info.value));
        break;
    case pipc::object_kind::message_queue:
        line("current_messages", opt_text(info.current_messages));
        line("max_messages", opt_text(info.max_messages));
        line("message_size", opt_text(info.message_size));
        line("queued_bytes", opt_text(info.queued_bytes));
        line("notify_pid", opt_text(info.notify_pid));
        break;
    }
    line("holders", holders_text(info));
    if (!info.holders_complete)
        line("holders_complete",
             "no (some processes could not be inspected: '?' = unknown, not none)");
    return out;
}

void print_info(const object_info& info, bool json) {
    if (json)
        print_json(to_json(info));
    else
        write_stdout(to_text(info));
}

const std::vector<column>& all_columns() {
    static const std::vector<column> columns = {
        {"kind", "mq, sem, shm, lock (robust mutex) or channel"},
        {"name", "the object's name (non-printable bytes as \\xNN)"},
        {"mode", "permission bits, octal"},
        {"owner", "owning user (name, or uid without a passwd entry)"},
        {"uid", "owning uid"},
        {"group", "owning group (name, or gid)"},
        {"gid", "owning gid"},
        {"size", "shm: size in bytes (- for other kinds)"},
        {"value", "sem: current value (? when it cannot be opened)"},
        {"messages", "mq: messages queued/capacity"},
        {"msgsize", "mq: largest message in bytes"},
        {"qsize", "mq: bytes in queued messages"},
        {"state", "lock: free, held:PID, owner-dead, recovering:PID, not-recoverable"},
        {"fill", "channel: slots in use/slots"},
        {"details", "size=, value=, messages=/msgsize=, state= or fill=/msgsize=/mode, by kind"},
        {"holders", "pid(command) of each holder; none, or ? when unknown"},
        {"nholders", "number of holders; a trailing + when there may be more"},
        {"created", "creation time (where the file system records it, else -)"},
        {"modified", "last modification (write, send or receive)"},
        {"changed", "last inode change (creation, chmod, chown, writes)"},
    };
    return columns;
}

std::vector<std::string> default_columns() {
    return {"kind", "name", "mode", "owner", "group", "modified", "details", "holders"};
}

namespace {
std::string cell(const object_info& o, const std::string& column) {
    using pipc::object_kind;
    const auto only = [&](object_kind k, const std::string& v) {
        return o.kind == k ? v : std::string("-");
    };
    if (column == "kind") return kind_label(o);
    if (column == "name") return escape_for_text(o.name);
    if (column == "mode") return mode_string(o.mode);
    if (column == "owner") return escape_for_text(owner_text(o.uid));
    if (column == "uid") return std::to_string(o.uid);
    if (column == "group") return escape_for_text(group_text(o.gid));
    if (column == "gid") return std::to_string(o.gid);
    if (column == "size") return only(object_kind::shared_memory, opt_text(o.size));
    if (column == "value") return only(object_kind::semaphore, opt_text(o.value));
    if (column == "messages")
        return only(object_kind::message_queue,
                    opt_text(o.current_messages) + "/" + opt_text(o.max_messages));
    if (column == "msgsize") return only(object_kind::message_queue, opt_text(o.message_size));
    if (column == "qsize") return only(object_kind::message_queue, opt_text(o.queued_bytes));
    if (column == "state")
        return o.type == shm_type::lock && o.kind == object_kind::shared_memory ? lock_cell(o)
                                                                                : std::string("-");
    if (column == "fill")
        return o.type == shm_type::channel && o.channel
                   ? std::to_string(o.channel->fill) + "/" + std::to_string(o.channel->slot_count)
                   : std::string("-");
    if (column == "details") return details_text(o);
    if (column == "holders") return holders_text(o);
    if (column == "nholders")
        return std::to_string(o.holders.size()) + (o.holders_complete ? "" : "+");
    if (column == "created") return o.btime ? time_text(*o.btime) : std::string("-");
    if (column == "modified") return time_text(o.mtime);
    if (column == "changed") return time_text(o.ctime);
    return "?";
}
} // namespace

std::string to_table(const std::vector<object_info>& objects,
                     const std::vector<std::string>& columns, const table_style& style) {
    std::vector<std::vector<std::string>> rows;
    if (style.headings) {
        std::vector<std::string> head;
        head.reserve(columns.size());
        for (const auto& c : columns) {
            std::string h = c;
            for (char& ch : h) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            head.push_back(h);
        }
        rows.push_back(std::move(head));
    }
    for (const auto& o : objects) {
        std::vector<std::string> r;
        r.reserve(columns.size());
        for (const auto& c : columns) r.push_back(cell(o, c));
        rows.push_back(std::move(r));
    }
    std::vector<std::size_t> width(columns.size(), 0);
    for (const auto& r : rows)
        for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
    std::string out;
    for (const auto& r : rows) {
        for (std::size_t i = 0; i < r.size(); ++i) {
            out += r[i];
            if (i + 1 < r.size())
                out += style.raw ? std::string(" ") : std::string(width[i] - r[i].size() + 2, ' ');
        }
        out += "\n";
    }
    return out;
}

} // namespace pipc_cli
