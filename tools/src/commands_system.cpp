// SPDX-License-Identifier: BSL-1.0
// The whole-system commands: `pipc ls`, `pipc limits`, `pipc doctor`.
#include "commands.hpp"
#include "common.hpp"
#include "inventory.hpp"

#include <pipc/limits.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <semaphore.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace pipc_cli {
namespace {

using pipc::object_kind;

void warn(const std::string& message) {
    std::fprintf(stderr, "pipc: warning: %s\n", message.c_str());
}

boost::json::object mqueue_json(const mqueue_view* view, bool wanted) {
    boost::json::object o;
    if (!wanted) {
        o["listed"] = false;
        o["mount"] = nullptr;
        o["private_mount"] = false;
        o["reason"] = "not requested (--kind)";
    } else if (view->available()) {
        o["listed"] = true;
        o["mount"] =
            view->private_mount() ? boost::json::value(nullptr) : boost::json::value(view->dir());
        o["private_mount"] = view->private_mount();
        o["reason"] = nullptr;
    } else {
        o["listed"] = false;
        o["mount"] = nullptr;
        o["private_mount"] = false;
        o["reason"] = view->reason();
    }
    return o;
}

// --- limits --------------------------------------------------------------------------------------

struct shm_space {
    std::uint64_t size = 0;
    std::uint64_t free = 0;      ///< Free blocks (root may use all of them).
    std::uint64_t available = 0; ///< Free blocks for unprivileged users.
};

std::optional<shm_space> dev_shm_space() {
    struct ::statvfs vfs {};
    if (::statvfs("/dev/shm", &vfs) != 0) return std::nullopt;
    const std::uint64_t frsize = vfs.f_frsize ? vfs.f_frsize : vfs.f_bsize;
    return shm_space{frsize * vfs.f_blocks, frsize * vfs.f_bfree, frsize * vfs.f_bavail};
}

// What the kernel (>= 3.5, mq_overview(7) / getrlimit(2)) charges against RLIMIT_MSGQUEUE for one
// queue, with x86-64 sizes of struct msg_msg and struct posix_msg_tree_node (48 bytes each).
std::uint64_t queue_charge(long max_messages, long message_size) {
    const auto maxmsg = static_cast<std::uint64_t>(max_messages);
    const auto msgsize = static_cast<std::uint64_t>(message_size);
    constexpr std::uint64_t msg_msg_size = 48;
    constexpr std::uint64_t tree_node_size = 48;
    return maxmsg * msg_msg_size + std::min<std::uint64_t>(maxmsg, 32768) * tree_node_size +
           maxmsg * msgsize;
}

struct queue_use {
    std::optional<std::uint64_t> bytes;    ///< nullopt: unknown.
    std::size_t queues = 0;                ///< This uid's.
    std::optional<std::size_t> all_queues; ///< Every user's; nullopt: cannot be listed.
    std::string note;
};

// The kernel keeps the per-user total to itself; estimate it from the queues this uid owns.
queue_use estimate_queue_use(const mqueue_view& view) {
    queue_use use;
    if (!view.available()) {
        use.note = "unknown: " + view.reason();
        return use;
    }
    const auto inv = list_objects({object_kind::message_queue}, &view);
    use.all_queues = inv.objects.size();
    std::uint64_t total = 0;
    const ::uid_t me = ::getuid();
    for (const auto& q : inv.objects) {
        if (q.uid != me) continue;
        if (!q.max_messages || !q.message_size) {
            use.note =
                "unknown: the geometry of queue " + escape_for_text(q.name) + " cannot be read";
            return use;
        }
        total += queue_charge(*q.max_messages, *q.message_size);
        ++use.queues;
    }
    use.bytes = total;
    use.note = "estimate from the geometry of the " + std::to_string(use.queues) +
               " queue(s) owned by uid " + std::to_string(me);
    return use;
}

boost::json::value opt_long(const std::optional<long>& v) {
    return v ? boost::json::value(*v) : boost::json::value(nullptr);
}

void add_limits(CLI::App& app) {
    auto json = std::make_shared<bool>(false);
    auto* cmd = add_command(app, "limits",
                            "Show the system's IPC limits: mqueue sysctls, RLIMIT_MSGQUEUE and its "
                            "use, /dev/shm space, SEM_VALUE_MAX, MQ_PRIO_MAX, page size");
    cmd->add_flag("--json", *json, "Print one JSON object");
    cmd->callback([json] {
        const auto mq = pipc::read_mqueue_limits();
        const auto rl = pipc::read_rlimit_msgqueue();
        const auto shm = dev_shm_space();
        const auto mount = mqueue_view::find_mount();
        const mqueue_view view;
        const auto use = estimate_queue_use(view);
        if (*json) {
            boost::json::object o;
            boost::json::object m;
            m["msg_max"] = opt_long(mq.msg_max);
            m["msg_default"] = opt_long(mq.msg_default);
            m["msgsize_max"] = opt_long(mq.msgsize_max);
            m["msgsize_default"] = opt_long(mq.msgsize_default);
            m["queues_max"] = opt_long(mq.queues_max);
            m["queues"] =
                use.all_queues ? boost::json::value(*use.all_queues) : boost::json::value(nullptr);
            m["mount"] = mount ? boost::json::value(*mount) : boost::json::value(nullptr);
            o["mqueue"] = std::move(m);
            boost::json::object r;
            r["soft"] =
                rl.soft_unlimited ? boost::json::value(nullptr) : boost::json::value(rl.soft);
            r["hard"] =
                rl.hard_unlimited ? boost::json::value(nullptr) : boost::json::value(rl.hard);
            r["current_use"] =
                use.bytes ? boost::json::value(*use.bytes) : boost::json::value(nullptr);
            r["current_use_note"] = use.note;
            o["rlimit_msgqueue"] = std::move(r);
            boost::json::object s;
            s["path"] = "/dev/shm";
            s["size"] = shm ? boost::json::value(shm->size) : boost::json::value(nullptr);
            s["free"] = shm ? boost::json::value(shm->free) : boost::json::value(nullptr);
            s["available"] = shm ? boost::json::value(shm->available) : boost::json::value(nullptr);
            o["dev_shm"] = std::move(s);
            o["sem_value_max"] = pipc::semaphore_value_max();
            o["mq_prio_max"] = pipc::message_priority_max();
            o["page_size"] = pipc::page_size();
            print_json(o);
            return;
        }
        std::string out;
        const auto line = [&](const std::string& key, const std::string& value) {
            char buf[40];
            std::snprintf(buf, sizeof buf, "%-26s", key.c_str());
            out += buf + value + "\n";
        };
        const auto lv = [](const std::optional<long>& v) {
            return v ? std::to_string(*v) : std::string("unknown");
        };
        line("fs.mqueue.msg_max", lv(mq.msg_max));
        line("fs.mqueue.msg_default", lv(mq.msg_default));
        line("fs.mqueue.msgsize_max", lv(mq.msgsize_max));
        line("fs.mqueue.msgsize_default", lv(mq.msgsize_default));
        line("fs.mqueue.queues_max",
             lv(mq.queues_max) + (use.all_queues
                                      ? " (" + std::to_string(*use.all_queues) + " queue(s) exist)"
                                      : std::string(" (queues in use: unknown)")));
        line("mqueue mount", mount ? *mount : std::string("not mounted"));
        const auto rv = [](bool unlimited, std::uint64_t v) {
            return unlimited ? std::string("unlimited") : std::to_string(v) + " bytes";
        };
        line("RLIMIT_MSGQUEUE soft", rv(rl.soft_unlimited, rl.soft));
        line("RLIMIT_MSGQUEUE hard", rv(rl.hard_unlimited, rl.hard));
        line("RLIMIT_MSGQUEUE use", use.bytes ? std::to_string(*use.bytes) + " bytes of " +
                                                    rv(rl.soft_unlimited, rl.soft) + " (an " +
                                                    use.note + ")"
                                              : use.note);
        if (shm) {
            line("/dev/shm size", std::to_string(shm->size) + " (" + human_size(shm->size) + ")");
            line("/dev/shm free",
                 std::to_string(shm->available) + " (" + human_size(shm->available) + ")");
        } else {
            line("/dev/shm", std::string("cannot be read: ") + std::strerror(errno));
        }
        line("SEM_VALUE_MAX", std::to_string(pipc::semaphore_value_max()));
        line("MQ_PRIO_MAX", std::to_string(pipc::message_priority_max()));
        line("page size", std::to_string(pipc::page_size()));
        write_stdout(out);
    });
}

// --- ls ------------------------------------------------------------------------------------------

std::string columns_help() {
    std::string text = "Columns, comma-separated (a leading '+' adds to the defaults):";
    for (const auto& c : all_columns()) text += std::string("\n  ") + c.name + ": " + c.description;
    text += "\nDefault: ";
    const auto def = default_columns();
    for (std::size_t i = 0; i < def.size(); ++i) text += (i ? "," : "") + def[i];
    return text;
}

std::vector<std::string> parse_columns(const std::string& spec) {
    std::vector<std::string> out;
    std::string list = spec;
    if (!list.empty() && list[0] == '+') {
        out = default_columns();
        list.erase(0, 1);
    }
    std::size_t start = 0;
    while (start <= list.size()) {
        auto end = list.find(',', start);
        if (end == std::string::npos) end = list.size();
        std::string name = list.substr(start, end - start);
        for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        const auto& all = all_columns();
        if (std::none_of(all.begin(), all.end(), [&](const column& c) { return name == c.name; }))
            throw tool_error(exit_usage, "--output: unknown column '" + escape_for_text(name) +
                                             "' (see pipc ls --help for the list)");
        out.push_back(name);
        start = end + 1;
    }
    return out;
}

CLI::Validator columns_validator() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            try {
                parse_columns(text);
            } catch (const tool_error& e) {
                return e.what();
            }
            return {};
        },
        "COLUMNS");
}

