// SPDX-License-Identifier: BSL-1.0
// `pipc mq ...` against raw mq_* calls in this process.
#define BOOST_TEST_MODULE pipc_cli_mq
#include <boost/test/unit_test.hpp>

#include "run_pipc.hpp"

#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

using namespace pipc_cli_test;
using pipc::object_kind;
using pipc_test::exists;
using pipc_test::named;

namespace {

// A raw descriptor closed at scope exit.
struct raw_queue {
    mqd_t q;
    explicit raw_queue(const std::string& name, int flags = O_RDWR)
        : q(::mq_open(name.c_str(), flags)) {
        BOOST_REQUIRE_MESSAGE(q != static_cast<mqd_t>(-1),
                              "mq_open " << name << ": " << std::strerror(errno));
    }
    ~raw_queue() { ::mq_close(q); }
    mq_attr attr() const {
        mq_attr a{};
        BOOST_REQUIRE(::mq_getattr(q, &a) == 0);
        return a;
    }
    // Bounded receive: a test must not hang when pipc did not send.
    std::pair<std::string, unsigned> receive() const {
        std::string buf(static_cast<std::size_t>(attr().mq_msgsize), '\0');
        unsigned prio = 0;
        timespec deadline{};
        ::clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 10;
        const auto n = ::mq_timedreceive(q, buf.data(), buf.size(), &prio, &deadline);
        BOOST_REQUIRE_MESSAGE(n >= 0, "mq_timedreceive: " << std::strerror(errno));
        buf.resize(static_cast<std::size_t>(n));
        return {buf, prio};
    }
};

} // namespace

