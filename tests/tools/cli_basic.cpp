// SPDX-License-Identifier: BSL-1.0
// The `pipc` tool as a whole: help and version, logging, the exit-code classes, bad input, and the
// system commands `limits` and `doctor`.
#define BOOST_TEST_MODULE pipc_cli_basic
#include <boost/test/unit_test.hpp>

#include "run_pipc.hpp"

#include <pipc/limits.hpp>

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

using namespace pipc_cli_test;
using pipc::object_kind;
using pipc_test::exists;
using pipc_test::named;

BOOST_AUTO_TEST_CASE(help_on_every_command_documents_exit_codes) {
    const std::vector<std::vector<std::string>> commands = {{},
                                                            {"ls"},
                                                            {"limits"},
                                                            {"doctor"},
                                                            {"mq"},
                                                            {"mq", "create"},
                                                            {"mq", "send"},
                                                            {"mq", "recv"},
                                                            {"mq", "info"},
                                                            {"mq", "rm"},
                                                            {"sem"},
                                                            {"sem", "create"},
                                                            {"sem", "post"},
                                                            {"sem", "wait"},
                                                            {"sem", "info"},
                                                            {"sem", "rm"},
                                                            {"shm"},
                                                            {"shm", "create"},
                                                            {"shm", "write"},
                                                            {"shm", "read"},
                                                            {"shm", "resize"},
                                                            {"shm", "info"},
                                                            {"shm", "rm"}};
    for (auto args : commands) {
        args.push_back("--help");
        const auto r = run(args);
        BOOST_TEST_CONTEXT("pipc " << (args.size() > 1 ? args[0] + " " + args[1] : args[0])) {
            BOOST_TEST(r.exit_code == 0);
            BOOST_TEST(r.out.find("Usage:") != std::string::npos);
            BOOST_TEST(r.out.find("Exit codes: 0 success; 2 bad usage") != std::string::npos);
            BOOST_TEST(r.err.empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(bench_subcommand_when_the_engine_is_built) {
    const auto top = run({"--help"});
#if PIPC_CLI_HAS_BENCH
    const auto r = run({"bench", "--help"});
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(r.out.find("Usage:") != std::string::npos);
    BOOST_TEST(top.out.find("\n  bench ") != std::string::npos, top.out);
#else
    BOOST_TEST(top.out.find("\n  bench ") == std::string::npos, top.out);
    BOOST_TEST(run({"bench"}).exit_code == 2);
#endif
}

BOOST_AUTO_TEST_CASE(version) {
    const auto r = run({"--version"});
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(r.out == "pipc 0.1.0\n");
}

BOOST_AUTO_TEST_CASE(usage_errors_exit_2_with_one_line) {
    for (const auto& args :
         std::vector<std::vector<std::string>>{{},
                                               {"frobnicate"},
                                               {"mq"},
                                               {"mq", "send"},
                                               {"ls", "--kind", "pipe"},
                                               {"--log-level", "loud", "ls"},
                                               {"mq", "recv", "/x", "--count", "0"},
                                               {"sem", "wait", "/x", "--timeout", "-1"},
                                               {"sem", "wait", "/x", "--timeout", "nan"},
                                               {"mq", "send", "/x", "--priority", "-1"}}) {
        const auto r = run(args);
        BOOST_TEST(r.exit_code == 2);
        BOOST_TEST(one_line(r.err), r.err);
        BOOST_TEST(r.err.rfind("pipc: ", 0) == 0);
        BOOST_TEST(r.out.empty());
    }
}

// Bad name, size or mode: exit 2 and nothing is created, for every kind.
BOOST_AUTO_TEST_CASE(bad_input_creates_nothing) {
    named q(object_kind::message_queue), s(object_kind::semaphore), m(object_kind::shared_memory);
    const std::vector<std::vector<std::string>> cases = {
        {"mq", "create", "noslash"},
        {"mq", "create", "/a/b"},
        {"mq", "create", "/.."},
        {"mq", "create", q.str(), "--mode", "0888"},
        {"mq", "create", q.str(), "--mode", "17777"},
        {"mq", "create", q.str(), "--message-size", "4X"},
        {"mq", "create", q.str(), "--message-size", "-4"},
        {"mq", "create", q.str(), "--message-size", "1.5K"},
        {"mq", "create", q.str(), "--message-size", "32M"}, // above the kernel's 16 MiB
        {"mq", "create", q.str(), "--max-messages", "100000"},
        {"sem", "create", "/" + std::string(252, 'x')},
        {"sem", "create", s.str(), "--mode", "rw"},
        {"sem", "create", s.str(), "--value", "4294967296"},
        {"sem", "create", s.str(), "--value", "2147483648"}, // SEM_VALUE_MAX + 1: pipc's check
        {"shm", "create", m.str()},                          // --size is required
        {"shm", "create", m.str(), "--size", "1Q"},
        {"shm", "create", m.str(), "--size", "99999999999999999999"},
        {"shm", "create", m.str(), "--size", "16E"}, // overflows 64 bits
        {"shm", "create", m.str(), "--size", "4K", "--mode", "-1"},
        {"shm", "create", "/sem.x", "--size", "4K"}, // would alias semaphore /x
    };
    for (const auto& args : cases) {
        const auto r = run(args);
        BOOST_TEST_CONTEXT(args[0] << " " << args[1] << " " << args[2] << " ...") {
            BOOST_TEST(r.exit_code == 2, r.err);
            BOOST_TEST(one_line(r.err), r.err);
        }
    }
    BOOST_TEST(!exists(object_kind::message_queue, q.str()));
    BOOST_TEST(!exists(object_kind::semaphore, s.str()));
    BOOST_TEST(!exists(object_kind::shared_memory, m.str()));
    BOOST_TEST(!exists(object_kind::semaphore, "/x"));
}

BOOST_AUTO_TEST_CASE(existential_errors_exit_3) {
    named s(object_kind::semaphore);
    for (const auto& args :
         std::vector<std::vector<std::string>>{{"sem", "post", s.str()},
                                               {"sem", "info", s.str()},
                                               {"sem", "rm", s.str()},
                                               {"mq", "recv", s.str(), "-t", "0"},
                                               {"shm", "read", s.str()}}) {
        const auto r = run(args);
        BOOST_TEST(r.exit_code == 3, r.err);
        BOOST_TEST(one_line(r.err), r.err);
        BOOST_TEST(r.err.find("No such file or directory") != std::string::npos, r.err);
    }
    BOOST_TEST(run({"sem", "create", s.str(), "--exclusive"}).exit_code == 0);
    const auto again = run({"sem", "create", s.str(), "--exclusive"});
    BOOST_TEST(again.exit_code == 3);
    BOOST_TEST(again.err.find("exists") != std::string::npos, again.err);
    // Without --exclusive an existing object is fine and left alone, with a note.
    const auto open = run({"sem", "create", s.str(), "--value", "7"});
    BOOST_TEST(open.exit_code == 0);
    BOOST_TEST(open.err.find("exists already") != std::string::npos, open.err);
    const auto info = json(run({"sem", "info", s.str(), "--json"}).out);
    BOOST_TEST(info.at("value").as_int64() == 0);
}

BOOST_AUTO_TEST_CASE(permission_errors_exit_4) {
    if (::geteuid() != 0) {
        BOOST_TEST_MESSAGE("skipped: needs root to drop to another user");
        return;
    }
    named s(object_kind::semaphore), m(object_kind::shared_memory), q(object_kind::message_queue);
    BOOST_REQUIRE(run({"sem", "create", s.str(), "--mode", "600"}).exit_code == 0);
    BOOST_REQUIRE(run({"shm", "create", m.str(), "--size", "4K", "--mode", "644"}).exit_code == 0);
    BOOST_REQUIRE(run({"mq", "create", q.str(), "--mode", "600"}).exit_code == 0);
    run_options as_nobody;
    as_nobody.in_child = pipc_test::drop_to_nobody;
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"sem", "post", s.str()},
             {"shm", "write", m.str()}, // 0644: nobody may read, not write
             {"shm", "resize", m.str(), "--size", "8K"},
             {"mq", "send", q.str(), "hi", "-t", "0"}}) {
        const auto r = run(args, as_nobody);
        BOOST_TEST(r.exit_code == 4, args[0] << " " << args[1] << ": " << r.err);
        BOOST_TEST(one_line(r.err), r.err);
    }
    // Reading is allowed by 0644, and nothing was changed by the refused calls.
    const auto read = run({"shm", "info", m.str(), "--json"}, as_nobody);
    BOOST_TEST(read.exit_code == 0, read.err);
    BOOST_TEST(json(read.out).at("size").as_int64() == 4096);
    BOOST_TEST(json(run({"sem", "info", s.str(), "--json"}).out).at("value").as_int64() == 0);
}

BOOST_AUTO_TEST_CASE(busy_errors_exit_5) {
    named s(object_kind::semaphore), q(object_kind::message_queue);
    BOOST_REQUIRE(run({"sem", "create", s.str()}).exit_code == 0);
    BOOST_REQUIRE(
        run({"mq", "create", q.str(), "--max-messages", "1", "--message-size", "16"}).exit_code ==
        0);
    const auto start = std::chrono::steady_clock::now();
    const auto wait = run({"sem", "wait", s.str(), "--timeout", "0.2"});
    BOOST_TEST(wait.exit_code == 5, wait.err);
    BOOST_TEST((std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(200)));
    BOOST_TEST(one_line(wait.err), wait.err);
    BOOST_TEST(run({"mq", "recv", q.str(), "--timeout", "0"}).exit_code == 5);
    BOOST_TEST(run({"mq", "send", q.str(), "one"}).exit_code == 0);
    const auto full = run({"mq", "send", q.str(), "two", "--timeout", "0.1"});
    BOOST_TEST(full.exit_code == 5, full.err);
    BOOST_TEST(full.err.find("full") != std::string::npos, full.err);
    // A partial batch: the message that was there is printed, then the shortfall is counted.
    const auto partial = run({"mq", "recv", q.str(), "-n", "3", "--timeout", "0"});
    BOOST_TEST(partial.exit_code == 5, partial.err);
    BOOST_TEST(partial.out == "one\n");
    BOOST_TEST(partial.err.find("(received 1 of 3)") != std::string::npos, partial.err);
}

BOOST_AUTO_TEST_CASE(other_failures_exit_1) {
    // 1 PiB cannot be reserved in /dev/shm: errc::no_space, and the half-made segment is gone.
    named m(object_kind::shared_memory);
    const auto r = run({"shm", "create", m.str(), "--size", "1P"});
    BOOST_TEST(r.exit_code == 1, r.err);
    BOOST_TEST(one_line(r.err), r.err);
    BOOST_TEST(!exists(object_kind::shared_memory, m.str()));
}

BOOST_AUTO_TEST_CASE(log_level_debug_shows_library_events) {
    named s(object_kind::semaphore);
    const auto quiet = run({"sem", "create", s.str()});
    BOOST_TEST(quiet.err.empty(), quiet.err);
    const auto loud = run({"--log-level", "debug", "sem", "rm", s.str()});
    BOOST_TEST(loud.exit_code == 0);
    BOOST_TEST(loud.err.find("semaphore unlinked \"" + s.str() + "\"") != std::string::npos,
               loud.err);
}

BOOST_AUTO_TEST_CASE(limits_json) {
    const auto r = run({"limits", "--json"});
    BOOST_TEST(r.exit_code == 0, r.err);
    const auto j = json(r.out).as_object();
    const auto mq = pipc::read_mqueue_limits();
    BOOST_TEST(j.at("mqueue").at("msg_max").as_int64() == *mq.msg_max);
    BOOST_TEST(j.at("mqueue").at("msgsize_max").as_int64() == *mq.msgsize_max);
    BOOST_TEST(j.at("mqueue").at("queues_max").as_int64() == *mq.queues_max);
    BOOST_TEST(j.at("mqueue").as_object().contains("mount"));
    const auto rl = pipc::read_rlimit_msgqueue();
    if (!rl.soft_unlimited)
        BOOST_TEST(j.at("rlimit_msgqueue").at("soft").to_number<std::uint64_t>() == rl.soft);
    BOOST_TEST(j.at("rlimit_msgqueue").as_object().contains("current_use"));
    BOOST_TEST(j.at("rlimit_msgqueue").at("current_use_note").is_string());
    struct ::statvfs vfs {};
    BOOST_REQUIRE(::statvfs("/dev/shm", &vfs) == 0);
    BOOST_TEST(j.at("dev_shm").at("size").to_number<std::uint64_t>() ==
               std::uint64_t{vfs.f_frsize} * vfs.f_blocks);
    BOOST_TEST(j.at("sem_value_max").as_int64() == SEM_VALUE_MAX);
    BOOST_TEST(j.at("mq_prio_max").as_int64() == ::sysconf(_SC_MQ_PRIO_MAX));
    BOOST_TEST(j.at("page_size").as_int64() == ::sysconf(_SC_PAGESIZE));

    const auto text = run({"limits"});
    BOOST_TEST(text.exit_code == 0);
    BOOST_TEST(text.out.find("fs.mqueue.msg_max") != std::string::npos);
    BOOST_TEST(text.out.find("SEM_VALUE_MAX             2147483647") != std::string::npos,
               text.out);
}

// doctor's exit code is its verdict: 6 exactly when some check warns, 0 otherwise.
BOOST_AUTO_TEST_CASE(doctor_exit_code_reflects_its_findings) {
    const auto r = run({"doctor", "--json"});
    const auto j = json(r.out).as_object();
    std::size_t warns = 0;
    bool msg_max_seen = false;
    for (const auto& c : j.at("checks").as_array()) {
        const auto& status = c.at("status").as_string();
        BOOST_TEST((status == "ok" || status == "info" || status == "warn" || status == "unknown"));
        warns += status == "warn";
        if (c.at("check").as_string() == "msg_max") {
            msg_max_seen = true;
            const auto limit = pipc::read_mqueue_limits().msg_max;
            BOOST_TEST((status == "info") == (limit && *limit <= 10));
        }
    }
    BOOST_TEST(msg_max_seen);
    BOOST_TEST(j.at("warnings").as_int64() == static_cast<std::int64_t>(warns));
    BOOST_TEST(j.at("healthy").as_bool() == (warns == 0));
    BOOST_TEST(r.exit_code == (warns == 0 ? 0 : 6), r.err);

    // A semaphore file shorter than sem_t kills every sem_open user with SIGBUS: a problem.
    const std::string name = pipc_test::unique_name("trunc");
    const std::string path = "/dev/shm/sem." + name.substr(1);
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    BOOST_REQUIRE(fd >= 0);
    BOOST_REQUIRE(::write(fd, "short", 5) == 5);
    ::close(fd);
    const auto t = run({"doctor", "--json"});
    const auto text = run({"doctor"});
    ::unlink(path.c_str());
    BOOST_TEST(t.exit_code == 6, t.err);
    bool reported = false;
    const auto tj = json(t.out);
    for (const auto& c : tj.at("checks").as_array())
        if (c.at("check").as_string() == "sem_truncated" && c.at("status").as_string() == "warn")
            reported |= std::string(c.at("message").as_string()).find(name) != std::string::npos;
    BOOST_TEST(reported, t.out);
    BOOST_TEST(text.exit_code == 6);
    BOOST_TEST(text.out.find("WARN    semaphore " + name + " is truncated") != std::string::npos,
               text.out);
}

namespace {
// In the child, before exec: a private view of /etc/systemd and /run/systemd with the given
// logind configuration and systemd "running", then uid/gid `uid`.
std::function<bool()> logind_setup(std::string main_conf, std::string dropin, ::uid_t uid) {
    return [=] {
        if (::unshare(CLONE_NEWNS) != 0) return false;
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
        for (const char* dir : {"/etc/systemd", "/run/systemd"})
            if (::mount("tmpfs", dir, "tmpfs", 0, "mode=0755") != 0) return false;
        if (::mkdir("/run/systemd/system", 0755) != 0) return false;
        const auto put = [](const std::string& path, const std::string& text) {
            const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0) return false;
            const bool ok =
                ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
            ::close(fd);
            return ok;
        };
        if (!put("/etc/systemd/logind.conf", main_conf)) return false;
        if (!dropin.empty()) {
            if (::mkdir("/etc/systemd/logind.conf.d", 0755) != 0) return false;
            if (!put("/etc/systemd/logind.conf.d/50-ipc.conf", dropin)) return false;
        }
        return ::setgroups(0, nullptr) == 0 && ::setresgid(uid, uid, uid) == 0 &&
               ::setresuid(uid, uid, uid) == 0;
    };
}

std::string check_status(const std::string& doctor_json, const std::string& check) {
    const auto doc = json(doctor_json);
    for (const auto& c : doc.at("checks").as_array())
        if (c.at("check").as_string() == check) return std::string(c.at("status").as_string());
    return "missing";
}
} // namespace