void add_ls(CLI::App& app) {
    struct options {
        std::optional<std::string> kind;
        std::optional<std::string> output;
        bool json = false;
        bool noheadings = false;
        bool raw = false;
    };
    auto o = std::make_shared<options>();
    auto* cmd = add_command(app, "ls",
                            "List every message queue, semaphore, shared-memory segment, robust "
                            "mutex (lock) and channel with its owner, mode, state and the "
                            "processes holding it open");
    cmd->add_option("--kind", o->kind,
                    "Only this kind (lock: robust mutexes; channel: pipc channels; bell: their "
                    "doorbells; shm: other shared memory)")
        ->check(CLI::IsMember({"mq", "sem", "shm", "lock", "channel", "bell"}));
    cmd->add_option("-o,--output", o->output, "Columns to print (see below)")
        ->check(columns_validator());
    cmd->add_flag("-n,--noheadings", o->noheadings, "Do not print the heading line");
    cmd->add_flag("-r,--raw", o->raw, "One space between columns, no alignment");
    cmd->add_flag("--json", o->json,
                  "Print one JSON object: {objects, mqueue, holders_complete} (all fields, "
                  "whatever --output says)");
    cmd->footer(columns_help() +
                "\nHOLDERS is 'none' only when every process was inspected; "
                "'?' means unknown (run as root to see other users' "
                "processes).\n" +
                exit_code_help);
    cmd->callback([o] {
        std::set<object_kind> kinds;
        if (!o->kind || *o->kind == "mq") kinds.insert(object_kind::message_queue);
        if (!o->kind || *o->kind == "sem") kinds.insert(object_kind::semaphore);
        if (!o->kind || *o->kind == "shm" || *o->kind == "lock" || *o->kind == "channel" ||
            *o->kind == "bell")
            kinds.insert(object_kind::shared_memory);
        const bool want_mq = kinds.count(object_kind::message_queue) > 0;
        std::optional<mqueue_view> view;
        if (want_mq) view.emplace();
        const mqueue_view* mq = view ? &*view : nullptr;
        // Only queues were asked for and they cannot be seen: nothing useful to print.
        if (want_mq && kinds.size() == 1 && !mq->available())
            throw tool_error(mq->error() == EPERM || mq->error() == EACCES ? exit_permissions
                                                                           : exit_failure,
                             mq->reason());
        auto inv = list_objects(kinds, mq);
        if (o->kind) // lock and channel are shared memory underneath: keep only the asked kind
            std::erase_if(inv.objects,
                          [&](const object_info& x) { return kind_label(x) != *o->kind; });
        if (o->json) {
            boost::json::object out;
            boost::json::array objects;
            for (const auto& obj : inv.objects) objects.push_back(to_json(obj));
            out["objects"] = std::move(objects);
            out["mqueue"] = mqueue_json(mq, want_mq);
            out["holders_complete"] = inv.holders_complete();
            boost::json::array pids;
            for (const auto pid : inv.uninspected) pids.push_back(pid);
            out["uninspected_pids"] = std::move(pids);
            print_json(out);
        } else {
            table_style style;
            style.headings = !o->noheadings;
            style.raw = o->raw;
            write_stdout(to_table(
                inv.objects, o->output ? parse_columns(*o->output) : default_columns(), style));
        }
        if (want_mq && !mq->available()) warn(mq->reason());
        if (!inv.holders_complete())
            warn(holders_incomplete_text(inv.uninspected, inv.hidden) +
                 " ('?' in HOLDERS: unknown, not none)");
    });
}

