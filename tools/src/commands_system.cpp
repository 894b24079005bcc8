// The whole-system commands: `pipc ls`, `pipc limits`, `pipc doctor`.
#include "commands.hpp"
#include "common.hpp"
#include "inventory.hpp"

#include <pipc/limits.hpp>

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
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
    std::optional<std::uint64_t> bytes; ///< nullopt: unknown.
    std::size_t queues = 0;
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
    use.note = "estimated from the " + std::to_string(use.queues) + " queue(s) owned by uid " +
               std::to_string(me);
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
        line("fs.mqueue.queues_max", lv(mq.queues_max));
        line("mqueue mount", mount ? *mount : std::string("not mounted"));
        const auto rv = [](bool unlimited, std::uint64_t v) {
            return unlimited ? std::string("unlimited") : std::to_string(v) + " bytes";
        };
        line("RLIMIT_MSGQUEUE soft", rv(rl.soft_unlimited, rl.soft));
        line("RLIMIT_MSGQUEUE hard", rv(rl.hard_unlimited, rl.hard));
        line("RLIMIT_MSGQUEUE use",
             use.bytes ? std::to_string(*use.bytes) + " bytes (" + use.note + ")" : use.note);
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

void add_ls(CLI::App& app) {
    struct options {
        std::optional<std::string> kind;
        bool json = false;
    };
    auto o = std::make_shared<options>();
    auto* cmd = add_command(app, "ls",
                            "List every message queue, semaphore and shared-memory segment with "
                            "its owner, mode, state and the processes holding it open");
    cmd->add_option("--kind", o->kind, "Only this kind")
        ->check(CLI::IsMember({"mq", "sem", "shm"}));
    cmd->add_flag("--json", o->json, "Print one JSON object: {objects, mqueue, holders_complete}");
    cmd->callback([o] {
        std::set<object_kind> kinds;
        if (!o->kind || *o->kind == "mq") kinds.insert(object_kind::message_queue);
        if (!o->kind || *o->kind == "sem") kinds.insert(object_kind::semaphore);
        if (!o->kind || *o->kind == "shm") kinds.insert(object_kind::shared_memory);
        const bool want_mq = kinds.count(object_kind::message_queue) > 0;
        std::optional<mqueue_view> view;
        if (want_mq) view.emplace();
        const mqueue_view* mq = view ? &*view : nullptr;
        // Only queues were asked for and they cannot be seen: nothing useful to print.
        if (want_mq && kinds.size() == 1 && !mq->available())
            throw tool_error(mq->error() == EPERM || mq->error() == EACCES ? exit_permissions
                                                                           : exit_failure,
                             mq->reason());
        const auto inv = list_objects(kinds, mq);
        if (o->json) {
            boost::json::object out;
            boost::json::array objects;
            for (const auto& obj : inv.objects) objects.push_back(to_json(obj));
            out["objects"] = std::move(objects);
            out["mqueue"] = mqueue_json(mq, want_mq);
            out["holders_complete"] = inv.uninspected.empty();
            boost::json::array pids;
            for (const auto pid : inv.uninspected) pids.push_back(pid);
            out["uninspected_pids"] = std::move(pids);
            print_json(out);
        } else {
            write_stdout(to_table(inv.objects));
        }
        if (want_mq && !mq->available()) warn(mq->reason());
        if (!inv.uninspected.empty()) warn(holders_incomplete_text(inv.uninspected));
    });
}

// --- doctor --------------------------------------------------------------------------------------

struct finding {
    std::string check;
    bool ok = true;
    std::string message;
};