BOOST_AUTO_TEST_CASE(create_applies_geometry_and_mode) {
    named q(object_kind::message_queue);
    const auto r = run(
        {"mq", "create", q.str(), "--max-messages", "4", "--message-size", "1K", "--mode", "0640"});
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(r.out.empty());
    raw_queue raw(q.str(), O_RDONLY);
    BOOST_TEST(raw.attr().mq_maxmsg == 4);
    BOOST_TEST(raw.attr().mq_msgsize == 1024);
    struct ::stat st {};
    BOOST_REQUIRE(::fstat(raw.q, &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == 0640u);

    BOOST_TEST(run({"mq", "create", q.str(), "--exclusive"}).exit_code == 3);
    const auto again = run({"mq", "create", q.str(), "--max-messages", "8"});
    BOOST_TEST(again.exit_code == 0);
    BOOST_TEST(again.err.find("left unchanged") != std::string::npos, again.err);
    BOOST_TEST(raw.attr().mq_maxmsg == 4);
}

BOOST_AUTO_TEST_CASE(send_with_priority_is_received_by_raw_mq_receive) {
    named q(object_kind::message_queue);
    BOOST_REQUIRE(
        run({"mq", "create", q.str(), "--max-messages", "4", "--message-size", "64"}).exit_code ==
        0);
    BOOST_TEST(run({"mq", "send", q.str(), "low"}).exit_code == 0);
    BOOST_TEST(run({"mq", "send", q.str(), "--priority", "3", "high"}).exit_code == 0);
    // From stdin when MESSAGE is omitted, bytes exactly as given (binary included).
    const std::string binary("a\0b\xff\n", 5);
    run_options in;
    in.input = binary;
    BOOST_TEST(run({"mq", "send", q.str(), "-p", "1"}, in).exit_code == 0);
    raw_queue raw(q.str());
    const auto first = raw.receive();
    BOOST_TEST(first.first == "high");
    BOOST_TEST(first.second == 3u);
    const auto second = raw.receive();
    BOOST_TEST(second.first == binary);
    BOOST_TEST(second.second == 1u);
    const auto third = raw.receive();
    BOOST_TEST(third.first == "low");
    BOOST_TEST(third.second == 0u);
}

BOOST_AUTO_TEST_CASE(raw_mq_send_is_received_by_pipc) {
    named q(object_kind::message_queue);
    BOOST_REQUIRE(
        run({"mq", "create", q.str(), "--max-messages", "4", "--message-size", "64"}).exit_code ==
        0);
    raw_queue raw(q.str());
    BOOST_REQUIRE(::mq_send(raw.q, "plain", 5, 2) == 0);
    const std::string binary("\x00\x01\xfe\xff", 4);
    BOOST_REQUIRE(::mq_send(raw.q, binary.data(), binary.size(), 7) == 0);
    BOOST_REQUIRE(::mq_send(raw.q, "", 0, 0) == 0);

    const auto r = run({"mq", "recv", q.str(), "--count", "3", "--timeout", "5", "--json"});
    BOOST_TEST(r.exit_code == 0, r.err);
    const auto lines = json_lines(r.out);
    BOOST_REQUIRE(lines.size() == 3u);
    BOOST_TEST(lines[0].at("priority").as_int64() == 7);
    BOOST_TEST(lines[0].at("size").as_int64() == 4);
    BOOST_TEST(lines[0].at("encoding").as_string() == "base64");
    BOOST_TEST(base64_decode(std::string(lines[0].at("data").as_string())) == binary);
    BOOST_TEST(lines[1].at("priority").as_int64() == 2);
    BOOST_TEST(lines[1].at("data").as_string() == "plain");
    BOOST_TEST(lines[1].at("encoding").as_string() == "utf-8");
    BOOST_TEST(lines[2].at("size").as_int64() == 0);
    BOOST_TEST(lines[2].at("data").as_string() == "");
    BOOST_TEST(raw.attr().mq_curmsgs == 0);

    // Without --json each raw body is followed by a newline; --null ends each with a NUL.
    BOOST_REQUIRE(::mq_send(raw.q, binary.data(), binary.size(), 0) == 0);
    const auto body = run({"mq", "recv", q.str(), "-t", "5"});
    BOOST_TEST(body.exit_code == 0);
    BOOST_TEST(body.out == binary + "\n");
    BOOST_REQUIRE(::mq_send(raw.q, "a", 1, 0) == 0);
    BOOST_REQUIRE(::mq_send(raw.q, "b\nc", 3, 0) == 0);
    const auto lines_out = run({"mq", "recv", q.str(), "-n", "2", "-t", "5"});
    BOOST_TEST(lines_out.out == "a\nb\nc\n");
    BOOST_REQUIRE(::mq_send(raw.q, "a", 1, 0) == 0);
    BOOST_REQUIRE(::mq_send(raw.q, "b\nc", 3, 0) == 0);
    const auto nul = run({"mq", "recv", q.str(), "-n", "2", "-t", "5", "--null"});
    BOOST_TEST(nul.exit_code == 0, nul.err);
    BOOST_TEST(nul.out == std::string("a\0b\nc\0", 6));
    BOOST_TEST(run({"mq", "recv", q.str(), "--null", "--json"}).exit_code == 2);
}

BOOST_AUTO_TEST_CASE(recv_waits_for_a_message_sent_later) {
    named q(object_kind::message_queue);
    BOOST_REQUIRE(
        run({"mq", "create", q.str(), "--max-messages", "2", "--message-size", "32"}).exit_code ==
        0);
    // The receiver blocks; pipc is started first, the send happens once it is waiting in
    // mq_timedreceive or before (either way the message must arrive within the timeout).
    pipc_test::child_process receiver([&] {
        const auto r = run({"mq", "recv", q.str(), "--timeout", "15"});
        return r.exit_code == 0 && r.out == "late\n";
    });
    raw_queue raw(q.str());
    BOOST_REQUIRE(::mq_send(raw.q, "late", 4, 0) == 0);
    BOOST_TEST(receiver.succeeded(std::chrono::seconds(30)));
}

BOOST_AUTO_TEST_CASE(partial_count_prints_what_arrived_then_exits_5) {
    named q(object_kind::message_queue);
    BOOST_REQUIRE(
        run({"mq", "create", q.str(), "--max-messages", "2", "--message-size", "32"}).exit_code ==
        0);
    BOOST_REQUIRE(run({"mq", "send", q.str(), "only"}).exit_code == 0);
    const auto r = run({"mq", "recv", q.str(), "-n", "2", "-t", "0.1", "--json"});
    BOOST_TEST(r.exit_code == 5);
    BOOST_TEST(json_lines(r.out).size() == 1u);
    BOOST_TEST(r.err.find("received 1 of 2") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(bad_send_arguments_exit_2_and_send_nothing) {
    named q(object_kind::message_queue);
    BOOST_REQUIRE(
        run({"mq", "create", q.str(), "--max-messages", "2", "--message-size", "8"}).exit_code ==
        0);
    const auto too_long = run({"mq", "send", q.str(), "123456789"});
    BOOST_TEST(too_long.exit_code == 2, too_long.err);
    const auto prio = run({"mq", "send", q.str(), "x", "--priority", "32768"});
    BOOST_TEST(prio.exit_code == 2, prio.err);
    BOOST_TEST(raw_queue(q.str()).attr().mq_curmsgs == 0);
}

BOOST_AUTO_TEST_CASE(info_json) {
    named q(object_kind::message_queue);
    BOOST_REQUIRE(run({"mq", "create", q.str(), "--max-messages", "3", "--message-size", "100",
                       "--mode", "600"})
                      .exit_code == 0);
    BOOST_REQUIRE(run({"mq", "send", q.str(), "12345"}).exit_code == 0);
    const auto r = run({"mq", "info", q.str(), "--json"});
    BOOST_TEST(r.exit_code == 0, r.err);
    const auto j = json(r.out);
    BOOST_TEST(j.at("kind").as_string() == "mq");
    BOOST_TEST(j.at("name").as_string() == q.str());
    BOOST_TEST(j.at("name_encoding").as_string() == "utf-8");
    BOOST_TEST(j.at("mode").as_string() == "0600");
    BOOST_TEST(j.at("uid").as_int64() == ::geteuid());
    BOOST_TEST(j.at("gid").as_int64() == ::getegid());
    BOOST_TEST(j.at("current_messages").as_int64() == 1);
    BOOST_TEST(j.at("max_messages").as_int64() == 3);
    BOOST_TEST(j.at("message_size").as_int64() == 100);
    BOOST_TEST(j.at("holders").as_array().empty());
    // QSIZE is only known through an mqueue mount (or pipc's private one, as root).
    if (!j.at("queued_bytes").is_null()) BOOST_TEST(j.at("queued_bytes").as_int64() == 5);
    const auto text = run({"mq", "info", q.str()});
    BOOST_TEST(text.out.find("max_messages:     3") != std::string::npos, text.out);
}

BOOST_AUTO_TEST_CASE(rm_removes_every_name_and_reports_missing_ones) {
    named a(object_kind::message_queue), b(object_kind::message_queue),
        c(object_kind::message_queue);
    BOOST_REQUIRE(run({"mq", "create", a.str()}).exit_code == 0);
    BOOST_REQUIRE(run({"mq", "create", c.str()}).exit_code == 0);
    const auto r = run({"mq", "rm", a.str(), b.str(), c.str()});
    BOOST_TEST(r.exit_code == 3);
    BOOST_TEST(one_line(r.err), r.err);
    BOOST_TEST(r.err.find(b.str()) != std::string::npos);
    BOOST_TEST(!exists(object_kind::message_queue, a.str()));
    BOOST_TEST(!exists(object_kind::message_queue, c.str()));
    BOOST_TEST(run({"mq", "rm", "--force", b.str()}).exit_code == 0);
}

// Like `ls -l /dev/mqueue`: owner, mode and times need no permission on the queue; what needs it
// is "?" rather than an error. Run as uid 65534 with an mqueue mount of its own.
BOOST_AUTO_TEST_CASE(info_works_without_permission_to_open_the_queue) {
    if (::geteuid() != 0) {
        BOOST_TEST_MESSAGE("skipped: needs root to mount mqueue and change uid");
        return;
    }
    named q(object_kind::message_queue);
    BOOST_REQUIRE(run({"mq", "create", q.str(), "--mode", "0600"}).exit_code == 0);
    run_options o;
    o.in_child = [] {
        if (::unshare(CLONE_NEWNS) != 0) return false;
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
        if (::mount("tmpfs", "/tmp", "tmpfs", 0, "mode=0755") != 0) return false;
        if (::mkdir("/tmp/mq", 0755) != 0) return false;
        if (::mount("mqueue", "/tmp/mq", "mqueue", 0, nullptr) != 0) return false;
        return pipc_test::drop_to_nobody();
    };
    const auto r = run({"mq", "info", q.str(), "--json"}, o);
    BOOST_TEST(r.exit_code == 0, r.err);
    const auto j = json(r.out);
    BOOST_TEST(j.at("mode").as_string() == "0600");
    BOOST_TEST(j.at("uid").as_int64() == 0);
    BOOST_TEST(j.at("max_messages").is_null());
    BOOST_TEST(j.at("holders_complete").as_bool() == false);
    const auto missing = run({"mq", "info", q.str() + "-none"}, o);
    BOOST_TEST(missing.exit_code == 3, missing.err);
}
