// SPDX-License-Identifier: BSL-1.0
#define BOOST_TEST_MODULE pipc message_queue
#include <boost/test/unit_test.hpp>

#include <pipc/limits.hpp>
#include <pipc/message_queue.hpp>

#include <pipc_test/fault.hpp>
#include <pipc_test/sanitizers.hpp>
#include <pipc_test/support.hpp>

#include <sys/eventfd.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using pipc::errc;
using pipc::message_queue;
using pipc::open_mode;
using pipc_test::named;

namespace {
constexpr auto kind = pipc::object_kind::message_queue;
// Small queues: RLIMIT_MSGQUEUE is shared by every test running in parallel.
message_queue::options create(long max_messages = 4, long max_size = 64) {
    return {.open = open_mode::create_exclusive,
            .max_messages = max_messages,
            .max_message_size = max_size};
}
std::span<const std::byte> bytes(std::string_view s) {
    return std::as_bytes(std::span(s));
}
std::string text(std::span<const std::byte> b, std::size_t n) {
    return {reinterpret_cast<const char*>(b.data()), n};
}

} // namespace

BOOST_AUTO_TEST_SUITE(opening)

BOOST_AUTO_TEST_CASE(create_reports_geometry_and_open_reads_it_back) {
    named name(kind);
    message_queue a(name, create(3, 100));
    BOOST_TEST(a.created());
    BOOST_TEST(a.max_messages() == 3);
    BOOST_TEST(a.max_message_size() == 100);
    message_queue b(name,
                    {.open = open_mode::open_or_create, .max_messages = 9, .max_message_size = 9});
    BOOST_TEST(!b.created());
    BOOST_TEST(b.max_messages() == 3); // the existing queue's, not the request's
    const auto attrs = b.attributes();
    BOOST_TEST(attrs.max_message_size == 100);
    BOOST_TEST(attrs.current_messages == 0);
    BOOST_TEST(attrs.blocking);
}

BOOST_AUTO_TEST_CASE(zero_geometry_takes_the_system_defaults) {
    named name(kind);
    message_queue q(name, {.open = open_mode::create_exclusive, .max_messages = 2});
    const auto limits = pipc::read_mqueue_limits();
    BOOST_TEST(q.max_message_size() == limits.msgsize_default.value_or(8192));
}

