// SPDX-License-Identifier: BSL-1.0
// `pipc sem ...` against raw sem_* calls in this process.
#define BOOST_TEST_MODULE pipc_cli_sem
#include <boost/test/unit_test.hpp>

#include "run_pipc.hpp"

#include <fcntl.h>
#include <semaphore.h>
#include <sys/stat.h>

using namespace pipc_cli_test;
using pipc::object_kind;
using pipc_test::exists;
using pipc_test::named;

namespace {
int raw_value(const std::string& name) {
    sem_t* s = ::sem_open(name.c_str(), 0);
    BOOST_REQUIRE_MESSAGE(s != SEM_FAILED, "sem_open " << name << ": " << std::strerror(errno));
    int v = -1;
    ::sem_getvalue(s, &v);
    ::sem_close(s);
    return v;
}
} // namespace

BOOST_AUTO_TEST_CASE(create_post_wait_round_trip) {
    named s(object_kind::semaphore);
    auto r = run({"sem", "create", s.str(), "--value", "2", "--mode", "0604"});
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(raw_value(s.str()) == 2);
    struct ::stat st {};
    BOOST_REQUIRE(::stat(("/dev/shm/sem." + s.str().substr(1)).c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == 0604u);

    BOOST_TEST(run({"sem", "post", s.str(), "--count", "3"}).exit_code == 0);
    BOOST_TEST(raw_value(s.str()) == 5);
    BOOST_TEST(run({"sem", "wait", s.str(), "--timeout", "0"}).exit_code == 0);
    BOOST_TEST(run({"sem", "wait", s.str()}).exit_code == 0);
    BOOST_TEST(raw_value(s.str()) == 3);
    BOOST_TEST(run({"sem", "post", s.str(), "--count", "0"}).exit_code == 2);
    BOOST_TEST(raw_value(s.str()) == 3);
}

BOOST_AUTO_TEST_CASE(wait_returns_when_raw_sem_post_happens) {
    named s(object_kind::semaphore);
    BOOST_REQUIRE(run({"sem", "create", s.str()}).exit_code == 0);
    pipc_test::child_process waiter([&] {
        return run({"sem", "wait", s.str(), "--timeout", "15"}).exit_code == 0;
    });
    sem_t* raw = ::sem_open(s.c_str(), 0);
    BOOST_REQUIRE(raw != SEM_FAILED);
    BOOST_REQUIRE(::sem_post(raw) == 0);
    ::sem_close(raw);
    BOOST_TEST(waiter.succeeded(std::chrono::seconds(30)));
    BOOST_TEST(raw_value(s.str()) == 0);
}

BOOST_AUTO_TEST_CASE(post_past_sem_value_max_is_refused) {
    named s(object_kind::semaphore);
    BOOST_REQUIRE(
        run({"sem", "create", s.str(), "--value", std::to_string(SEM_VALUE_MAX)}).exit_code == 0);
    const auto r = run({"sem", "post", s.str()});
    BOOST_TEST(r.exit_code == 2, r.err);
    BOOST_TEST(raw_value(s.str()) == SEM_VALUE_MAX);
}

BOOST_AUTO_TEST_CASE(info_json_and_text) {
    named s(object_kind::semaphore);
    sem_t* raw = ::sem_open(s.c_str(), O_CREAT | O_EXCL, 0600, 4);
    BOOST_REQUIRE(raw != SEM_FAILED);
    const auto r = run({"sem", "info", s.str(), "--json"});
    ::sem_close(raw);
    BOOST_TEST(r.exit_code == 0, r.err);
    const auto j = json(r.out);
    BOOST_TEST(j.at("kind").as_string() == "sem");
    BOOST_TEST(j.at("name").as_string() == s.str());
    BOOST_TEST(j.at("value").as_int64() == 4);
    BOOST_TEST(j.at("uid").as_int64() == ::geteuid());
    BOOST_TEST(j.at("ctime").is_int64());
    // This process maps the semaphore: it is a holder, found by inode (glibc maps a temp name).
    bool self = false;
    for (const auto& h : j.at("holders").as_array()) self |= h.at("pid").as_int64() == ::getpid();
    BOOST_TEST(self, r.out);
    const auto text = run({"sem", "info", s.str()});
    BOOST_TEST(text.out.find("value:            4") != std::string::npos, text.out);
}

BOOST_AUTO_TEST_CASE(rm) {
    named a(object_kind::semaphore), b(object_kind::semaphore);
    BOOST_REQUIRE(run({"sem", "create", a.str()}).exit_code == 0);
    BOOST_REQUIRE(run({"sem", "create", b.str()}).exit_code == 0);
    BOOST_TEST(run({"sem", "rm", a.str(), b.str()}).exit_code == 0);
    BOOST_TEST(!exists(object_kind::semaphore, a.str()));
    BOOST_TEST(!exists(object_kind::semaphore, b.str()));
    BOOST_TEST(run({"sem", "rm", a.str()}).exit_code == 3);
}