BOOST_AUTO_TEST_CASE(doctor_warns_about_logind_remove_ipc_for_regular_users) {
    if (::geteuid() != 0) {
        BOOST_TEST_MESSAGE("skipped: needs root for a private mount namespace");
        return;
    }
    struct expectation {
        std::string main_conf, dropin;
        ::uid_t uid;
        std::string status;
    };
    for (const auto& e : std::vector<expectation>{
             {"[Login]\n#RemoveIPC=yes\n", "", 1000, "warn"}, // the default is yes
             {"[Login]\nRemoveIPC=no\n", "", 1000, "ok"},
             {"[Login]\nRemoveIPC=no\n", "[Login]\nRemoveIPC=yes\n", 1000, "warn"}, // drop-in wins
             {"[Login]\nRemoveIPC=yes\n", "[Login]\nRemoveIPC=false\n", 1000, "ok"},
             {"[Other]\nRemoveIPC=no\n", "", 1000, "warn"}, // only [Login] counts
             {"[Login]\n", "", 998, "ok"}}) {               // system users are exempt
        run_options o;
        o.in_child = logind_setup(e.main_conf, e.dropin, e.uid);
        const auto r = run({"doctor", "--json"}, o);
        BOOST_TEST_CONTEXT(e.main_conf << " + " << e.dropin << " as uid " << e.uid) {
            BOOST_TEST(check_status(r.out, "remove_ipc") == e.status, r.out);
            if (e.status == "warn") BOOST_TEST(r.exit_code == 6);
        }
    }
}