BOOST_AUTO_TEST_CASE(mode_is_exact_whatever_the_umask) {
    named name(kind);
    const ::mode_t old = ::umask(077);
    message_queue q(name, {.open = open_mode::create_exclusive,
                           .permissions = 0640,
                           .max_messages = 1,
                           .max_message_size = 8});
    ::umask(old);
    struct ::stat st {};
    BOOST_REQUIRE(::fstat(q.native_handle(), &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == 0640U);
}

BOOST_AUTO_TEST_CASE(bad_input_is_rejected_without_side_effects) {
    named name(kind);
    struct row {
        const char* what;
        std::string name;
        message_queue::options opts;
        errc expected;
    };
    auto with = [](auto change) {
        auto o = create();
        change(o);
        return o;
    };
    const row rows[] = {
        {"no slash", "q", create(), errc::invalid_name},
        {"dot dot", "/..", create(), errc::invalid_name},
        {"too long", "/" + std::string(256, 'q'), create(), errc::name_too_long},
        {"negative max_messages", name.str(), with([](auto& o) { o.max_messages = -1; }),
         errc::invalid_max_messages},
        {"huge max_messages", name.str(), with([](auto& o) { o.max_messages = 1L << 40; }),
         errc::invalid_max_messages},
        {"negative size", name.str(), with([](auto& o) { o.max_message_size = -5; }),
         errc::invalid_max_message_size},
        {"huge size", name.str(), with([](auto& o) { o.max_message_size = 1L << 30; }),
         errc::invalid_max_message_size},
        {"access", name.str(), with([](auto& o) { o.access = static_cast<pipc::access>(3); }),
         errc::invalid_access},
        {"permissions", name.str(), with([](auto& o) { o.permissions = 0170000; }),
         errc::invalid_permissions},
    };
    for (const auto& r : rows) BOOST_TEST_CONTEXT(r.what) {
            message_queue q;
            pipc::error_code ec;
            q.open(r.name, r.opts, ec);
            BOOST_TEST((ec == make_error_code(r.expected)));
            BOOST_TEST(!q.is_open());
            BOOST_TEST(!pipc_test::exists(kind, name.str()));
        }
}

BOOST_AUTO_TEST_CASE(limits_are_named_when_hit_by_an_unprivileged_user) {
    named name(kind);
    const auto limits = pipc::read_mqueue_limits();
    BOOST_REQUIRE(limits.msg_max && limits.msgsize_max);
    pipc_test::child_process child([&] {
        if (!pipc_test::drop_to_nobody()) return false;
        pipc::error_code ec;
        message_queue q;
        q.open(name.str(), create(*limits.msg_max + 1, 64), ec);
        if (ec != make_error_code(errc::msg_max_exceeded)) return false;
        q.open(name.str(), create(1, *limits.msgsize_max + 1), ec);
        if (ec != make_error_code(errc::msgsize_max_exceeded)) return false;
        ::rlimit tiny{4096, 4096}; // fewer bytes than one 4 x 1024 queue needs
        if (::setrlimit(RLIMIT_MSGQUEUE, &tiny) != 0) return false;
        q.open(name.str(), create(4, 1024), ec);
        return ec == make_error_code(errc::rlimit_msgqueue_exceeded) && !q.is_open();
    });
    BOOST_TEST(child.succeeded());
    BOOST_TEST(!pipc_test::exists(kind, name.str()));
}

BOOST_AUTO_TEST_CASE(running_out_of_descriptors_is_not_blamed_on_rlimit_msgqueue) {
    named name(kind);
    pipc_test::child_process child([&] {
        ::rlimit few{32, 32};
        if (::setrlimit(RLIMIT_NOFILE, &few) != 0) return false;
        while (::open("/dev/null", O_RDONLY) >= 0) {
        }
        pipc::error_code ec;
        message_queue q;
        q.open(name.str(), create(), ec);
        return ec == boost::system::errc::too_many_files_open &&
               ec.category() == boost::system::system_category();
    });
    BOOST_TEST(child.succeeded());
    BOOST_TEST(!pipc_test::exists(kind, name.str()));
}

BOOST_AUTO_TEST_CASE(queues_max_is_named) {
    named name(kind);
    pipc_test::fault_scope faults;
    faults.table().mq_open = [](const char*, int, ::mode_t, ::mq_attr*) -> ::mqd_t {
        errno = ENOSPC;
        return -1;
    };
    pipc::error_code ec;
    message_queue q;
    q.open(name, create(), ec);
    BOOST_TEST((ec == make_error_code(errc::queues_max_reached)));
}

BOOST_AUTO_TEST_CASE(a_failed_setup_step_removes_the_created_queue) {
    named name(kind);
    pipc_test::fault_scope faults;
    faults.table().mq_getattr = [](::mqd_t, ::mq_attr*) {
        errno = EIO;
        return -1;
    };
    pipc::error_code ec;
    message_queue q;
    q.open(name, create(), ec);
    BOOST_TEST((ec == boost::system::errc::io_error));
    BOOST_TEST(!q.is_open());
    faults.table() = pipc::detail::real_sys();
    BOOST_TEST(!pipc_test::exists(kind, name.str()));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(messages)

BOOST_AUTO_TEST_CASE(priority_order_then_fifo) {
    named name(kind);
    message_queue q(name, create(6, 16));
    q.send("a0", 0);
    q.send("b5", 5);
    q.send("c0", 0);
    q.send("d5", 5);
    q.send("e9", 9);
    q.send(std::string_view(), 1); // empty messages are messages
    const char* expected[] = {"e9", "b5", "d5", "", "a0", "c0"};
    const unsigned priorities[] = {9, 5, 5, 1, 0, 0};
    for (int i = 0; i < 6; ++i) {
        const auto m = q.receive();
        BOOST_TEST(m.text() == expected[i]);
        BOOST_TEST(m.priority == priorities[i]);
    }
}

BOOST_AUTO_TEST_CASE(binary_payloads_round_trip_byte_for_byte) {
    named name(kind);
    message_queue q(name, create(2, 256));
    std::array<std::byte, 256> out{};
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = std::byte(i);
    q.send(out, 3);
    std::array<std::byte, 256> in{};
    const auto r = q.receive(in);
    BOOST_TEST(r.size == 256U);
    BOOST_TEST(r.priority == 3U);
    BOOST_TEST(std::memcmp(in.data(), out.data(), 256) == 0);
}

BOOST_AUTO_TEST_CASE(try_calls_never_block) {
    named name(kind);
    message_queue q(name, create(2, 16));
    std::array<std::byte, 16> buf{};
    BOOST_TEST(!q.try_receive(buf).has_value());
    BOOST_TEST(q.try_send(bytes("1")));
    BOOST_TEST(q.try_send(bytes("2")));
    pipc::error_code ec;
    BOOST_TEST(!q.try_send(bytes("3"), 0, ec));
    BOOST_TEST(!ec);
    BOOST_TEST(q.current_messages() == 2);
    const auto r = q.try_receive(buf);
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(text(buf, r->size) == "1");
}

BOOST_AUTO_TEST_CASE(timed_calls_wait_at_least_the_timeout) {
    named name(kind);
    message_queue q(name, create(1, 16));
    std::array<std::byte, 16> buf{};
    auto start = std::chrono::steady_clock::now();
    BOOST_TEST(!q.receive_for(buf, 50ms).has_value());
    BOOST_TEST((std::chrono::steady_clock::now() - start >= 50ms));
    q.send("x");
    start = std::chrono::steady_clock::now();
    BOOST_TEST(!q.send_for(bytes("y"), 30ms));
    BOOST_TEST((std::chrono::steady_clock::now() - start >= 30ms));
    BOOST_TEST(!q.send_until(bytes("y"), std::chrono::system_clock::now() + 10ms));
    BOOST_TEST(q.receive_until(buf, std::chrono::steady_clock::now() + 1s).has_value());
    BOOST_TEST(q.send_for(bytes("z"), -1s)); // room now: a non-positive timeout is a try
    pipc::error_code ec;
    q.receive_for(buf, std::chrono::duration<double>(std::nan("")), ec);
    BOOST_TEST((ec == make_error_code(errc::invalid_timeout)));
    BOOST_TEST(q.current_messages() == 1); // the NaN call took nothing
}

BOOST_AUTO_TEST_CASE(extreme_deadlines_never_hang_or_cut_short) {
    named name(kind);
    message_queue q(name, create(1, 16));
    std::array<std::byte, 16> buf{};
    pipc_test::child_process child(
        [&] { // a watchdog: a wrapped deadline used to hang here
            message_queue mine(name.str());
            std::array<std::byte, 16> b{};
            // Far past: a single try each. The queue is empty, so the receives get nothing; it has
            // room, so the send goes through.
            return !mine.receive_until(b, std::chrono::steady_clock::time_point::min()) &&
                   !mine.receive_until(b, std::chrono::system_clock::time_point::min()) &&
                   mine.send_until(bytes("x"), std::chrono::system_clock::time_point::min());
        },
        10);
    BOOST_TEST(child.succeeded());
    BOOST_TEST(q.current_messages() == 1); // the child's far-past send was a successful try
    using far = std::chrono::time_point<std::chrono::system_clock, std::chrono::seconds>;
    BOOST_TEST(q.receive_until(buf, far::max()).has_value()); // "forever", and a message is there
}

BOOST_AUTO_TEST_CASE(non_blocking_description_still_honours_each_call) {
    named name(kind);
    message_queue q(name, {.open = open_mode::create_exclusive,
                           .max_messages = 1,
                           .max_message_size = 16,
                           .blocking = false});
    BOOST_TEST(!q.blocking());
    std::array<std::byte, 16> buf{};
    auto start = std::chrono::steady_clock::now();
    BOOST_TEST(!q.receive_for(buf, 30ms).has_value()); // waits via poll, not EAGAIN at once
    BOOST_TEST((std::chrono::steady_clock::now() - start >= 30ms));
    pipc_test::handshake ready;
    pipc_test::child_process child([&] {
        message_queue mine(name.str());
        ready.wait();
        mine.send("late");
        return true;
    });
    ready.signal();
    const auto r = q.receive(buf); // blocking receive over an O_NONBLOCK description
    BOOST_TEST(text(buf, r.size) == "late");
    BOOST_TEST(child.succeeded());
    q.set_blocking(true);
    BOOST_TEST(q.blocking());
}

BOOST_AUTO_TEST_CASE(a_blocked_receive_is_woken_by_another_process) {
    named name(kind);
    message_queue q(name, create(2, 32));
    pipc_test::handshake ready;
    pipc_test::child_process child([&] {
        message_queue mine(name.str());
        ready.signal();
        std::vector<std::byte> buf(32);
        const auto m = mine.receive_for(std::span(buf), 20s);
        return m.has_value() && m->size == 5 && m->priority == 4;
    });
    ready.wait();
    q.send("hello", 4);
    BOOST_TEST(child.succeeded());
}

BOOST_AUTO_TEST_CASE(bad_sends_and_receives_change_nothing) {
    named name(kind);
    message_queue q(name, create(2, 8));
    pipc::error_code ec;
    q.send(bytes("123456789"), 0, ec);
    BOOST_TEST((ec == make_error_code(errc::message_too_long)));
    q.send(bytes("x"), static_cast<unsigned>(pipc::message_priority_max()), ec);
    BOOST_TEST((ec == make_error_code(errc::invalid_priority)));
    q.try_send(bytes("x"), ~0U, ec);
    BOOST_TEST((ec == make_error_code(errc::invalid_priority)));
    BOOST_TEST(q.current_messages() == 0);
    q.send("ok", static_cast<unsigned>(pipc::message_priority_max() - 1));
    std::array<std::byte, 7> small{};
    q.receive(small, ec);
    BOOST_TEST((ec == make_error_code(errc::buffer_too_small)));
    BOOST_TEST(q.current_messages() == 1);
    BOOST_CHECK_THROW(q.send(bytes("123456789")), pipc::error);
}

// Every send form takes the same payloads (bytes, std::string_view, anything that converts to it
// such as a literal or std::string) with a priority; every receive form takes a caller's buffer
// or returns an owning message.
BOOST_AUTO_TEST_CASE(every_send_form_takes_bytes_strings_and_literals) {
    named name(kind);
    message_queue q(name, create(6, 8));
    const auto soon = [] { return std::chrono::steady_clock::now() + 5s; };
    const auto drain = [&q] {
        std::vector<std::pair<std::string, unsigned>> out;
        while (auto m = q.try_receive()) out.emplace_back(std::string(m->text()), m->priority);
        return out;
    };
    using got = std::vector<std::pair<std::string, unsigned>>;
    pipc::error_code ec;

    q.send("s-lit", 1);
    q.send(std::string("s-str"), 2, ec);
    BOOST_TEST(!ec);
    BOOST_TEST(q.try_send("t-lit", 3));
    BOOST_TEST(q.try_send(std::string_view("t-sv"), 4, ec));
    BOOST_TEST(!ec);
    BOOST_TEST(q.try_send(std::string("t-def")));
    BOOST_TEST(q.try_send(bytes("t-byt"), 5));
    BOOST_TEST(
        (drain() ==
         got{{"t-byt", 5}, {"t-sv", 4}, {"t-lit", 3}, {"s-str", 2}, {"s-lit", 1}, {"t-def", 0}}));

    BOOST_TEST(q.send_for("f-lit", 5s, 5));
    BOOST_TEST(q.send_for(std::string("f-str"), 5s, 6, ec));
    BOOST_TEST(!ec);
    BOOST_TEST(q.send_for("f-def", 5s));
    BOOST_TEST(q.send_until("u-lit", soon(), 7));
    BOOST_TEST(
        q.send_until(std::string_view("u-sv"), std::chrono::system_clock::now() + 5s, 8, ec));
    BOOST_TEST(!ec);
    BOOST_TEST(q.send_until("u-def", soon()));
    BOOST_TEST(
        (drain() ==
         got{{"u-sv", 8}, {"u-lit", 7}, {"f-str", 6}, {"f-lit", 5}, {"f-def", 0}, {"u-def", 0}}));

    // A full queue: the string forms of the try and timed sends report false, no error.
    for (int i = 0; i < 6; ++i) q.send("fill");
    BOOST_TEST(!q.try_send("x"));
    BOOST_TEST(!q.try_send("x", 0, ec));
    BOOST_TEST(!ec);
    BOOST_TEST(!q.send_for("x", 1ms));
    BOOST_TEST(!q.send_until("x", std::chrono::steady_clock::now() + 1ms, 0, ec));
    BOOST_TEST(!ec);
    BOOST_TEST(drain().size() == 6U);

    // Bad input through the string forms: the same errors as the byte forms, nothing sent.
    q.try_send("123456789", 0, ec);
    BOOST_TEST((ec == make_error_code(errc::message_too_long)));
    q.send_for("x", 5s, ~0U, ec);
    BOOST_TEST((ec == make_error_code(errc::invalid_priority)));
    q.send_until("123456789", soon(), 0, ec);
    BOOST_TEST((ec == make_error_code(errc::message_too_long)));
    q.send_for("x", std::chrono::duration<double>(std::nan("")), 0, ec);
    BOOST_TEST((ec == make_error_code(errc::invalid_timeout)));
    BOOST_CHECK_THROW(q.try_send("123456789"), pipc::error);
    BOOST_CHECK_THROW(q.send_for("x", 5s, ~0U), pipc::error);
    BOOST_CHECK_THROW(q.send_until("123456789", soon()), pipc::error);
    BOOST_TEST(q.current_messages() == 0);
}

BOOST_AUTO_TEST_CASE(every_receive_form_fills_a_buffer_or_returns_a_message) {
    named name(kind);
    message_queue q(name, create(4, 8));
    pipc::error_code ec;

    // Empty queue: every owning form reports "nothing", not an error.
    BOOST_TEST(!q.try_receive().has_value());
    BOOST_TEST(!q.try_receive(ec).has_value());
    BOOST_TEST(!ec);
    BOOST_TEST(!q.receive_for(1ms).has_value());
    BOOST_TEST(!q.receive_for(1ms, ec).has_value());
    BOOST_TEST(!ec);
    BOOST_TEST(!q.receive_until(std::chrono::steady_clock::now() + 1ms).has_value());
    BOOST_TEST(!q.receive_until(std::chrono::system_clock::now(), ec).has_value());
    BOOST_TEST(!ec);

    q.send("a", 4);
    q.send("bb", 3);
    q.send("", 2); // an empty message is a message, not "nothing"
    q.send("dddd", 1);
    auto m = q.try_receive();
    BOOST_REQUIRE(m.has_value());
    BOOST_TEST(m->text() == "a");
    BOOST_TEST(m->priority == 4U);
    BOOST_TEST(m->data.size() == 1U); // trimmed to the message
    m = q.try_receive(ec);
    BOOST_REQUIRE(m.has_value());
    BOOST_TEST((m->text() == "bb" && m->priority == 3U));
    m = q.receive_for(5s);
    BOOST_REQUIRE(m.has_value());
    BOOST_TEST((m->text().empty() && m->priority == 2U));
    m = q.receive_until(std::chrono::steady_clock::now() + 5s, ec);
    BOOST_REQUIRE(m.has_value());
    BOOST_TEST((m->text() == "dddd" && m->priority == 1U));
    BOOST_TEST(!ec);

    // NaN is rejected before anything is taken.
    q.send("kept");
    q.receive_for(std::chrono::duration<double>(std::nan("")), ec);
    BOOST_TEST((ec == make_error_code(errc::invalid_timeout)));
    BOOST_CHECK_THROW(q.receive_for(std::chrono::duration<double>(std::nan(""))), pipc::error);
    BOOST_TEST(q.current_messages() == 1);

    // A write-only handle cannot receive: not_readable, the message stays.
    message_queue w(name, {.access = pipc::access::write_only});
    BOOST_TEST(!w.try_receive(ec).has_value());
    BOOST_TEST((ec == make_error_code(errc::not_readable)));
    BOOST_TEST(!w.receive_for(5s, ec).has_value());
    BOOST_TEST((ec == make_error_code(errc::not_readable)));
    BOOST_TEST(!w.receive_until(std::chrono::steady_clock::now() + 5s, ec).has_value());
    BOOST_TEST((ec == make_error_code(errc::not_readable)));
    BOOST_CHECK_THROW(w.try_receive(), pipc::error);
    BOOST_CHECK_THROW(w.receive_until(std::chrono::steady_clock::now() + 5s), pipc::error);
    BOOST_TEST(q.current_messages() == 1);

    // A closed handle: errc::closed from every owning form.
    q.close();
    BOOST_TEST(!q.try_receive(ec).has_value());
    BOOST_TEST((ec == make_error_code(errc::closed)));
    BOOST_TEST(!q.receive_for(5s, ec).has_value());
    BOOST_TEST((ec == make_error_code(errc::closed)));
    BOOST_TEST(!q.receive_until(std::chrono::steady_clock::now() + 5s, ec).has_value());
    BOOST_TEST((ec == make_error_code(errc::closed)));
    BOOST_CHECK_THROW(q.receive_for(5s), pipc::existential_error);
    BOOST_TEST(w.current_messages() == 1);
}

BOOST_AUTO_TEST_CASE(access_is_enforced_per_handle) {
    named name(kind);
    message_queue owner(name, create());
    message_queue reader(name, {.access = pipc::access::read_only});
    message_queue writer(name, {.access = pipc::access::write_only});
    BOOST_TEST(!reader.can_write());
    BOOST_TEST(!writer.can_read());
    pipc::error_code ec;
    reader.send("x", 0, ec);
    BOOST_TEST((ec == make_error_code(errc::not_writable)));
    BOOST_TEST((ec == pipc::condition::permissions));
    writer.receive(ec);
    BOOST_TEST((ec == make_error_code(errc::not_readable)));
    writer.send("y");
    BOOST_TEST(reader.receive().text() == "y");
}

BOOST_AUTO_TEST_CASE(messages_from_threads_arrive_exactly_once) {
    named name(kind);
    message_queue q(name, create(4, 16));
    constexpr int per_thread = 200;
    std::vector<std::thread> senders;
    for (int t = 0; t < 3; ++t)
        senders.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                const int value = t * per_thread + i;
                q.send(std::as_bytes(std::span(&value, 1)));
            }
        });
    std::vector<int> seen(3 * per_thread, 0);
    std::array<std::byte, 16> buf{};
    for (int i = 0; i < 3 * per_thread; ++i) {
        const auto r = q.receive_for(buf, 20s);
        BOOST_REQUIRE(r.has_value());
        int value = 0;
        std::memcpy(&value, buf.data(), sizeof value);
        ++seen[static_cast<std::size_t>(value)];
    }
    for (auto& t : senders) t.join();
    BOOST_TEST(std::count(seen.begin(), seen.end(), 1) == 3 * per_thread);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(notification)