// --- doctor --------------------------------------------------------------------------------------

// What a check found. Only "warn" is a problem (exit 6); "info" is worth knowing but normal (the
// kernel's default msg_max, objects nobody holds right now), "unknown" says a check could not
// decide and is never read as "fine" or as "none".
enum class status { ok, info, warn, unknown };

const char* status_label(status s) {
    switch (s) {
    case status::ok:
        return "ok";
    case status::info:
        return "info";
    case status::warn:
        return "warn";
    case status::unknown:
        return "unknown";
    }
    return "?";
}

struct finding {
    std::string check;
    status state = status::ok;
    std::string message;
};

// systemd's own rule (uid_is_system): uids up to 999 are system users; nobody never logs in.
bool regular_user(::uid_t uid) {
    return uid > 999 && uid != 65534;
}

bool parse_bool(std::string v, bool& out) {
    for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (v == "yes" || v == "true" || v == "on" || v == "1") {
        out = true;
        return true;
    }
    if (v == "no" || v == "false" || v == "off" || v == "0") {
        out = false;
        return true;
    }
    return false;
}

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r");
    if (b == std::string::npos) return {};
    const auto e = s.find_last_not_of(" \t\r");
    return s.substr(b, e - b + 1);
}

// Applies the RemoveIPC= assignments of one logind.conf-style file to `value`.
void apply_logind_file(const std::string& path, bool& value, std::string& source) {
    std::ifstream in(path);
    if (!in) return;
    std::string line;
    bool login_section = false;
    while (std::getline(in, line)) {
        line = trim(line);
        if (line.empty() || line[0] == '#' || line[0] == ';') continue;
        if (line[0] == '[') {
            login_section = line == "[Login]";
            continue;
        }
        if (!login_section) continue;
        const auto eq = line.find('=');
        if (eq == std::string::npos || trim(line.substr(0, eq)) != "RemoveIPC") continue;
        bool v = true;
        if (parse_bool(trim(line.substr(eq + 1)), v)) {
            value = v;
            source = path;
        }
    }
}