void add_doctor(CLI::App& app) {
    auto json = std::make_shared<bool>(false);
    auto* cmd = add_command(app, "doctor",
                            "Check for what commonly bites POSIX IPC users: msg_max of 10, a small "
                            "/dev/shm, /dev/mqueue not mounted, leaked objects nobody holds. "
                            "Exits 0 when the checks ran, whatever they found");
    cmd->add_flag("--json", *json, "Print one JSON object: {checks, warnings}");
    cmd->callback([json] {
        std::vector<finding> findings;
        const auto mq = pipc::read_mqueue_limits();
        if (!mq.msg_max)
            findings.push_back({"msg_max", false,
                                "/proc/sys/fs/mqueue/msg_max cannot be read: message queues may be "
                                "unavailable in this kernel or container"});
        else if (*mq.msg_max <= 10)
            findings.push_back(
                {"msg_max", false,
                 "fs.mqueue.msg_max is " + std::to_string(*mq.msg_max) +
                     ": unprivileged processes cannot create a queue holding more messages (raise "
                     "it: sysctl -w fs.mqueue.msg_max=1024)"});
        else
            findings.push_back(
                {"msg_max", true, "fs.mqueue.msg_max is " + std::to_string(*mq.msg_max)});

        constexpr std::uint64_t small_shm = 256ULL << 20;
        if (const auto shm = dev_shm_space(); !shm) {
            findings.push_back({"dev_shm", false,
                                std::string("/dev/shm cannot be read (") + std::strerror(errno) +
                                    "): shared memory and semaphores will fail"});
        } else if (shm->size < small_shm) {
            findings.push_back(
                {"dev_shm", false,
                 "/dev/shm is small: " + human_size(shm->size) +
                     " (a container default is 64 MiB; segments beyond it fail or raise SIGBUS; "
                     "docker run --shm-size=1g, or mount -o remount,size=1G /dev/shm)"});
        } else if (shm->available < shm->size / 10) {
            findings.push_back({"dev_shm", false,
                                "/dev/shm is almost full: " + human_size(shm->available) +
                                    " free of " + human_size(shm->size)});
        } else {
            findings.push_back({"dev_shm", true,
                                "/dev/shm has " + human_size(shm->available) + " free of " +
                                    human_size(shm->size)});
        }

        const auto mount = mqueue_view::find_mount();
        if (mount)
            findings.push_back(
                {"mqueue_mount", true, "the mqueue file system is mounted at " + *mount});
        else
            findings.push_back(
                {"mqueue_mount", false,
                 "/dev/mqueue is not mounted: ls/rm-style tools cannot see message queues (pipc "
                 "mounts one privately when run as root; fix: mount -t mqueue none /dev/mqueue)"});

        const mqueue_view view;
        const auto use = estimate_queue_use(view);
        const auto rl = pipc::read_rlimit_msgqueue();
        if (use.bytes && !rl.soft_unlimited && rl.soft > 0 && *use.bytes * 5 >= rl.soft * 4)
            findings.push_back({"rlimit_msgqueue", false,
                                "queues use about " + std::to_string(*use.bytes) + " of the " +
                                    std::to_string(rl.soft) +
                                    " bytes RLIMIT_MSGQUEUE allows (ulimit -q); new queues will "
                                    "fail with EMFILE"});
        else if (use.bytes)
            findings.push_back(
                {"rlimit_msgqueue", true,
                 "queues use about " + std::to_string(*use.bytes) +
                     " bytes of "
                     "RLIMIT_MSGQUEUE (" +
                     (rl.soft_unlimited ? std::string("unlimited") : std::to_string(rl.soft)) +
                     ")"});

        const auto inv = list_objects(
            {object_kind::message_queue, object_kind::semaphore, object_kind::shared_memory},
            &view);
        std::size_t leaked = 0;
        for (const auto& obj : inv.objects) {
            if (!obj.holders.empty()) continue;
            ++leaked;
            findings.push_back({"leaked", false,
                                std::string("possibly leaked: ") + kind_label(obj.kind) + " " +
                                    escape_for_text(obj.name) +
                                    " is held open by no process (remove it with: pipc " +
                                    kind_label(obj.kind) + " rm " + escape_for_text(obj.name) +
                                    ")"});
        }
        if (leaked == 0)
            findings.push_back({"leaked", true,
                                "every object is held open by some process" +
                                    std::string(view.available() ? "" : " (queues not checked)")});
        if (!inv.uninspected.empty())
            findings.push_back({"holders", false, holders_incomplete_text(inv.uninspected)});

        std::size_t warnings = 0;
        for (const auto& f : findings) warnings += f.ok ? 0 : 1;
        if (*json) {
            boost::json::object out;
            boost::json::array checks;
            for (const auto& f : findings) {
                boost::json::object c;
                c["check"] = f.check;
                c["status"] = f.ok ? "ok" : "warn";
                c["message"] = f.message;
                checks.push_back(std::move(c));
            }
            out["checks"] = std::move(checks);
            out["warnings"] = warnings;
            print_json(out);
            return;
        }
        std::string out;
        for (const auto& f : findings) out += (f.ok ? "ok    " : "WARN  ") + f.message + "\n";
        out += std::to_string(warnings) + " warning(s)\n";
        write_stdout(out);
    });
}

} // namespace

void add_system_commands(CLI::App& app) {
    add_ls(app);
    add_limits(app);
    add_doctor(app);
}

} // namespace pipc_cli