// Not under TSan: glibc starts SIGEV_THREAD callbacks from its own helper thread through an
// internal pthread_create that ThreadSanitizer does not intercept, and TSan crashes in it.
BOOST_AUTO_TEST_CASE(callback_runs_once_on_empty_to_non_empty,
                     *boost::unit_test::precondition(pipc_test::not_under_thread_sanitizer)) {
    named name(kind);
    message_queue q(name, create());
    const int efd = ::eventfd(0, EFD_CLOEXEC);
    BOOST_REQUIRE(efd >= 0);
    q.request_notification([efd] {
        // pipc blocks signals in the notification thread (glibc unblocks them all there).
        ::sigset_t mask;
        ::pthread_sigmask(SIG_BLOCK, nullptr, &mask);
        const std::uint64_t one = sigismember(&mask, SIGTERM) == 1 ? 1 : 100;
        (void)!::write(efd, &one, sizeof one);
    });
    q.send("wake");
    ::pollfd p{efd, POLLIN, 0};
    BOOST_TEST(::poll(&p, 1, 20000) == 1);
    std::uint64_t count = 0;
    BOOST_TEST(::read(efd, &count, sizeof count) == static_cast<ssize_t>(sizeof count));
    BOOST_TEST(count == 1U);
    // One-shot: a second message (still non-empty) notifies nobody; re-arming works.
    q.receive();
    q.request_notification([efd] {
        const std::uint64_t one = 1;
        (void)!::write(efd, &one, sizeof one);
    });
    q.send("again");
    BOOST_TEST(::poll(&p, 1, 20000) == 1);
    ::close(efd);
}

