// SPDX-License-Identifier: BSL-1.0
// Holders are complete or unknown, never "none" by mistake: pipc run as uid 65534 cannot read
// this (root) process's /proc entries, so an object this process holds must show '?' / false,
// and neither `rm --unused` nor `doctor` may treat it as unused. Also `pipc rm` by name, and
// `rm --unused` in a PID namespace where every process is visible.
#define BOOST_TEST_MODULE pipc_cli_holders
#include <boost/test/unit_test.hpp>

#include "run_pipc.hpp"

#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>

using namespace pipc_cli_test;
using pipc::object_kind;
using pipc_test::named;

namespace {

bool root() {
    return ::geteuid() == 0;
}

const boost::json::object* find(const boost::json::value& ls, const std::string& kind,
                                const std::string& name) {
    for (const auto& o : ls.at("objects").as_array())
        if (o.at("kind").as_string() == kind && o.at("name").as_string() == name)
            return &o.as_object();
    return nullptr;
}

// A segment owned by uid 65534 (so that 65534 could unlink it from the sticky /dev/shm) that
// this root process keeps mapped.
struct held_segment {
    named name{object_kind::shared_memory, "held"};
    void* map = MAP_FAILED;
    held_segment() {
        const int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0666);
        BOOST_REQUIRE(fd >= 0);
        BOOST_REQUIRE(::ftruncate(fd, 4096) == 0);
        BOOST_REQUIRE(::fchown(fd, 65534, 65534) == 0);
        map = ::mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0);
        ::close(fd);
        BOOST_REQUIRE(map != MAP_FAILED);
    }
    ~held_segment() {
        if (map != MAP_FAILED) ::munmap(map, 4096);
    }
};

run_options as_nobody() {
    run_options o;
    o.in_child = pipc_test::drop_to_nobody;
    return o;
}

std::string line_with(const std::string& text, const std::string& needle) {
    const auto at = text.find(needle);
    if (at == std::string::npos) return {};
    const auto start = text.rfind('\n', at);
    const auto first = start == std::string::npos ? 0 : start + 1;
    return text.substr(first, text.find('\n', at) - first);
}

} // namespace

BOOST_AUTO_TEST_CASE(hidden_holders_are_unknown_in_every_output) {
    if (!root()) {
        BOOST_TEST_MESSAGE("skipped: needs root to run pipc as another user");
        return;
    }
    held_segment seg;
    const std::string name = seg.name.str();

    const auto ls = run({"ls", "--kind", "shm", "--json"}, as_nobody());
    BOOST_TEST(ls.exit_code == 0, ls.err);
    const auto doc = json(ls.out);
    BOOST_TEST(doc.at("holders_complete").as_bool() == false);
    const auto* o = find(doc, "shm", name);
    BOOST_REQUIRE(o);
    BOOST_TEST(o->at("holders_complete").as_bool() == false);
    BOOST_TEST(o->at("holders").as_array().empty());

    const auto table = run({"ls", "--kind", "shm"}, as_nobody());
    const auto row = line_with(table.out, name);
    BOOST_REQUIRE(row.size() > 2);
    BOOST_TEST(row.substr(row.size() - 2) == " ?", row);
    BOOST_TEST(row.find("none") == std::string::npos, row);
    BOOST_TEST(table.err.find("holders may be incomplete") != std::string::npos, table.err);

    const auto col =
        run({"ls", "--kind", "shm", "-o", "name,nholders", "--raw", "--noheadings"}, as_nobody());
    BOOST_TEST(line_with(col.out, name) == name + " 0+", col.out);

    const auto info = run({"shm", "info", name, "--json"}, as_nobody());
    BOOST_TEST(info.exit_code == 0, info.err);
    BOOST_TEST(json(info.out).at("holders_complete").as_bool() == false);
    const auto text = run({"shm", "info", name}, as_nobody());
    BOOST_TEST(line_with(text.out, "holders:").find("?") != std::string::npos, text.out);

    // doctor: no "unused" verdict about anything, and never a removal hint for this object.
    const auto doctor = run({"doctor", "--json"}, as_nobody());
    const auto d = json(doctor.out);
    BOOST_TEST(d.at("holders_complete").as_bool() == false);
    for (const auto& c : d.at("checks").as_array()) {
        BOOST_TEST(std::string(c.at("message").as_string()).find(name) == std::string::npos, c);
        if (c.at("check").as_string() == "unused")
            BOOST_TEST(c.at("status").as_string() == "unknown", c);
    }

    // Root sees this process as the holder (the contrast that makes the above meaningful).
    const auto as_root = json(run({"shm", "info", name, "--json"}).out);
    bool mine = false;
    for (const auto& h : as_root.at("holders").as_array())
        mine |= h.at("pid").as_int64() == ::getpid();
    BOOST_TEST(mine, as_root);
}

