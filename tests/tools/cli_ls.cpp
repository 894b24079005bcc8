// SPDX-License-Identifier: BSL-1.0
// `pipc ls`: objects made by raw POSIX calls in this process are listed with this process as
// holder; queues are listed whether or not /dev/mqueue is mounted.
#define BOOST_TEST_MODULE pipc_cli_ls
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

const boost::json::object* find(const boost::json::value& ls, const std::string& kind,
                                const std::string& name) {
    for (const auto& o : ls.at("objects").as_array())
        if (o.at("kind").as_string() == kind && o.at("name").as_string() == name)
            return &o.as_object();
    return nullptr;
}

bool held_by_me(const boost::json::object& o) {
    for (const auto& h : o.at("holders").as_array())
        if (h.at("pid").as_int64() == ::getpid()) return true;
    return false;
}

// The mount point of the first mqueue mount in this mount namespace, or "".
std::string mqueue_mount_point() {
    std::string found;
    FILE* f = std::fopen("/proc/self/mountinfo", "r");
    if (!f) return found;
    char line[4096];
    while (std::fgets(line, sizeof line, f)) {
        if (!std::strstr(line, " - mqueue ")) continue;
        char mp[4096];
        if (std::sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1) found = mp;
        break;
    }
    std::fclose(f);
    return found;
}

// In the child, before exec: a private mount namespace without any mqueue mount.
bool hide_mqueue_mounts() {
    if (::unshare(CLONE_NEWNS) != 0) return false;
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
    for (int i = 0; i < 16; ++i) {
        const std::string mp = mqueue_mount_point();
        if (mp.empty()) return true;
        if (::umount2(mp.c_str(), MNT_DETACH) != 0) return false;
    }
    return false;
}

} // namespace

