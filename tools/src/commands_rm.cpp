// SPDX-License-Identifier: BSL-1.0
// `pipc rm`: remove objects of any kind by name, or every object nobody holds (--unused).
//
// --unused only removes what it *knows* is unused: every process must have been inspected (else
// nothing is removed, exit 7), queues must be visible (else none is touched, exit 7), and an
// object must show no holder in two scans, the second made just before the unlink, with its name
// still naming the same inode. A process that opens the object between that last look and the
// unlink is not seen; see tools/README.md ("The race").
#include "commands.hpp"
#include "common.hpp"
#include "inventory.hpp"

#include <pipc/channel.hpp>
#include <pipc/message_queue.hpp>
#include <pipc/robust_mutex.hpp>
#include <pipc/semaphore.hpp>
#include <pipc/shared_memory.hpp>

#include <fcntl.h>
#include <fnmatch.h>
#include <mqueue.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace pipc_cli {
namespace {

using pipc::object_kind;

void unlink_object(object_kind kind, const std::string& name, pipc::error_code& ec) {
    switch (kind) {
    case object_kind::message_queue:
        pipc::unlink_message_queue(name, ec);
        return;
    case object_kind::semaphore:
        pipc::unlink_semaphore(name, ec);
        return;
    case object_kind::shared_memory:
        pipc::unlink_shared_memory(name, ec);
        return;
    }
}

std::optional<object_kind> kind_from_label(const std::string& label) {
    if (label == "mq") return object_kind::message_queue;
    if (label == "sem") return object_kind::semaphore;
    if (label == "shm" || label == "lock" || label == "channel" || label == "bell")
        return object_kind::shared_memory;
    return std::nullopt;
}

// Removes by kind label: a lock "/x" is the shm object "/pipc-robust-mutex.x"; a channel is a
// plain shm object (its doorbells go with it); a doorbell is a FIFO that shm_unlink removes.
void unlink_labelled(const std::string& label, const std::string& name, pipc::error_code& ec) {
    if (label == "lock")
        pipc::robust_mutex::unlink(name, ec);
    else if (label == "channel")
        pipc::unlink_channel(name, ec);
    else
        unlink_object(*kind_from_label(label), name, ec);
}

pipc::error_code validate_labelled(const std::string& label, const std::string& name) {
    if (label == "lock") {
        pipc::error_code ec;
        pipc::robust_mutex::object_name(name, ec);
        return ec;
    }
    return pipc::validate_name(*kind_from_label(label), name);
}

// Which kinds have an object called `name`? Queues are probed with mq_open: EACCES means the
// queue exists but we may not open it.
std::vector<std::string> existing_kinds(const std::string& name) {
    std::vector<std::string> kinds;
    struct ::stat st {};
    if (!pipc::validate_name(object_kind::message_queue, name)) {
        const mqd_t q = ::mq_open(name.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (q != static_cast<mqd_t>(-1)) {
            ::mq_close(q);
            kinds.emplace_back("mq");
        } else if (errno == EACCES) {
            kinds.emplace_back("mq");
        }
    }
    if (!pipc::validate_name(object_kind::semaphore, name) &&
        ::stat(("/dev/shm/sem." + name.substr(1)).c_str(), &st) == 0)
        kinds.emplace_back("sem");
    if (!pipc::validate_name(object_kind::shared_memory, name) &&
        ::lstat(("/dev/shm/" + name.substr(1)).c_str(), &st) == 0) {
        if (S_ISFIFO(st.st_mode) && !bell_channel(name.substr(1)).empty()) {
            kinds.emplace_back("bell");
        } else {
            pipc::error_code ec;
            pipc::inspect_channel(name, ec);
            kinds.emplace_back(ec ? "shm" : "channel");
        }
    }
    if (!validate_labelled("lock", name) &&
        ::stat(("/dev/shm/" + std::string(lock_file_prefix) + name.substr(1)).c_str(), &st) == 0)
        kinds.emplace_back("lock");
    return kinds;
}

// "30", "30s", "15m", "2h", "7d" -> seconds.
std::optional<std::int64_t> parse_duration(const std::string& text) {
    std::size_t i = 0;
    std::int64_t value = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        if (value > (INT64_MAX - 9) / 10) return std::nullopt;
        value = value * 10 + (text[i] - '0');
        ++i;
    }
    if (i == 0) return std::nullopt;
    const std::string unit = text.substr(i);
    std::int64_t factor = 0;
    if (unit.empty() || unit == "s")
        factor = 1;
    else if (unit == "m")
        factor = 60;
    else if (unit == "h")
        factor = 3600;
    else if (unit == "d")
        factor = 86400;
    else
        return std::nullopt;
    if (value > INT64_MAX / factor) return std::nullopt;
    return value * factor;
}

// The file behind an object, for checking that its name still names the inode that was scanned.
std::string object_path(const object_info& o, const std::string& mqueue_dir) {
    switch (o.kind) {
    case object_kind::message_queue:
        return mqueue_dir + "/" + o.name.substr(1);
    case object_kind::semaphore:
        return "/dev/shm/sem." + o.name.substr(1);
    case object_kind::shared_memory:
        if (o.type == shm_type::lock)
            return "/dev/shm/" + std::string(lock_file_prefix) + o.name.substr(1);
        return "/dev/shm/" + o.name.substr(1);
    }
    return {};
}

struct options {
    std::vector<std::string> names;
    std::optional<std::string> kind;
    bool unused = false;
    std::optional<std::string> match;
    std::optional<std::string> older_than;
    bool dry_run = false;
    bool force = false;
    bool json = false;
};

boost::json::object entry_json(const std::string& kind, const std::string& name) {
    boost::json::object e;
    e["kind"] = kind;
    put_bytes(e, "name", "name_encoding", name);
    return e;
}

void remove_by_name(const options& o) {
    boost::json::array removed, failed;
    int first = exit_ok;
    const auto fail = [&](const std::string* kind, const std::string& name, int code,
                          const std::string& why) {
        note("cannot remove " + escape_for_text(name) + ": " + why);
        boost::json::object e = kind ? entry_json(*kind, name) : boost::json::object{};
        if (!kind) put_bytes(e, "name", "name_encoding", name);
        e["error"] = why;
        failed.push_back(std::move(e));
        if (first == exit_ok) first = code;
    };
    for (const auto& name : o.names) {
        std::string kind;
        if (o.kind) {
            kind = *o.kind;
            if (const auto ec = validate_labelled(kind, name)) {
                fail(&kind, name, exit_usage, ec.message());
                continue;
            }
        } else {
            if (const auto ec = pipc::validate_name(object_kind::message_queue, name)) {
                fail(nullptr, name, exit_usage, ec.message());
                continue;
            }
            const auto kinds = existing_kinds(name);
            if (kinds.empty()) {
                if (!o.force) fail(nullptr, name, exit_existential, "no object has this name");
                continue;
            }
            if (kinds.size() > 1) {
                std::string list;
                for (const auto& k : kinds) list += (list.empty() ? "" : ", ") + k;
                fail(nullptr, name, exit_usage,
                     "it names objects of several kinds (" + list + "); choose one with --kind");
                continue;
            }
            kind = kinds.front();
        }
        if (o.dry_run) {
            if (o.kind && existing_kinds(name).empty() && !o.force) {
                fail(&kind, name, exit_existential, "no such object");
                continue;
            }
            removed.push_back(entry_json(kind, name));
            if (!o.json) write_stdout("would remove " + kind + " " + escape_for_text(name) + "\n");
            continue;
        }
        pipc::error_code ec;
        unlink_labelled(kind, name, ec);
        if (ec) {
            if (o.force && ec == boost::system::errc::no_such_file_or_directory) continue;
            fail(&kind, name, exit_code_for(ec), ec.message());
            continue;
        }
        removed.push_back(entry_json(kind, name));
        if (!o.json) write_stdout("removed " + kind + " " + escape_for_text(name) + "\n");
    }
    if (o.json) {
        boost::json::object out;
        out["removed"] = std::move(removed);
        out["failed"] = std::move(failed);
        out["dry_run"] = o.dry_run;
        print_json(out);
    }
    if (first != exit_ok) throw tool_error(first, "");
}

void remove_unused(const options& o) {
    std::set<object_kind> kinds;
    if (o.kind)
        kinds.insert(*kind_from_label(*o.kind));
    else
        kinds = {object_kind::message_queue, object_kind::semaphore, object_kind::shared_memory};
    std::string pattern;
    if (o.match) pattern = (o.match->empty() || (*o.match)[0] != '/') ? "/" + *o.match : *o.match;
    const auto min_age =
        o.older_than ? parse_duration(*o.older_than) : std::optional<std::int64_t>{};

    std::optional<mqueue_view> view;
    const bool want_mq = kinds.count(object_kind::message_queue) > 0;
    if (want_mq) view.emplace();
    std::string refused; // why some objects were not considered (exit 7)
    if (want_mq && !view->available()) {
        kinds.erase(object_kind::message_queue);
        refused = "message queues were not considered: " + view->reason();
    }
    const mqueue_view* mq = view && view->available() ? &*view : nullptr;

    const auto inv = list_objects(kinds, mq);
    if (!inv.holders_complete())
        throw tool_error(
            exit_unknowable,
            "refusing to remove anything: " + holders_incomplete_text(inv.uninspected, inv.hidden) +
                ", so an object with no visible holder may still be in use");

    const std::int64_t now = std::time(nullptr);
    std::vector<const object_info*> candidates;
    std::size_t held = 0;
    for (const auto& obj : inv.objects) {
        if (o.kind && kind_label(obj) != *o.kind) continue; // lock and channel are shm too
        if (!pattern.empty() && ::fnmatch(pattern.c_str(), obj.name.c_str(), 0) != 0) continue;
        if (min_age && now - std::max(obj.mtime, obj.ctime) < *min_age) continue;
        if (!obj.holders.empty()) {
            ++held;
            continue;
        }
        candidates.push_back(&obj);
    }

    // Second look, just before unlinking: anything that gained a holder, or whose name now names
    // another inode, is left alone.
    const holder_index again(inv.devices);
    if (!again.complete())
        throw tool_error(exit_unknowable,
                         "refusing to remove anything: " + holders_incomplete_text(again));
    boost::json::array removed, failed;
    int first = exit_ok;
    for (const auto* obj : candidates) {
        struct ::stat st {};
        const std::string path = object_path(*obj, mq ? mq->dir() : std::string());
        if (::stat(path.c_str(), &st) != 0 || st.st_dev != obj->dev || st.st_ino != obj->ino ||
            !again.find(obj->dev, obj->ino).empty()) {
            ++held;
            continue;
        }
        auto e = entry_json(kind_label(*obj), obj->name);
        e["mtime"] = obj->mtime;
        if (!o.dry_run) {
            pipc::error_code ec;
            unlink_labelled(kind_label(*obj), obj->name, ec);
            if (ec && ec != boost::system::errc::no_such_file_or_directory) {
                note(std::string("cannot remove ") + kind_label(*obj) + " " +
                     escape_for_text(obj->name) + ": " + ec.message());
                e["error"] = ec.message();
                failed.push_back(std::move(e));
                if (first == exit_ok) first = exit_code_for(ec);
                continue;
            }
        }
        if (!o.json)
            write_stdout(std::string(o.dry_run ? "would remove " : "removed ") + kind_label(*obj) +
                         " " + escape_for_text(obj->name) + "\n");
        removed.push_back(std::move(e));
    }
    if (o.json) {
        boost::json::object out;
        out["removed"] = std::move(removed);
        out["failed"] = std::move(failed);
        out["dry_run"] = o.dry_run;
        out["held"] = held;
        out["holders_complete"] = true;
        out["refused"] =
            refused.empty() ? boost::json::value(nullptr) : boost::json::value(refused);
        print_json(out);
    }
    if (first != exit_ok) throw tool_error(first, "");
    if (!refused.empty()) throw tool_error(exit_unknowable, refused);
}

} // namespace