BOOST_AUTO_TEST_CASE(rm_unused_never_removes_an_object_whose_holders_are_hidden) {
    if (!root()) {
        BOOST_TEST_MESSAGE("skipped: needs root to run pipc as another user");
        return;
    }
    held_segment seg;
    const std::string name = seg.name.str();
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"rm", "--unused", "--kind", "shm", "--match", name},
             {"rm", "--unused", "--match", name, "--json"},
             {"rm", "--unused", "--kind", "shm", "--match", name, "--dry-run"}}) {
        const auto r = run(args, as_nobody());
        BOOST_TEST(r.exit_code == 7, r.err);
        BOOST_TEST(r.err.find("refusing to remove anything") != std::string::npos, r.err);
        BOOST_TEST(r.out.find("removed") == std::string::npos, r.out);
        BOOST_TEST(pipc_test::exists(object_kind::shared_memory, name));
    }
    // 65534 could remove it by name (it owns it): the refusal above is about holders, not rights.
    const auto by_name = run({"rm", "--kind", "shm", name}, as_nobody());
    BOOST_TEST(by_name.exit_code == 0, by_name.err);
    BOOST_TEST(by_name.out == "removed shm " + name + "\n");
    BOOST_TEST(!pipc_test::exists(object_kind::shared_memory, name));
}

BOOST_AUTO_TEST_CASE(rm_by_name_finds_the_kind_and_reports_each_name) {
    named s(object_kind::semaphore), m(object_kind::shared_memory), both(object_kind::semaphore);
    BOOST_REQUIRE(run({"sem", "create", s.str()}).exit_code == 0);
    BOOST_REQUIRE(run({"shm", "create", m.str(), "--size", "1"}).exit_code == 0);
    const auto r = run({"rm", s.str(), m.str(), "--json"});
    BOOST_TEST(r.exit_code == 0, r.err);
    const auto j = json(r.out);
    BOOST_REQUIRE(j.at("removed").as_array().size() == 2u);
    BOOST_TEST(j.at("removed").as_array()[0].at("kind").as_string() == "sem");
    BOOST_TEST(j.at("removed").as_array()[1].at("kind").as_string() == "shm");
    BOOST_TEST(!pipc_test::exists(object_kind::semaphore, s.str()));
    BOOST_TEST(!pipc_test::exists(object_kind::shared_memory, m.str()));

    // Missing: exit 3 (or 0 with -f). One name, two kinds: exit 2 and nothing removed.
    const auto missing = run({"rm", s.str()});
    BOOST_TEST(missing.exit_code == 3, missing.err);
    BOOST_TEST(one_line(missing.err), missing.err);
    BOOST_TEST(run({"rm", "-f", s.str()}).exit_code == 0);
    BOOST_REQUIRE(run({"sem", "create", both.str()}).exit_code == 0);
    BOOST_REQUIRE(run({"shm", "create", both.str(), "--size", "1"}).exit_code == 0);
    const auto ambiguous = run({"rm", both.str()});
    BOOST_TEST(ambiguous.exit_code == 2);
    BOOST_TEST(ambiguous.err.find("choose one with --kind") != std::string::npos, ambiguous.err);
    BOOST_TEST(pipc_test::exists(object_kind::semaphore, both.str()));
    BOOST_TEST(pipc_test::exists(object_kind::shared_memory, both.str()));
    BOOST_TEST(run({"rm", "--kind", "shm", both.str()}).exit_code == 0);
    BOOST_TEST(pipc_test::exists(object_kind::semaphore, both.str()));
    BOOST_TEST(!pipc_test::exists(object_kind::shared_memory, both.str()));
    pipc_test::remove_quietly(object_kind::shared_memory, both.str());

    // Usage: NAMEs and --unused exclude each other; --match needs --unused.
    BOOST_TEST(run({"rm"}).exit_code == 2);
    BOOST_TEST(run({"rm", "--unused", both.str()}).exit_code == 2);
    BOOST_TEST(run({"rm", "--match", "x"}).exit_code == 2);
    BOOST_TEST(run({"rm", "--unused", "--older-than", "5y"}).exit_code == 2);
    BOOST_TEST(pipc_test::exists(object_kind::semaphore, both.str()));
}