BOOST_AUTO_TEST_CASE(lists_raw_objects_with_this_process_as_holder) {
    named q(object_kind::message_queue), s(object_kind::semaphore), m(object_kind::shared_memory);
    mq_attr attr{};
    attr.mq_maxmsg = 3;
    attr.mq_msgsize = 50;
    const mqd_t mq = ::mq_open(q.c_str(), O_RDWR | O_CREAT | O_EXCL, 0640, &attr);
    BOOST_REQUIRE(mq != static_cast<mqd_t>(-1));
    BOOST_REQUIRE(::mq_send(mq, "x", 1, 0) == 0);
    sem_t* sem = ::sem_open(s.c_str(), O_CREAT | O_EXCL, 0600, 9);
    BOOST_REQUIRE(sem != SEM_FAILED);
    const int fd = ::shm_open(m.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    BOOST_REQUIRE(fd >= 0);
    BOOST_REQUIRE(::ftruncate(fd, 5000) == 0);
    // Held only through a mapping: the descriptor is closed, /proc/PID/maps must find it.
    void* map = ::mmap(nullptr, 5000, PROT_READ, MAP_SHARED, fd, 0);
    BOOST_REQUIRE(map != MAP_FAILED);
    ::close(fd);

    const auto r = run({"ls", "--json"});
    BOOST_TEST(r.exit_code == 0, r.err);
    const auto ls = json(r.out);
    BOOST_TEST(ls.at("holders_complete").is_bool());
    BOOST_TEST(ls.at("uninspected_pids").is_array());

    const auto* shm = find(ls, "shm", m.str());
    BOOST_REQUIRE(shm);
    BOOST_TEST(shm->at("size").as_int64() == 5000);
    BOOST_TEST(shm->at("mode").as_string() == "0600");
    BOOST_TEST(held_by_me(*shm), r.out);

    const auto* se = find(ls, "sem", s.str());
    BOOST_REQUIRE(se);
    BOOST_TEST(se->at("value").as_int64() == 9);
    BOOST_TEST(held_by_me(*se), r.out);
    BOOST_TEST(!find(ls, "shm", "/sem." + s.str().substr(1))); // sem.* files are semaphores

    if (ls.at("mqueue").at("listed").as_bool()) {
        const auto* mqo = find(ls, "mq", q.str());
        BOOST_REQUIRE(mqo);
        BOOST_TEST(mqo->at("mode").as_string() == "0640");
        BOOST_TEST(mqo->at("current_messages").as_int64() == 1);
        BOOST_TEST(mqo->at("max_messages").as_int64() == 3);
        BOOST_TEST(mqo->at("message_size").as_int64() == 50);
        BOOST_TEST(mqo->at("queued_bytes").as_int64() == 1);
        BOOST_TEST(held_by_me(*mqo), r.out);
    } else {
        BOOST_TEST(::geteuid() != 0, "root can always list queues: " << r.out);
        BOOST_TEST(ls.at("mqueue").at("reason").is_string());
    }

    // --kind filters; the text table names the holder.
    const auto only_sem = json(run({"ls", "--kind", "sem", "--json"}).out);
    BOOST_TEST(find(only_sem, "sem", s.str()));
    BOOST_TEST(!find(only_sem, "shm", m.str()));
    BOOST_TEST(only_sem.at("mqueue").at("listed").as_bool() == false);
    const auto table = run({"ls", "--kind", "shm"});
    BOOST_TEST(table.exit_code == 0);
    const auto line_at = table.out.find(m.str());
    BOOST_REQUIRE(line_at != std::string::npos);
    const auto line = table.out.substr(line_at, table.out.find('\n', line_at) - line_at);
    BOOST_TEST(line.find(std::to_string(::getpid()) + "(") != std::string::npos, line);
    BOOST_TEST(line.find("size=5000") != std::string::npos, line);

    ::munmap(map, 5000);
    ::sem_close(sem);
    ::mq_close(mq);
}

BOOST_AUTO_TEST_CASE(queues_are_listed_without_a_mqueue_mount) {
    if (::geteuid() != 0) {
        BOOST_TEST_MESSAGE("skipped: needs root for a private mount namespace");
        return;
    }
    named q(object_kind::message_queue);
    const mqd_t mq = ::mq_open(q.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, nullptr);
    BOOST_REQUIRE(mq != static_cast<mqd_t>(-1));
    run_options hidden;
    hidden.in_child = hide_mqueue_mounts;
    const auto r = run({"ls", "--kind", "mq", "--json"}, hidden);
    BOOST_TEST(r.exit_code == 0, r.err);
    const auto ls = json(r.out);
    BOOST_TEST(ls.at("mqueue").at("listed").as_bool());
    BOOST_TEST(ls.at("mqueue").at("private_mount").as_bool());
    const auto* o = find(ls, "mq", q.str());
    BOOST_REQUIRE(o);
    BOOST_TEST(held_by_me(*o), r.out);

    // Without root there is no way to mount one: say so plainly, exit 4 (permissions).
    run_options hidden_nobody;
    hidden_nobody.in_child = [] { return hide_mqueue_mounts() && pipc_test::drop_to_nobody(); };
    const auto denied = run({"ls", "--kind", "mq"}, hidden_nobody);
    BOOST_TEST(denied.exit_code == 4, denied.err);
    BOOST_TEST(one_line(denied.err), denied.err);
    BOOST_TEST(denied.err.find("message queues cannot be listed") != std::string::npos, denied.err);
    BOOST_TEST(denied.err.find("mount -t mqueue none /dev/mqueue") != std::string::npos);
    // Listing everything still works and warns about the queues.
    const auto all = run({"ls", "--json"}, hidden_nobody);
    BOOST_TEST(all.exit_code == 0, all.err);
    BOOST_TEST(json(all.out).at("mqueue").at("listed").as_bool() == false);
    BOOST_TEST(all.err.find("warning: message queues cannot be listed") != std::string::npos);
    ::mq_close(mq);
}

BOOST_AUTO_TEST_CASE(non_utf8_names_are_base64_in_json_and_escaped_in_text) {
    const std::string name = pipc_test::unique_name("bin") + "\xff\x01";
    const int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    BOOST_REQUIRE(fd >= 0);
    ::close(fd);
    const auto r = run({"ls", "--kind", "shm", "--json"});
    const auto t = run({"ls", "--kind", "shm"});
    ::shm_unlink(name.c_str());
    BOOST_TEST(r.exit_code == 0, r.err);
    bool found = false;
    const auto doc = json(r.out);
    for (const auto& o : doc.at("objects").as_array()) {
        if (o.at("name_encoding").as_string() != "base64") continue;
        found |= base64_decode(std::string(o.at("name").as_string())) == name;
    }
    BOOST_TEST(found, r.out);
    BOOST_TEST(t.out.find(name.substr(0, name.size() - 2) + "\\xff\\x01") != std::string::npos,
               t.out);
}