void add_rm_command(CLI::App& app) {
    auto o = std::make_shared<options>();
    auto* cmd = add_command(
        app, "rm",
        "Remove objects by name (any kind), or with --unused every object no process holds");
    cmd->add_option("NAME", o->names, "Names to remove (the kind is found unless --kind says)");
    cmd->add_option("--kind", o->kind,
                    "Only objects of this kind (lock: robust mutexes; channel: pipc channels; "
                    "bell: their doorbells)")
        ->check(CLI::IsMember({"mq", "sem", "shm", "lock", "channel", "bell"}));
    auto* unused = cmd->add_flag(
        "--unused", o->unused,
        "Remove every object that no process holds open or mapped; refuses (exit 7) when that "
        "cannot be known");
    cmd->add_option("--match", o->match,
                    "With --unused: only names matching this shell pattern ('jobs-*' and "
                    "'/jobs-*' are the same)")
        ->needs(unused);
    cmd->add_option("--older-than", o->older_than,
                    "With --unused: only objects unmodified for this long (30s, 15m, 2h, 7d)")
        ->needs(unused)
        ->check(CLI::Validator(
            [](std::string& text) -> std::string {
                if (parse_duration(text)) return {};
                return "\"" + escape_for_text(text) +
                       "\" is not a duration (a whole number with s, m, h or d)";
            },
            "DURATION"));
    cmd->add_flag("--dry-run", o->dry_run, "Print what would be removed; remove nothing");
    cmd->add_flag("-f,--force", o->force, "Names that do not exist are not an error");
    cmd->add_flag("--json", o->json,
                  "Print one JSON object: {removed, failed, dry_run[, held, holders_complete, "
                  "refused]}");
    cmd->footer(std::string("Without --unused, NAMEs are removed whether or not they are in use "
                            "(like rm). With --unused, an object is removed only when every "
                            "process could be inspected and none holds it; a process that opens "
                            "it between that check and the unlink is not seen.\n") +
                exit_code_help);
    cmd->callback([o] {
        if (o->unused && !o->names.empty())
            throw tool_error(exit_usage, "give NAMEs or --unused, not both");
        if (!o->unused && o->names.empty())
            throw tool_error(exit_usage, "nothing to remove: give NAMEs, or --unused");
        if (o->unused)
            remove_unused(*o);
        else
            remove_by_name(*o);
    });
}

} // namespace pipc_cli
