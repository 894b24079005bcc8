// The `pipc` tool as a whole: help and version, logging, the exit-code classes, bad input, and the
// system commands `limits` and `doctor`.
#define BOOST_TEST_MODULE pipc_cli_basic
#include <boost/test/unit_test.hpp>

#include "run_pipc.hpp"

#include <pipc/limits.hpp>

#include <semaphore.h>
#include <sys/mman.h>
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

BOOST_AUTO_TEST_CASE(doctor_reports_leaked_objects_and_msg_max) {
    named m(object_kind::shared_memory);
    BOOST_REQUIRE(run({"shm", "create", m.str(), "--size", "1K"}).exit_code == 0);
    const auto r = run({"doctor", "--json"});
    BOOST_TEST(r.exit_code == 0, r.err);
    const auto j = json(r.out).as_object();
    bool leaked_found = false, msg_max_seen = false;
    std::size_t warns = 0;
    for (const auto& c : j.at("checks").as_array()) {
        const auto& check = c.at("check").as_string();
        const auto& status = c.at("status").as_string();
        BOOST_TEST((status == "ok" || status == "warn"));
        warns += status == "warn";
        const std::string message(c.at("message").as_string());
        if (check == "leaked" && message.find(m.str() + " ") != std::string::npos)
            leaked_found = true;
        if (check == "msg_max") {
            msg_max_seen = true;
            const auto limit = pipc::read_mqueue_limits().msg_max;
            BOOST_TEST((status == "warn") == (limit && *limit <= 10));
        }
    }
    BOOST_TEST(leaked_found, "the unheld segment " << m.str() << " is not reported: " << r.out);
    BOOST_TEST(msg_max_seen);
    BOOST_TEST(j.at("warnings").as_int64() == static_cast<std::int64_t>(warns));

    // A segment someone holds (this process maps it) is not "leaked".
    const int fd = ::shm_open(m.c_str(), O_RDWR, 0);
    BOOST_REQUIRE(fd >= 0);
    void* p = ::mmap(nullptr, 1024, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    BOOST_REQUIRE(p != MAP_FAILED);
    const auto held = run({"doctor"});
    ::munmap(p, 1024);
    BOOST_TEST(held.exit_code == 0);
    BOOST_TEST(held.out.find("warning(s)") != std::string::npos);
    BOOST_TEST(held.out.find("leaked: shm " + m.str() + " ") == std::string::npos, held.out);
}