// logind's configuration as systemd reads it: the first main file found, then every drop-in
// (*.conf in the logind.conf.d directories; a name in an earlier directory hides the same name
// in later ones) in file-name order. RemoveIPC defaults to yes.
std::pair<bool, std::string> logind_remove_ipc() {
    bool value = true;
    std::string source = "default";
    for (const char* main_file :
         {"/etc/systemd/logind.conf", "/run/systemd/logind.conf",
          "/usr/local/lib/systemd/logind.conf", "/usr/lib/systemd/logind.conf"}) {
        if (::access(main_file, F_OK) == 0) {
            apply_logind_file(main_file, value, source);
            break;
        }
    }
    std::map<std::string, std::string> dropins; // file name -> path
    for (const char* dir :
         {"/etc/systemd/logind.conf.d", "/run/systemd/logind.conf.d",
          "/usr/local/lib/systemd/logind.conf.d", "/usr/lib/systemd/logind.conf.d"}) {
        if (DIR* d = ::opendir(dir)) {
            while (const ::dirent* e = ::readdir(d)) {
                const std::string file = e->d_name;
                if (file.size() < 6 || file.compare(file.size() - 5, 5, ".conf") != 0) continue;
                dropins.emplace(file, std::string(dir) + "/" + file);
            }
            ::closedir(d);
        }
    }
    for (const auto& [file, path] : dropins) apply_logind_file(path, value, source);
    return {value, source};
}

