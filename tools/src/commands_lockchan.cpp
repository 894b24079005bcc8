// SPDX-License-Identifier: BSL-1.0
// `pipc lock ...` (robust mutexes) and `pipc channel ...` (pipc's shared-memory rings).
//
// Looking never changes anything: states come from pipc::inspect_robust_mutex and
// pipc::inspect_channel, which map the objects read-only and never block.
#include "commands.hpp"
#include "common.hpp"
#include "inventory.hpp"
#include "message_commands.hpp"

#include <pipc/channel.hpp>
#include <pipc/inspect.hpp>
#include <pipc/robust_mutex.hpp>

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace pipc_cli {
namespace {

using pipc::object_kind;

// A robust mutex's name: a shared-memory name short enough for the "/pipc-robust-mutex." prefix.
CLI::Validator lock_name_validator() {
    return CLI::Validator(
        [](std::string& name) -> std::string {
            const auto problem = name_problem(object_kind::shared_memory, name);
            if (!problem.empty()) return "\"" + escape_for_text(name) + "\": " + problem;
            pipc::error_code ec;
            pipc::robust_mutex::object_name(name, ec);
            if (ec)
                return "\"" + escape_for_text(name) + "\": " + ec.message() +
                       " (a robust mutex's name may have at most 237 bytes after the '/')";
            return {};
        },
        "NAME");
}

std::string lock_path(const std::string& name) {
    return "/dev/shm/" + std::string(lock_file_prefix) + name.substr(1);
}

// stat() of the object's file, with "cannot find KIND NAME" (exit 3) when it is missing.
struct ::stat stat_object(const std::string& path, const std::string& what) {
    struct ::stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        const int err = errno;
        throw tool_error(err == ENOENT ? exit_existential
                                       : (err == EACCES ? exit_permissions : exit_failure),
                         "cannot find " + what + ": " + std::strerror(err));
    }
    return st;
}

object_info object_from_stat(const std::string& name, const struct ::stat& st,
                             const std::string& path, shm_type type) {
    object_info info;
    info.kind = object_kind::shared_memory;
    info.type = type;
    info.name = name;
    fill_from_stat(info, st, path);
    info.size = static_cast<std::uint64_t>(st.st_size);
    auto scan = scan_holders(st.st_dev, st.st_ino);
    info.holders = std::move(scan.holders);
    info.holders_complete = scan.complete;
    if (!scan.complete) note("warning: " + scan.incomplete_text);
    return info;
}

// --- lock ----------------------------------------------------------------------------------------

void add_lock(CLI::App& app) {
    auto* lock = add_command(app, "lock",
                             "pipc robust mutexes (pipc::robust_mutex, shm objects named "
                             "/pipc-robust-mutex.NAME)",
                             true);
    {
        struct options {
            std::string name;
            bool json = false;
        };
        auto o = std::make_shared<options>();
        auto* cmd = add_command(*lock, "info",
                                "Show a robust mutex's state (free, held by PID, owner dead, not "
                                "recoverable), owner and holders; never locks it");
        cmd->add_option("NAME", o->name, "Mutex name, e.g. /jobs")
            ->required()
            ->check(lock_name_validator());
        cmd->add_flag("--json", o->json, "Print one JSON object (the schema of a `pipc ls` entry)");
        cmd->callback([o] {
            const std::string path = lock_path(o->name);
            const auto st = stat_object(path, "robust mutex " + shown(o->name));
            pipc::error_code ec;
            const auto state = pipc::inspect_robust_mutex(o->name, ec);
            check(ec, "cannot inspect robust mutex " + shown(o->name));
            auto info = object_from_stat(o->name, st, path, shm_type::lock);
            info.lock = state;
            print_info(info, o->json);
        });
    }
    {
        struct options {
            std::vector<std::string> names;
            bool force = false;
        };
        auto o = std::make_shared<options>();
        auto* cmd = add_command(*lock, "rm",
                                "Remove robust mutexes by name; refuses (exit 5) one that is held "
                                "unless --force");
        cmd->add_option("NAME", o->names, "Names to remove")
            ->required()
            ->check(lock_name_validator());
        cmd->add_flag("-f,--force", o->force,
                      "Remove held mutexes too (their holders keep a mutex nobody else can "
                      "find); names that do not exist are not an error");
        cmd->callback([o] {
            int first = exit_ok;
            const auto fail = [&](const std::string& name, int code, const std::string& why) {
                note("cannot remove robust mutex " + shown(name) + ": " + why);
                if (first == exit_ok) first = code;
            };
            for (const auto& name : o->names) {
                pipc::error_code ec;
                const auto state = pipc::inspect_robust_mutex(name, ec);
                if (ec == boost::system::errc::no_such_file_or_directory) {
                    if (!o->force) fail(name, exit_existential, ec.message());
                    continue;
                }
                // An object that is not a robust mutex is not ours to remove under this name.
                if (ec == pipc::errc::not_a_robust_mutex) {
                    fail(name, exit_usage, ec.message());
                    continue;
                }
                if (!ec && !o->force &&
                    (state.status == pipc::robust_mutex_status::held ||
                     state.status == pipc::robust_mutex_status::recovering)) {
                    fail(name, exit_busy,
                         "it is " + lock_state_text(state) + " (--force removes it anyway)");
                    continue;
                }
                pipc::robust_mutex::unlink(name, ec);
                if (ec) {
                    if (o->force && ec == boost::system::errc::no_such_file_or_directory) continue;
                    fail(name, exit_code_for(ec), ec.message());
                }
            }
            if (first != exit_ok) throw tool_error(first, "");
        });
    }
}

// --- channel -------------------------------------------------------------------------------------

CLI::Validator slots_validator() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            char* end = nullptr;
            errno = 0;
            const unsigned long v = std::strtoul(text.c_str(), &end, 10);
            if (text.empty() || *end != '\0' || errno != 0 || text[0] == '-' || v < 2 ||
                v > pipc::channel::max_slot_count || (v & (v - 1)) != 0)
                return "\"" + escape_for_text(text) +
                       "\" is not a slot count (a power of two, 2 .. " +
                       std::to_string(pipc::channel::max_slot_count) + ")";
            return {};
        },
        "N");
}