namespace {
// In the child, before exec: a new PID namespace with its own /proc, in which pipc is alone, so
// that every process it can see is inspectable. The middle process only waits and passes the
// exit code on.
bool alone_in_a_pid_namespace() {
    if (::unshare(CLONE_NEWPID | CLONE_NEWNS) != 0) return false;
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
    const pid_t pid = ::fork();
    if (pid < 0) return false;
    if (pid > 0) {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 125);
    }
    return ::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0;
}
} // namespace

BOOST_AUTO_TEST_CASE(rm_unused_removes_only_unheld_objects_when_every_process_is_visible) {
    if (!root()) {
        BOOST_TEST_MESSAGE("skipped: needs root for a PID namespace");
        return;
    }
    named idle(object_kind::shared_memory, "idle"), old_sem(object_kind::semaphore, "idle");
    BOOST_REQUIRE(run({"shm", "create", idle.str(), "--size", "1"}).exit_code == 0);
    BOOST_REQUIRE(run({"sem", "create", old_sem.str()}).exit_code == 0);
    run_options alone;
    alone.in_child = alone_in_a_pid_namespace;
    const std::string pattern = idle.str().substr(0, idle.str().rfind('-')) + "-*";

    // In a PID namespace, holders outside it are invisible: refused unless asserted otherwise.
    const auto refused = run({"rm", "--unused", "--kind", "shm", "--match", pattern}, alone);
    BOOST_TEST(refused.exit_code == 7, refused.err);
    BOOST_TEST(refused.err.find("PID namespace") != std::string::npos, refused.err);
    BOOST_TEST(pipc_test::exists(object_kind::shared_memory, idle.str()));

    // --older-than filters by age: nothing is a day old.
    const auto young = run({"--trust-pid-namespace", "rm", "--unused", "--kind", "shm", "--match",
                            pattern, "--older-than", "1d", "--json"},
                           alone);
    BOOST_TEST(young.exit_code == 0, young.err);
    BOOST_TEST(json(young.out).at("removed").as_array().empty(), young.out);

    const auto dry = run({"--trust-pid-namespace", "rm", "--unused", "--match", pattern, "--kind",
                          "shm", "--dry-run"},
                         alone);
    BOOST_TEST(dry.exit_code == 0, dry.err);
    BOOST_TEST(dry.out == "would remove shm " + idle.str() + "\n", dry.out);
    BOOST_TEST(pipc_test::exists(object_kind::shared_memory, idle.str()));

    const auto r = run(
        {"--trust-pid-namespace", "rm", "--unused", "--match", pattern, "--kind", "shm", "--json"},
        alone);
    BOOST_TEST(r.exit_code == 0, r.err);
    const auto j = json(r.out);
    BOOST_REQUIRE(j.at("removed").as_array().size() == 1u);
    BOOST_TEST(j.at("removed").as_array()[0].at("name").as_string() == idle.str());
    BOOST_TEST(!pipc_test::exists(object_kind::shared_memory, idle.str()));
    BOOST_TEST(pipc_test::exists(object_kind::semaphore, old_sem.str())); // --kind shm
}