finding check_remove_ipc(const inventory& inv) {
    // Without systemd as init there is no logind to remove anything.
    struct ::stat st {};
    if (::stat("/run/systemd/system", &st) != 0 || !S_ISDIR(st.st_mode))
        return {"remove_ipc", status::ok,
                "systemd is not running: logind's RemoveIPC= does not apply"};
    std::set<::uid_t> users;
    if (regular_user(::getuid())) users.insert(::getuid());
    for (const auto& obj : inv.objects)
        if (regular_user(obj.uid)) users.insert(obj.uid);
    const auto [remove, source] = logind_remove_ipc();
    if (!remove)
        return {"remove_ipc", status::ok,
                "systemd-logind keeps users' IPC objects (RemoveIPC=no in " + source + ")"};
    if (users.empty())
        return {"remove_ipc", status::ok,
                "systemd-logind's RemoveIPC=yes (" + source +
                    ") only affects regular users (uid >= 1000); none runs this or owns an object"};
    std::string uids;
    for (const auto u : users) uids += (uids.empty() ? "" : ", ") + std::to_string(u);
    return {
        "remove_ipc", status::warn,
        "systemd-logind has RemoveIPC=yes (" + source +
            "): it deletes every POSIX IPC object of uid " + uids +
            " when that user's last session ends; run services as a system user, enable "
            "lingering (loginctl enable-linger), or set RemoveIPC=no in /etc/systemd/logind.conf"};
}