CLI::Validator message_size_validator() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            const auto v = parse_size(text);
            if (!v || *v < 1 || *v > pipc::channel::max_message_size_limit)
                return "\"" + escape_for_text(text) +
                       "\" is not a message size (1 byte .. 256 MiB; suffixes K, M)";
            return {};
        },
        "SIZE");
}

pipc::channel open_channel(const std::string& name) {
    pipc::channel_options opts; // geometry and mode: whatever the channel has
    pipc::error_code ec;
    pipc::channel ch;
    ch.open(name, opts, ec);
    check(ec, "cannot open channel " + shown(name));
    return ch;
}

void add_channel(CLI::App& app) {
    auto* chan = add_command(app, "channel",
                             "pipc channels (pipc::channel: a ring of message slots in one "
                             "shared-memory object)",
                             true);
    {
        struct options {
            std::string name;
            std::string slots;
            std::string max_size;
            bool mpsc = false;
            std::string mode = "0600";
            bool exclusive = false;
        };
        auto o = std::make_shared<options>();
        auto* cmd = add_command(*chan, "create",
                                "Create a channel (or check that an existing one has this "
                                "geometry)");
        cmd->add_option("NAME", o->name, "Channel name, e.g. /frames")
            ->required()
            ->check(name_validator(object_kind::shared_memory));
        cmd->add_option("--slots", o->slots, "Number of slots: a power of two, 2 .. 65536")
            ->required()
            ->check(slots_validator());
        cmd->add_option("--max-size", o->max_size,
                        "Largest message in bytes, 1 .. 256 MiB (suffixes K, M)")
            ->required()
            ->check(message_size_validator());
        cmd->add_flag("--mpsc", o->mpsc,
                      "Many producers (any processes and threads); default: one producer (spsc)");
        cmd->add_option("--mode", o->mode,
                        "Permission bits in octal (applied exactly, umask "
                        "ignored)")
            ->check(mode_validator())
            ->capture_default_str();
        cmd->add_flag("--exclusive", o->exclusive, "Fail (exit 3) if the channel exists already");
        cmd->callback([o] {
            pipc::channel_options opts;
            opts.open =
                o->exclusive ? pipc::open_mode::create_exclusive : pipc::open_mode::open_or_create;
            opts.permissions = mode_value(o->mode);
            opts.slot_count = static_cast<std::uint32_t>(std::stoul(o->slots));
            opts.max_message_size = static_cast<std::uint32_t>(size_value(o->max_size));
            opts.mode = o->mpsc ? pipc::channel_mode::mpsc : pipc::channel_mode::spsc;
            pipc::error_code ec;
            pipc::channel ch;
            ch.open(o->name, opts, ec);
            check(ec, "cannot create channel " + shown(o->name));
            if (!ch.created())
                note("channel " + shown(o->name) +
                     " exists already with this geometry; left "
                     "unchanged");
        });
    }
    {
        struct options {
            std::string name;
            std::optional<std::string> message;
            std::optional<double> timeout;
        };
        auto o = std::make_shared<options>();
        auto* cmd = add_command(*chan, "send", "Send one message (from MESSAGE, or stdin to EOF)");
        cmd->add_option("NAME", o->name, "Channel name")
            ->required()
            ->check(name_validator(object_kind::shared_memory));
        cmd->add_option("MESSAGE", o->message, "Message body; stdin when omitted");
        cmd->add_option("-t,--timeout", o->timeout,
                        "Wait at most this long while the channel is full (default: forever; 0: "
                        "do not wait)")
            ->check(timeout_validator());
        cmd->callback([o] {
            auto ch = open_channel(o->name);
            const std::string data = o->message ? *o->message : read_stdin();
            const auto bytes = std::as_bytes(std::span(data.data(), data.size()));
            const std::string context = "cannot send to channel " + shown(o->name);
            if (bytes.size() > ch.max_message_size())
                throw tool_error(exit_usage, context + ": the message has " +
                                                 std::to_string(bytes.size()) +
                                                 " bytes, its max message size is " +
                                                 std::to_string(ch.max_message_size()));
            send_or_fail(o->timeout, context,
                         [&](const std::optional<double>& timeout, pipc::error_code& ec) {
                             if (timeout)
                                 return ch.send_for(bytes, std::chrono::duration<double>(*timeout),
                                                    ec);
                             ch.send(bytes, ec);
                             return true;
                         });
        });
    }
    {
        auto o = std::make_shared<receive_options>();
        auto* cmd = add_command(*chan, "recv",
                                "Receive messages in order (as the channel's one consumer while "
                                "it runs); each body is followed by a newline (--null: a NUL "
                                "byte)");
        cmd->add_option("NAME", o->name, "Channel name")
            ->required()
            ->check(name_validator(object_kind::shared_memory));
        add_receive_flags(*cmd, *o, "size, data, encoding");
        cmd->callback([o] {
            auto ch = open_channel(o->name);
            std::vector<std::byte> buffer(ch.max_message_size());
            receive_and_print(
                *o, "cannot receive from channel " + shown(o->name),
                [&](const std::optional<double>& timeout,
                    pipc::error_code& ec) -> std::optional<received_body> {
                    const auto size =
                        timeout
                            ? ch.receive_for(buffer, std::chrono::duration<double>(*timeout), ec)
                            : std::optional(ch.receive(std::span<std::byte>(buffer), ec));
                    if (!size || ec) return std::nullopt;
                    return received_body{{reinterpret_cast<const char*>(buffer.data()), *size}, {}};
                });
        });
    }
    {
        struct options {
            std::string name;
            bool json = false;
        };
        auto o = std::make_shared<options>();
        auto* cmd = add_command(*chan, "info",
                                "Show a channel's geometry, fill level, consumer, dead producers "
                                "and holders; never changes it");
        cmd->add_option("NAME", o->name, "Channel name")
            ->required()
            ->check(name_validator(object_kind::shared_memory));
        cmd->add_flag("--json", o->json, "Print one JSON object (the schema of a `pipc ls` entry)");
        cmd->callback([o] {
            const std::string path = "/dev/shm/" + o->name.substr(1);
            const auto st = stat_object(path, "channel " + shown(o->name));
            pipc::error_code ec;
            auto ch = pipc::inspect_channel(o->name, ec);
            check(ec, "cannot inspect channel " + shown(o->name));
            auto info = object_from_stat(o->name, st, path, shm_type::channel);
            info.channel = std::move(ch);
            print_info(info, o->json);
        });
    }
    {
        struct options {
            std::vector<std::string> names;
            bool force = false;
        };
        auto o = std::make_shared<options>();
        auto* cmd = add_command(*chan, "rm",
                                "Remove channels by name (only objects that are channels); open "
                                "handles keep working");
        cmd->add_option("NAME", o->names, "Names to remove")
            ->required()
            ->check(name_validator(object_kind::shared_memory));
        cmd->add_flag("-f,--force", o->force, "Names that do not exist are not an error");
        cmd->callback([o] {
            int first = exit_ok;
            for (const auto& name : o->names) {
                pipc::error_code ec;
                pipc::inspect_channel(name, ec);
                if (!ec) pipc::unlink_channel(name, ec);
                if (!ec) continue;
                if (o->force && ec == boost::system::errc::no_such_file_or_directory) continue;
                note("cannot remove channel " + shown(name) + ": " + ec.message());
                if (first == exit_ok) first = exit_code_for(ec);
            }
            if (first != exit_ok) throw tool_error(first, "");
        });
    }
}

} // namespace

void add_lock_commands(CLI::App& app) {
    add_lock(app);
}
void add_channel_commands(CLI::App& app) {
    add_channel(app);
}

} // namespace pipc_cli