BOOST_AUTO_TEST_CASE(messages_name_the_exact_problem) {
    const auto unknown = run({"frobnicate"});
    BOOST_TEST(unknown.exit_code == 2);
    BOOST_TEST(unknown.err.find("unknown command 'frobnicate'") != std::string::npos, unknown.err);
    const auto nested = run({"mq", "frob"});
    BOOST_TEST(nested.err.find("unknown command 'mq frob'") != std::string::npos, nested.err);
#if !PIPC_CLI_HAS_BENCH
    const auto bench = run({"bench"});
    BOOST_TEST(bench.err.find("'bench' is not built into this pipc") != std::string::npos,
               bench.err);
#endif
    const auto alias = run({"shm", "create", "/sem.x", "--size", "1"});
    BOOST_TEST(alias.exit_code == 2);
    BOOST_TEST(alias.err.find("must not start with \"/sem.\"") != std::string::npos, alias.err);
    BOOST_TEST(alias.err.find("semaphore /x") != std::string::npos, alias.err);
    const auto slash = run({"sem", "create", "/a/b"});
    BOOST_TEST(slash.err.find("must not contain a '/' after the first") != std::string::npos,
               slash.err);

    named s(object_kind::semaphore);
    BOOST_REQUIRE(run({"sem", "create", s.str(), "--value", "3"}).exit_code == 0);
    const auto again = run({"sem", "create", s.str()});
    BOOST_TEST(again.exit_code == 0);
    BOOST_TEST(again.err.find("exists already; left unchanged (value 3)") != std::string::npos,
               again.err);
    const auto post = run({"sem", "post", s.str(), "-n", "2147483647"});
    BOOST_TEST(post.exit_code == 2);
    BOOST_TEST(post.err.find("its value 3 plus 2147483647 would pass SEM_VALUE_MAX (2147483647)") !=
                   std::string::npos,
               post.err);
    BOOST_TEST(json(run({"sem", "info", s.str(), "--json"}).out).at("value").as_int64() == 3);
}