// Robust mutexes whose owner died (the next locker must repair, or it becomes unusable) or that
// are already unusable, channels whose consumer or producers died holding slots, and doorbells
// whose channel was removed without them (by shm_unlink rather than pipc's unlink).
void check_locks_and_channels(const inventory& inv, std::vector<finding>& findings) {
    std::size_t locks = 0, bad_locks = 0, channels = 0, bad_channels = 0;
    for (const auto& obj : inv.objects) {
        const std::string name = escape_for_text(obj.name);
        if (obj.type == shm_type::lock) {
            ++locks;
            if (!obj.lock) {
                findings.push_back({"robust_mutex", status::unknown,
                                    "robust mutex " + name +
                                        " cannot be inspected (no read "
                                        "permission, or a damaged object)"});
                continue;
            }
            const auto& l = *obj.lock;
            if (l.status == pipc::robust_mutex_status::owner_dead) {
                ++bad_locks;
                findings.push_back({"robust_mutex", status::warn,
                                    "robust mutex " + name +
                                        ": its owner died holding it; the next locker gets "
                                        "owner_dead and must repair the state and call "
                                        "consistent()"});
            } else if (l.status == pipc::robust_mutex_status::not_recoverable) {
                ++bad_locks;
                std::string message = "robust mutex " + name;
                message += " is not recoverable (unlocked after an owner died without "
                           "consistent()): every lock fails; recreate it (pipc lock rm ";
                message += name;
                message += ")";
                findings.push_back({"robust_mutex", status::warn, message});
            } else if (l.owner_gone) {
                ++bad_locks;
                findings.push_back({"robust_mutex", status::warn,
                                    "robust mutex " + name + " is held by thread " +
                                        std::to_string(l.owner_tid) + ", which no longer exists"});
            }
        } else if (obj.type == shm_type::channel && obj.channel) {
            ++channels;
            const auto& c = *obj.channel;
            if (c.consumer_dead) {
                ++bad_channels;
                findings.push_back({"channel", status::warn,
                                    "channel " + name + ": its consumer (PID " +
                                        std::to_string(c.consumer_pid) + ") died with " +
                                        std::to_string(c.fill) +
                                        " slot(s) in use; the next consumer takes over and "
                                        "receives the unreleased messages again"});
            }
            for (const auto& d : c.dead_claims) {
                ++bad_channels;
                findings.push_back({"channel", status::warn,
                                    "channel " + name + ": producer PID " + std::to_string(d.pid) +
                                        " died holding an unpublished slot (position " +
                                        std::to_string(d.position) +
                                        "); the consumer will skip it"});
            }
        } else if (obj.type == shm_type::bell && obj.bell_orphaned) {
            ++bad_channels;
            std::string message = "doorbell " + name + " belongs to channel ";
            message += escape_for_text(obj.bell_of);
            message += ", which no longer exists (removed by shm_unlink, not pipc's unlink); "
                       "remove it with: pipc rm ";
            message += name;
            findings.push_back({"channel", status::warn, message});
        }
    }
    if (bad_locks == 0)
        findings.push_back(
            {"robust_mutex", status::ok,
             std::to_string(locks) + " robust mutex(es), none with a dead owner or unrecoverable"});
    if (bad_channels == 0)
        findings.push_back({"channel", status::ok,
                            std::to_string(channels) +
                                " channel(s), none with a dead consumer or dead producer claims"});
}

