// SPDX-License-Identifier: BSL-1.0
// The per-kind commands: `pipc mq ...`, `pipc sem ...`, `pipc shm ...`.
#include "commands.hpp"
#include "common.hpp"
#include "inventory.hpp"
#include "message_commands.hpp"

#include <pipc/limits.hpp>
#include <pipc/pipc.hpp>

#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace pipc_cli {

CLI::App* add_command(CLI::App& parent, const std::string& name, const std::string& description,
                      bool needs_subcommand) {
    CLI::App* sub = parent.add_subcommand(name, description);
    sub->footer(exit_code_help);
    if (needs_subcommand) sub->require_subcommand(1);
    return sub;
}

namespace {

using pipc::object_kind;

// Options shared by the three `create` commands.
struct create_options {
    std::string name;
    std::string mode = "0600";
    bool exclusive = false;
};

void add_create_options(CLI::App* cmd, create_options& o, object_kind kind) {
    cmd->add_option("NAME", o.name, "Object name, e.g. /jobs")
        ->required()
        ->check(name_validator(kind));
    cmd->add_option("--mode", o.mode, "Permission bits in octal (applied exactly, umask ignored)")
        ->check(mode_validator())
        ->capture_default_str();
    cmd->add_flag("--exclusive", o.exclusive, "Fail (exit 3) if the object exists already");
}

pipc::open_mode create_mode(bool exclusive) {
    return exclusive ? pipc::open_mode::create_exclusive : pipc::open_mode::open_or_create;
}

// `rm NAME...` for every kind: tries every name, reports each failure on its own line, and exits
// with the code of the first failure.
void add_rm_command(CLI::App& group, object_kind kind, const char* what,
                    void (*unlink)(std::string_view, pipc::error_code&)) {
    struct options {
        std::vector<std::string> names;
        bool force = false;
    };
    auto o = std::make_shared<options>();
    auto* cmd = add_command(group, "rm", std::string("Remove ") + what + " by name");
    cmd->add_option("NAME", o->names, "Names to remove")->required()->check(name_validator(kind));
    cmd->add_flag("-f,--force", o->force, "Names that do not exist are not an error");
    cmd->callback([o, what, unlink] {
        int first = exit_ok;
        for (const auto& name : o->names) {
            pipc::error_code ec;
            unlink(name, ec);
            if (!ec) continue;
            if (o->force && ec == boost::system::errc::no_such_file_or_directory) continue;
            note(std::string("cannot remove ") + what + " " + shown(name) + ": " + ec.message());
            if (first == exit_ok) first = exit_code_for(ec);
        }
        if (first != exit_ok) throw tool_error(first, "");
    });
}

object_info info_from_stat(object_kind kind, const std::string& name, const struct ::stat& st,
                           const std::string& path) {
    object_info info;
    info.kind = kind;
    info.name = name;
    fill_from_stat(info, st, path);
    auto scan = scan_holders(st.st_dev, st.st_ino);
    info.holders = std::move(scan.holders);
    info.holders_complete = scan.complete;
    if (!scan.complete) note("warning: " + scan.incomplete_text);
    return info;
}

// --- mq ----------------------------------------------------------------------------------------

pipc::message_queue open_queue(const std::string& name, pipc::access access) {
    pipc::message_queue_options opts;
    opts.access = access;
    pipc::error_code ec;
    pipc::message_queue q;
    q.open(name, opts, ec);
    check(ec, "cannot open message queue " + shown(name));
    return q;
}

void add_mq(CLI::App& app) {
    auto* mq = add_command(app, "mq", "POSIX message queues (mq_open)", true);

    {
        struct options : create_options {
            long max_messages = 0;
            std::string message_size = "0";
        };
        auto o = std::make_shared<options>();
        auto* cmd = add_command(*mq, "create", "Create a message queue (or open it if it exists)");
        add_create_options(cmd, *o, object_kind::message_queue);
        cmd->add_option("--max-messages", o->max_messages,
                        "Capacity in messages (0: /proc/sys/fs/mqueue/msg_default)")
            ->check(CLI::Range(0L, pipc::hard_msg_max));
        cmd->add_option("--message-size", o->message_size,
                        "Largest message in bytes (0: /proc/sys/fs/mqueue/msgsize_default)")
            ->check(size_validator());
        cmd->callback([o] {
            const auto size = size_value(o->message_size);
            if (size > static_cast<std::uint64_t>(pipc::hard_msgsize_max))
                throw tool_error(exit_usage, "--message-size: " + o->message_size +
                                                 " is above the kernel's limit of 16 MiB");
            pipc::message_queue_options opts;
            opts.open = create_mode(o->exclusive);
            opts.permissions = mode_value(o->mode);
            opts.max_messages = o->max_messages;
            opts.max_message_size = static_cast<long>(size);
            opts.access = pipc::access::read_only;
            pipc::error_code ec;
            pipc::message_queue q;
            q.open(o->name, opts, ec);
            check(ec, "cannot create message queue " + shown(o->name));
            if (!q.created())
                note("message queue " + shown(o->name) + " exists already; left unchanged (" +
                     std::to_string(q.max_messages()) + " messages of at most " +
                     std::to_string(q.max_message_size()) + " bytes)");
        });
    }

    {
        struct options {
            std::string name;
            std::optional<std::string> message;
            unsigned priority = 0;
            std::optional<double> timeout;
        };
        auto o = std::make_shared<options>();
        auto* cmd = add_command(*mq, "send", "Send one message (from MESSAGE, or stdin to EOF)");
        cmd->add_option("NAME", o->name, "Queue name")
            ->required()
            ->check(name_validator(object_kind::message_queue));
        cmd->add_option("MESSAGE", o->message, "Message body; stdin when omitted");
        cmd->add_option("-p,--priority", o->priority, "Priority, 0 .. MQ_PRIO_MAX-1 (higher first)")
            ->capture_default_str();
        cmd->add_option("-t,--timeout", o->timeout,
                        "Wait at most this long while the queue is full (default: forever; 0: "
                        "do not wait)")
            ->check(timeout_validator());
        cmd->callback([o] {
            auto q = open_queue(o->name, pipc::access::write_only);
            const std::string data = o->message ? *o->message : read_stdin();
            const auto bytes = std::as_bytes(std::span(data.data(), data.size()));
            send_or_fail(o->timeout, "cannot send to message queue " + shown(o->name),
                         [&](const std::optional<double>& timeout, pipc::error_code& ec) {
                             if (timeout)
                                 return q.send_for(bytes, std::chrono::duration<double>(*timeout),
                                                   o->priority, ec);
                             q.send(bytes, o->priority, ec);
                             return true;
                         });
        });
    }

    {
        auto o = std::make_shared<receive_options>();
        auto* cmd = add_command(*mq, "recv",
                                "Receive messages, highest priority first; each body is followed "
                                "by a newline (--null: a NUL byte)");
        cmd->add_option("NAME", o->name, "Queue name")
            ->required()
            ->check(name_validator(object_kind::message_queue));
        add_receive_flags(*cmd, *o, "priority, size, data, encoding");
        cmd->callback([o] {
            auto q = open_queue(o->name, pipc::access::read_only);
            std::vector<std::byte> buffer(static_cast<std::size_t>(q.max_message_size()));
            receive_and_print(
                *o, "cannot receive from message queue " + shown(o->name),
                [&](const std::optional<double>& timeout,
                    pipc::error_code& ec) -> std::optional<received_body> {
                    const auto r =
                        timeout ? q.receive_for(buffer, std::chrono::duration<double>(*timeout), ec)
                                : std::optional(q.receive(buffer, ec));
                    if (!r || ec) return std::nullopt;
                    return received_body{{reinterpret_cast<const char*>(buffer.data()), r->size},
                                         r->priority};
                });
        });
    }

    {
        struct options {
            std::string name;
            bool json = false;
        };
        auto o = std::make_shared<options>();
        auto* cmd = add_command(*mq, "info", "Show a queue's attributes, owner and holders");
        cmd->add_option("NAME", o->name, "Queue name")
            ->required()
            ->check(name_validator(object_kind::message_queue));
        cmd->add_flag("--json", o->json, "Print one JSON object (the schema of a `pipc ls` entry)");
        cmd->callback([o] {
            // Like `ls -l /dev/mqueue/NAME`: owner, mode and times need no permission on the
            // queue itself; the geometry (mq_getattr) does, and is "?" without it.
            const mqueue_view view;
            struct ::stat st {};
            std::string path;
            if (view.available()) {
                path = view.dir() + "/" + o->name.substr(1);
                if (::stat(path.c_str(), &st) != 0) {
                    const int err = errno;
                    throw tool_error(err == ENOENT ? exit_existential : exit_failure,
                                     "cannot find message queue " + shown(o->name) + ": " +
                                         std::strerror(err));
                }
            } else {
                // No mqueue file system to look at: the queue descriptor is the only way in.
                pipc::message_queue_options opts;
                opts.access = pipc::access::read_only;
                opts.blocking = false;
                pipc::error_code ec;
                pipc::message_queue q;
                q.open(o->name, opts, ec);
                check(ec,
                      "cannot open message queue " + shown(o->name) + " (" + view.reason() + ")");
                if (::fstat(q.native_handle(), &st) != 0)
                    throw tool_error(exit_failure, "cannot stat message queue " + shown(o->name) +
                                                       ": " + std::strerror(errno));
            }
            auto info = info_from_stat(object_kind::message_queue, o->name, st, path);
            fill_queue(info, view.dir());
            print_info(info, o->json);
        });
    }

    add_rm_command(
        *mq, object_kind::message_queue, "message queue",
        static_cast<void (*)(std::string_view, pipc::error_code&)>(&pipc::unlink_message_queue));
}

// --- sem ---------------------------------------------------------------------------------------

pipc::semaphore open_semaphore(const std::string& name) {
    pipc::error_code ec;
    pipc::semaphore sem;
    sem.open(name, {}, ec);
    check(ec, "cannot open semaphore " + shown(name));
    return sem;
}

void add_sem(CLI::App& app) {
    auto* sem = add_command(app, "sem", "POSIX named semaphores (sem_open)", true);

    {
        struct options : create_options {
            unsigned value = 0;
        };
        auto o = std::make_shared<options>();
        auto* cmd = add_command(*sem, "create", "Create a semaphore (or open it if it exists)");
        add_create_options(cmd, *o, object_kind::semaphore);
        cmd->add_option("--value", o->value, "Initial value, 0 .. SEM_VALUE_MAX")
            ->capture_default_str();
        cmd->callback([o] {
            pipc::semaphore_options opts;
            opts.open = create_mode(o->exclusive);
            opts.permissions = mode_value(o->mode);
            opts.initial_value = o->value;
            pipc::error_code ec;
            pipc::semaphore s;
            s.open(o->name, opts, ec);
            check(ec, "cannot create semaphore " + shown(o->name));
            if (!s.created()) {
                const int value = s.value(ec);
                note("semaphore " + shown(o->name) + " exists already; left unchanged (value " +
                     (ec ? std::string("unknown: ") + ec.message() : std::to_string(value)) + ")");
            }
        });
    }

    {
        struct options {
            std::string name;
            long count = 1;
        };
        auto o = std::make_shared<options>();
        auto* cmd = add_command(*sem, "post", "Increment a semaphore (sem_post)");
        cmd->add_option("NAME", o->name, "Semaphore name")
            ->required()
            ->check(name_validator(object_kind::semaphore));
        cmd->add_option("-n,--count", o->count,
                        "How many times to post, 1 .. SEM_VALUE_MAX; the value may not pass "
                        "SEM_VALUE_MAX (" +
                            std::to_string(pipc::semaphore_value_max()) + ")")
            ->check(CLI::Range(1L, static_cast<long>(pipc::semaphore_value_max())))
            ->capture_default_str();
        cmd->callback([o] {
            auto s = open_semaphore(o->name);
            pipc::error_code ec;
            const std::string context = "cannot post semaphore " + shown(o->name) + " " +
                                        std::to_string(o->count) + " time(s)";
            const auto max = static_cast<long>(pipc::semaphore_value_max());
            const auto too_high = [&](long value) {
                return tool_error(exit_usage, context + ": its value " + std::to_string(value) +
                                                  " plus " + std::to_string(o->count) +
                                                  " would pass SEM_VALUE_MAX (" +
                                                  std::to_string(max) + "); nothing posted");
            };
            const long before = s.value(ec);
            check(ec, "cannot read semaphore " + shown(o->name));
            if (before > max - o->count) throw too_high(before);
            s.release(o->count, ec);
            // Someone else posted in between: the library refused without posting.
            if (ec == pipc::errc::invalid_release_count) {
                pipc::error_code ignored;
                throw too_high(s.value(ignored));
            }
            check(ec, context);
        });
    }

    {
        struct options {
            std::string name;
            std::optional<double> timeout;
        };
        auto o = std::make_shared<options>();
        auto* cmd = add_command(*sem, "wait", "Decrement a semaphore, waiting while it is 0");
        cmd->add_option("NAME", o->name, "Semaphore name")
            ->required()
            ->check(name_validator(object_kind::semaphore));
        cmd->add_option("-t,--timeout", o->timeout,
                        "Wait at most this long (default: forever; 0: do not wait)")
            ->check(timeout_validator());
        cmd->callback([o] {
            auto s = open_semaphore(o->name);
            pipc::error_code ec;
            const std::string context = "cannot wait on semaphore " + shown(o->name);
            if (o->timeout) {
                const bool got = s.try_acquire_for(std::chrono::duration<double>(*o->timeout), ec);
                check(ec, context);
                if (!got)
                    throw tool_error(exit_busy,
                                     context + ": still 0 after " + seconds_text(*o->timeout));
            } else {
                s.acquire(ec);
                check(ec, context);
            }
        });
    }

    {
        struct options {
            std::string name;
            bool json = false;
        };
        auto o = std::make_shared<options>();
        auto* cmd = add_command(*sem, "info", "Show a semaphore's value, owner and holders");
        cmd->add_option("NAME", o->name, "Semaphore name")
            ->required()
            ->check(name_validator(object_kind::semaphore));
        cmd->add_flag("--json", o->json, "Print one JSON object (the schema of a `pipc ls` entry)");
        cmd->callback([o] {
            // glibc keeps semaphore "/x" in /dev/shm/sem.x; its owner and mode are that file's.
            // They need no permission on the semaphore; its value does (it is "?" without).
            const std::string path = "/dev/shm/sem." + o->name.substr(1);
            struct ::stat st {};
            if (::stat(path.c_str(), &st) != 0) {
                const int err = errno;
                throw tool_error(err == ENOENT ? exit_existential : exit_failure,
                                 "cannot find semaphore " + shown(o->name) + ": " +
                                     std::strerror(err));
            }
            auto info = info_from_stat(object_kind::semaphore, o->name, st, path);
            fill_semaphore(info);
            print_info(info, o->json);
        });
    }

    add_rm_command(
        *sem, object_kind::semaphore, "semaphore",
        static_cast<void (*)(std::string_view, pipc::error_code&)>(&pipc::unlink_semaphore));
}

// --- shm ---------------------------------------------------------------------------------------

pipc::shared_memory open_segment(const std::string& name, bool read_only) {
    pipc::shared_memory_options opts;
    opts.read_only = read_only;
    pipc::error_code ec;
    pipc::shared_memory shm;
    shm.open(name, opts, ec);
    check(ec, "cannot open shared memory " + shown(name));
    return shm;
}

std::uint64_t segment_size(const pipc::shared_memory& shm) {
    pipc::error_code ec;
    const auto size = shm.size(ec);
    check(ec, "cannot read the size of shared memory " + shown(shm.name()));
    return size;
}

void add_shm(CLI::App& app) {
    auto* shm = add_command(app, "shm", "POSIX shared memory (shm_open)", true);

    {
        struct options : create_options {
            std::string size;
        };
        auto o = std::make_shared<options>();
        auto* cmd = add_command(*shm, "create",
                                "Create a segment (or open it if it exists) and reserve its space");
        add_create_options(cmd, *o, object_kind::shared_memory);
        cmd->add_option("--size", o->size, "Size in bytes (suffixes K, M, G, ...)")
            ->required()
            ->check(size_validator());
        cmd->callback([o] {
            pipc::shared_memory_options opts;
            opts.open = create_mode(o->exclusive);
            opts.permissions = mode_value(o->mode);
            opts.size = size_value(o->size);
            pipc::error_code ec;
            pipc::shared_memory s;
            s.open(o->name, opts, ec);
            check(ec, "cannot create shared memory " + shown(o->name));
            if (!s.created())
                note("shared memory " + shown(o->name) + " exists already; left unchanged (" +
                     std::to_string(segment_size(s)) + " bytes; use `pipc shm resize`)");
        });
    }

    {
        struct options {
            std::string name;
            std::string offset = "0";
        };
        auto o = std::make_shared<options>();
        auto* cmd = add_command(*shm, "write", "Copy stdin into the segment");
        cmd->add_option("NAME", o->name, "Segment name")
            ->required()
            ->check(name_validator(object_kind::shared_memory));
        cmd->add_option("--offset", o->offset, "Byte offset to write at")
            ->check(size_validator())
            ->capture_default_str();
        cmd->callback([o] {
            const auto offset = size_value(o->offset);
            auto s = open_segment(o->name, false);
            const std::string data = read_stdin();
            const auto size = segment_size(s);
            if (offset > size || data.size() > size - offset)
                throw tool_error(exit_usage,
                                 "cannot write " + std::to_string(data.size()) +
                                     " bytes at offset " + std::to_string(offset) +
                                     " into shared memory " + shown(o->name) + ": it has " +
                                     std::to_string(size) +
                                     " bytes (nothing written; `pipc shm resize` first)");
            if (data.empty()) return;
            pipc::error_code ec;
            auto map = s.map(offset, data.size(), ec);
            check(ec, "cannot map shared memory " + shown(o->name));
            std::memcpy(map.data(), data.data(), data.size());
        });
    }

    {
        struct options {
            std::string name;
            std::string offset = "0";
            std::optional<std::string> length;
        };
        auto o = std::make_shared<options>();
        auto* cmd = add_command(*shm, "read", "Copy the segment (or part of it) to stdout");
        cmd->add_option("NAME", o->name, "Segment name")
            ->required()
            ->check(name_validator(object_kind::shared_memory));
        cmd->add_option("--offset", o->offset, "Byte offset to start at")
            ->check(size_validator())
            ->capture_default_str();
        cmd->add_option("--length", o->length, "Bytes to read (default: to the end)")
            ->check(size_validator());
        cmd->callback([o] {
            const auto offset = size_value(o->offset);
            auto s = open_segment(o->name, true);
            const auto size = segment_size(s);
            if (offset > size)
                throw tool_error(exit_usage, "cannot read shared memory " + shown(o->name) +
                                                 ": offset " + std::to_string(offset) +
                                                 " is past its end (" + std::to_string(size) +
                                                 " bytes)");
            std::uint64_t length = size - offset;
            if (o->length) {
                const auto wanted = size_value(*o->length);
                if (wanted > length)
                    throw tool_error(exit_usage, "cannot read " + std::to_string(wanted) +
                                                     " bytes at offset " + std::to_string(offset) +
                                                     " from shared memory " + shown(o->name) +
                                                     ": it has " + std::to_string(size) + " bytes");
                length = wanted;
            }
            if (length == 0) return;
            pipc::error_code ec;
            auto map = s.map_read_only(offset, length, ec);
            check(ec, "cannot map shared memory " + shown(o->name));
            write_stdout({reinterpret_cast<const char*>(map.data()), map.size()});
        });
    }

    {
        struct options {
            std::string name;
            std::string size;
        };
        auto o = std::make_shared<options>();
        auto* cmd = add_command(*shm, "resize", "Grow (reserving the space) or shrink a segment");
        cmd->add_option("NAME", o->name, "Segment name")
            ->required()
            ->check(name_validator(object_kind::shared_memory));
        cmd->add_option("--size", o->size, "New size in bytes (suffixes K, M, G, ...)")
            ->required()
            ->check(size_validator());
        cmd->callback([o] {
            const auto size = size_value(o->size);
            auto s = open_segment(o->name, false);
            pipc::error_code ec;
            s.resize(size, ec);
            check(ec, "cannot resize shared memory " + shown(o->name));
        });
    }

    {
        struct options {
            std::string name;
            bool json = false;
        };
        auto o = std::make_shared<options>();
        auto* cmd = add_command(*shm, "info",
                                "Show a segment's size, owner and holders; pipc's own kinds in "
                                "/dev/shm (a channel, a robust mutex, a channel's doorbell) are "
                                "shown as `ls` shows them");
        cmd->add_option("NAME", o->name, "Segment name")
            ->required()
            ->check(name_validator(object_kind::shared_memory));
        cmd->add_flag("--json", o->json, "Print one JSON object (the schema of a `pipc ls` entry)");
        cmd->callback([o] {
            auto s = open_segment(o->name, true);
            struct ::stat st {};
            if (::fstat(s.native_handle(), &st) != 0)
                throw tool_error(exit_failure, "cannot stat shared memory " + shown(o->name) +
                                                   ": " + std::strerror(errno));
            auto info = info_from_stat(object_kind::shared_memory, o->name, st,
                                       "/dev/shm/" + o->name.substr(1));
            // What `pipc ls` would call it: pipc's own kinds are shm objects too.
            if (S_ISFIFO(st.st_mode)) {
                // A FIFO has no size; a channel's doorbell names its channel.
                info.bell_of = bell_channel(o->name.substr(1));
                if (!info.bell_of.empty()) {
                    info.type = shm_type::bell;
                    object_info channel;
                    channel.name = info.bell_of;
                    info.bell_orphaned = !fill_channel(channel);
                }
            } else {
                info.size = static_cast<std::uint64_t>(st.st_size);
                if (std::string lock = lock_of_file(o->name.substr(1)); !lock.empty()) {
                    info.type = shm_type::lock;
                    info.name = std::move(lock);
                    fill_lock(info);
                } else {
                    fill_channel(info);
                }
            }
            print_info(info, o->json);
        });
    }

    add_rm_command(
        *shm, object_kind::shared_memory, "shared memory",
        static_cast<void (*)(std::string_view, pipc::error_code&)>(&pipc::unlink_shared_memory));
}

} // namespace

void add_mq_commands(CLI::App& app) {
    add_mq(app);
}
void add_sem_commands(CLI::App& app) {
    add_sem(app);
}
void add_shm_commands(CLI::App& app) {
    add_shm(app);
}

} // namespace pipc_cli