BOOST_AUTO_TEST_CASE(signal_notification_and_cancel) {
    named name(kind);
    // In a single-threaded child: a process-directed signal then has exactly one possible target.
    pipc_test::child_process child([&] {
        message_queue q(name.str(), create());
        ::sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR2);
        ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
        q.request_notification(SIGUSR2);
        q.send("x");
        ::timespec limit{20, 0};
        if (::sigtimedwait(&set, nullptr, &limit) != SIGUSR2) return false;
        q.receive();
        q.request_notification(SIGUSR2);
        q.cancel_notification();
        q.send("y");
        ::timespec none{0, 0};
        if (::sigtimedwait(&set, nullptr, &none) != -1) return false; // cancelled: nothing pending
        pipc::error_code ec;
        q.request_notification(-3, ec);
        return ec == make_error_code(errc::invalid_signal);
    });
    BOOST_TEST(child.succeeded());
}

BOOST_AUTO_TEST_CASE(another_process_registered_is_busy) {
    named name(kind);
    message_queue q(name, create());
    pipc_test::handshake registered, finish;
    pipc_test::child_process child([&] {
        message_queue mine(name.str());
        mine.request_notification(SIGUSR2);
        registered.signal();
        finish.wait();
        return true;
    });
    registered.wait();
    pipc::error_code ec;
    q.request_notification(SIGUSR2, ec);
    BOOST_TEST((ec == pipc::condition::busy));
#if !defined(__SANITIZE_THREAD__) // glibc starts its helper thread even for a rejected request
    pipc::error_code callback_ec;
    q.request_notification([] {}, callback_ec);
    BOOST_TEST((callback_ec == pipc::condition::busy));
#endif
    finish.signal();
    BOOST_TEST(child.succeeded());
    q.request_notification(SIGUSR2); // the registration died with the child
    q.cancel_notification();
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(lifetime)

BOOST_AUTO_TEST_CASE(closed_queue_errors_and_unlink_after_close) {
    named name(kind);
    message_queue q(name, create());
    q.close();
    q.close();
    BOOST_TEST(q.native_handle() == -1);
    BOOST_TEST(q.max_message_size() == 64); // still readable, as in posix_ipc
    pipc::error_code ec;
    q.send("x", 0, ec);
    BOOST_TEST((ec == make_error_code(errc::closed)));
    q.receive(ec);
    BOOST_TEST((ec == make_error_code(errc::closed)));
    q.attributes(ec);
    BOOST_TEST((ec == make_error_code(errc::closed)));
    q.set_blocking(false, ec);
    BOOST_TEST((ec == make_error_code(errc::closed)));
    q.request_notification(SIGUSR2, ec);
    BOOST_TEST((ec == make_error_code(errc::closed)));
    q.unlink();
    BOOST_TEST(!pipc_test::exists(kind, name.str()));
}

BOOST_AUTO_TEST_CASE(unlinked_queue_works_until_closed) {
    named name(kind);
    message_queue q(name, create());
    pipc::unlink_message_queue(name.str());
    q.send("still");
    BOOST_TEST(q.receive().text() == "still");
}

BOOST_AUTO_TEST_CASE(moves) {
    named name(kind);
    message_queue a(name, create());
    message_queue b(std::move(a));
    BOOST_TEST(!a.is_open()); // NOLINT(bugprone-use-after-move): the moved-from state is specified
    b.send("m");
    message_queue c;
    c = std::move(b);
    BOOST_TEST(c.receive().text() == "m");
}

BOOST_AUTO_TEST_CASE(permission_denied_for_another_user) {
    named name(kind);
    message_queue q(name, {.open = open_mode::create_exclusive,
                           .permissions = 0600,
                           .max_messages = 1,
                           .max_message_size = 8});
    pipc_test::child_process child([&] {
        if (!pipc_test::drop_to_nobody()) return false;
        pipc::error_code ec;
        message_queue other;
        other.open(name.str(), {}, ec);
        if (ec != pipc::condition::permissions) return false;
        message_queue::unlink(name.str(), ec);
        return ec == pipc::condition::permissions;
    });
    BOOST_TEST(child.succeeded());
    BOOST_TEST(pipc_test::exists(kind, name.str()));
}

BOOST_AUTO_TEST_CASE(eintr_retried_or_reported) {
    named name(kind);
    message_queue q(name, create());
    q.send("x");
    pipc_test::fault_scope faults;
    static int interruptions = 0;
    faults.table().mq_timedreceive = [](::mqd_t m, char* b, std::size_t n, unsigned* p,
                                        const ::timespec* t) -> ::ssize_t {
        if (interruptions-- > 0) {
            errno = EINTR;
            return -1;
        }
        return pipc::detail::real_sys().mq_timedreceive(m, b, n, p, t);
    };
    interruptions = 1;
    q.set_signal_policy(pipc::signal_policy::report);
    pipc::error_code ec;
    q.receive(ec);
    BOOST_TEST((ec == pipc::condition::signal));
    BOOST_TEST(q.current_messages() == 1);
    q.set_signal_policy(pipc::signal_policy::retry);
    interruptions = 2;
    BOOST_TEST(q.receive().text() == "x");
}

BOOST_AUTO_TEST_SUITE_END()