void add_doctor(CLI::App& app) {
    auto json = std::make_shared<bool>(false);
    auto* cmd = add_command(
        app, "doctor",
        "Check what commonly bites POSIX IPC users: /dev/shm size and fill, /dev/mqueue, mqueue "
        "limits against what exists, truncated semaphore files, systemd-logind's RemoveIPC, "
        "robust mutexes whose owner died, channels whose consumer or producers died, objects "
        "nobody holds. Exits 0 when healthy, 6 when a check warns");
    cmd->add_flag("--json", *json, "Print one JSON object: {checks, warnings, healthy}");
    cmd->callback([json] {
        std::vector<finding> findings;
        const auto mq = pipc::read_mqueue_limits();
        if (!mq.msg_max)
            findings.push_back({"msg_max", status::warn,
                                "/proc/sys/fs/mqueue/msg_max cannot be read: message queues may be "
                                "unavailable in this kernel or container"});
        else if (*mq.msg_max <= 10)
            findings.push_back(
                {"msg_max", status::info,
                 "fs.mqueue.msg_max is " + std::to_string(*mq.msg_max) +
                     " (the kernel default): unprivileged processes cannot create a queue holding "
                     "more messages (raise it: sysctl -w fs.mqueue.msg_max=1024)"});
        else
            findings.push_back(
                {"msg_max", status::ok, "fs.mqueue.msg_max is " + std::to_string(*mq.msg_max)});

        constexpr std::uint64_t docker_default = 64ULL << 20;
        if (const auto shm = dev_shm_space(); !shm) {
            findings.push_back({"dev_shm", status::warn,
                                std::string("/dev/shm cannot be read (") + std::strerror(errno) +
                                    "): shared memory and semaphores will fail"});
        } else {
            if (shm->size <= docker_default)
                findings.push_back(
                    {"dev_shm_size", status::warn,
                     "/dev/shm is only " + human_size(shm->size) +
                         " (Docker's default is 64 MiB): larger segments fail, or raise SIGBUS "
                         "when not reserved (docker run --shm-size=1g, or mount -o "
                         "remount,size=1G /dev/shm)"});
            else
                findings.push_back(
                    {"dev_shm_size", status::ok, "/dev/shm is " + human_size(shm->size)});
            const std::uint64_t used = shm->size - std::min(shm->size, shm->free);
            if (shm->size > 0 && used * 10 >= shm->size * 9)
                findings.push_back({"dev_shm_fill", status::warn,
                                    "/dev/shm is " + std::to_string(used * 100 / shm->size) +
                                        "% full: " + human_size(shm->available) + " free of " +
                                        human_size(shm->size)});
            else
                findings.push_back({"dev_shm_fill", status::ok,
                                    "/dev/shm has " + human_size(shm->available) + " free of " +
                                        human_size(shm->size)});
        }

        const auto mount = mqueue_view::find_mount();
        if (mount)
            findings.push_back(
                {"mqueue_mount", status::ok, "the mqueue file system is mounted at " + *mount});
        else
            findings.push_back(
                {"mqueue_mount", status::info,
                 "/dev/mqueue is not mounted: queues work, but ls/rm-style tools cannot see them "
                 "(pipc mounts one privately when run as root; fix: mount -t mqueue none "
                 "/dev/mqueue)"});

        const mqueue_view view;
        const auto inv = list_objects(
            {object_kind::message_queue, object_kind::semaphore, object_kind::shared_memory},
            &view);

        // Queues against fs.mqueue.queues_max (which CAP_SYS_RESOURCE may exceed).
        if (!view.available()) {
            findings.push_back(
                {"queues_max", status::unknown, "cannot count queues: " + view.reason()});
        } else {
            const auto queues = static_cast<long>(
                std::count_if(inv.objects.begin(), inv.objects.end(), [](const object_info& x) {
                    return x.kind == object_kind::message_queue;
                }));
            if (mq.queues_max && *mq.queues_max > 0 && queues * 10 >= *mq.queues_max * 9)
                findings.push_back(
                    {"queues_max", status::warn,
                     std::to_string(queues) + " queues exist of fs.mqueue.queues_max " +
                         std::to_string(*mq.queues_max) + ": new queues will fail with ENOSPC"});
            else
                findings.push_back(
                    {"queues_max", status::ok,
                     std::to_string(queues) + " queues exist (fs.mqueue.queues_max " +
                         (mq.queues_max ? std::to_string(*mq.queues_max) : "unknown") + ")"});
        }

        const auto use = estimate_queue_use(view);
        const auto rl = pipc::read_rlimit_msgqueue();
        if (!use.bytes)
            findings.push_back(
                {"rlimit_msgqueue", status::unknown, "queue memory of this uid is " + use.note});
        else if (!rl.soft_unlimited && rl.soft > 0 && *use.bytes * 5 >= rl.soft * 4)
            findings.push_back({"rlimit_msgqueue", status::warn,
                                "this uid's queues use about " + std::to_string(*use.bytes) +
                                    " of the " + std::to_string(rl.soft) +
                                    " bytes RLIMIT_MSGQUEUE allows (ulimit -q; an estimate): new "
                                    "queues will fail with EMFILE"});
        else
            findings.push_back(
                {"rlimit_msgqueue", status::ok,
                 "this uid's queues use about " + std::to_string(*use.bytes) +
                     " bytes of RLIMIT_MSGQUEUE (" +
                     (rl.soft_unlimited ? std::string("unlimited") : std::to_string(rl.soft)) +
                     "; an estimate)"});

        // glibc maps sizeof(sem_t) bytes of /dev/shm/sem.NAME; a shorter file (a crash between
        // create and write, or someone truncating it) makes every sem_open user die of SIGBUS.
        std::size_t truncated = 0;
        if (DIR* dir = ::opendir("/dev/shm")) {
            const int dfd = ::dirfd(dir);
            while (const ::dirent* e = ::readdir(dir)) {
                const std::string file = e->d_name;
                if (file.rfind("sem.", 0) != 0) continue;
                struct ::stat st {};
                if (::fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
                    !S_ISREG(st.st_mode))
                    continue;
                if (static_cast<std::uint64_t>(st.st_size) >= sizeof(sem_t)) continue;
                ++truncated;
                findings.push_back({"sem_truncated", status::warn,
                                    "semaphore " + escape_for_text("/" + file.substr(4)) +
                                        " is truncated: /dev/shm/" + escape_for_text(file) +
                                        " has " + std::to_string(st.st_size) + " of " +
                                        std::to_string(sizeof(sem_t)) +
                                        " bytes; opening it raises SIGBUS (remove it: pipc rm "
                                        "--kind sem " +
                                        escape_for_text("/" + file.substr(4)) + ")"});
            }
            ::closedir(dir);
        }
        if (truncated == 0)
            findings.push_back({"sem_truncated", status::ok, "no truncated semaphore files"});

        findings.push_back(check_remove_ipc(inv));
        check_locks_and_channels(inv, findings);

        // Objects nobody holds are normal (a semaphore between uses) but worth a look; when the
        // holder scan is incomplete nothing is said about them at all.
        if (!inv.holders_complete()) {
            findings.push_back({"unused", status::unknown,
                                holders_incomplete_text(inv.uninspected, inv.hidden) +
                                    "; cannot tell which objects are unused"});
        } else {
            std::size_t unused = 0;
            for (const auto& obj : inv.objects) {
                if (!obj.holders.empty()) continue;
                ++unused;
                findings.push_back({"unused", status::info,
                                    std::string("unused: ") + kind_label(obj) + " " +
                                        escape_for_text(obj.name) +
                                        " is held open by no process (review, then: pipc rm "
                                        "--kind " +
                                        kind_label(obj) + " " + escape_for_text(obj.name) + ")"});
            }
            if (unused == 0)
                findings.push_back(
                    {"unused", status::ok,
                     "every object is held open by some process" +
                         std::string(view.available() ? "" : " (queues not checked)")});
        }

        std::size_t warnings = 0;
        for (const auto& f : findings) warnings += f.state == status::warn ? 1 : 0;
        if (*json) {
            boost::json::object out;
            boost::json::array checks;
            for (const auto& f : findings) {
                boost::json::object c;
                c["check"] = f.check;
                c["status"] = status_label(f.state);
                c["message"] = f.message;
                checks.push_back(std::move(c));
            }
            out["checks"] = std::move(checks);
            out["warnings"] = warnings;
            out["healthy"] = warnings == 0;
            out["holders_complete"] = inv.holders_complete();
            print_json(out);
        } else {
            std::string out;
            for (const auto& f : findings) {
                char label[16];
                std::snprintf(label, sizeof label, "%-8s", status_label(f.state));
                std::string l = label;
                for (char& ch : l)
                    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
                out += (f.state == status::ok ? std::string("ok      ") : l) + f.message + "\n";
            }
            out += std::to_string(warnings) + " problem(s)\n";
            write_stdout(out);
        }
        if (warnings > 0) throw tool_error(exit_problems, "");
    });
}

} // namespace

void add_system_commands(CLI::App& app) {
    add_ls(app);
    add_limits(app);
    add_doctor(app);
}

} // namespace pipc_cli
