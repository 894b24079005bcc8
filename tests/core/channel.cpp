// SPDX-License-Identifier: BSL-1.0
#define BOOST_TEST_MODULE pipc channel
#include <boost/test/unit_test.hpp>

#include <pipc/channel.hpp>
#include <pipc/shared_memory.hpp>

#include <pipc_test/support.hpp>

#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using pipc::channel;
using pipc::channel_mode;
using pipc::errc;
using pipc::open_mode;
using pipc_test::named;

namespace {
constexpr auto kind = pipc::object_kind::shared_memory;

channel::options create(std::uint32_t slots = 8, std::uint32_t size = 256,
                        channel_mode mode = channel_mode::spsc) {
    channel::options o;
    o.open = open_mode::create_exclusive;
    o.slot_count = slots;
    o.max_message_size = size;
    o.mode = mode;
    return o;
}

std::span<const std::byte> bytes_of(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}
std::string text_of(std::span<const std::byte> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

/// A message whose every byte is derived from its number, so a partial write is detectable.
std::vector<std::byte> numbered(std::uint64_t seq) {
    std::vector<std::byte> m(8 + seq % 200);
    std::memcpy(m.data(), &seq, 8);
    for (std::size_t i = 8; i < m.size(); ++i) m[i] = static_cast<std::byte>((seq * 31 + i) & 0xff);
    return m;
}
/// The number of a message made by numbered(), or -1 when any byte is wrong.
std::int64_t check_numbered(std::span<const std::byte> m) {
    if (m.size() < 8) return -1;
    std::uint64_t seq = 0;
    std::memcpy(&seq, m.data(), 8);
    if (m.size() != 8 + seq % 200) return -1;
    for (std::size_t i = 8; i < m.size(); ++i)
        if (m[i] != static_cast<std::byte>((seq * 31 + i) & 0xff)) return -1;
    return static_cast<std::int64_t>(seq);
}
} // namespace

BOOST_AUTO_TEST_SUITE(opening)

BOOST_AUTO_TEST_CASE(create_and_open_with_geometry) {
    named name(kind);
    channel a(name, create(16, 100, channel_mode::mpsc));
    BOOST_TEST(a.created());
    BOOST_TEST(a.slot_count() == 16U);
    BOOST_TEST(a.max_message_size() == 100U);
    BOOST_TEST((a.mode() == channel_mode::mpsc));
    BOOST_TEST(pipc_test::exists(kind, name.str()));
    channel b(name); // zero geometry: take the existing one
    BOOST_TEST(!b.created());
    BOOST_TEST(b.slot_count() == 16U);
    BOOST_TEST(b.max_message_size() == 100U);
    BOOST_TEST((b.mode() == channel_mode::mpsc));
    channel c(name, {.open = open_mode::open_or_create, .slot_count = 16});
    BOOST_TEST(!c.created());
    pipc::error_code ec;
    channel d;
    d.open(name, create(), ec);
    BOOST_TEST((ec == pipc::condition::existential));
    BOOST_TEST(!d.is_open());
}

BOOST_AUTO_TEST_CASE(defaults_when_creating) {
    named name(kind);
    channel a(name, {.open = open_mode::open_or_create});
    BOOST_TEST(a.created());
    BOOST_TEST(a.slot_count() == 64U);
    BOOST_TEST(a.max_message_size() == 8192U);
    BOOST_TEST((a.mode() == channel_mode::spsc));
}

BOOST_AUTO_TEST_CASE(missing_channel_is_existential) {
    named name(kind);
    pipc::error_code ec;
    channel c;
    c.open(name, {}, ec);
    BOOST_TEST((ec == boost::system::errc::no_such_file_or_directory));
    BOOST_CHECK_THROW(channel(name.str()), pipc::existential_error);
}

BOOST_AUTO_TEST_CASE(geometry_mismatch_names_the_field_and_changes_nothing) {
    named name(kind);
    channel a(name, create(8, 256, channel_mode::spsc));
    a.send("kept");
    struct {
        channel::options opts;
        errc expected;
    } cases[] = {
        {{.slot_count = 16}, errc::slot_count_mismatch},
        {{.max_message_size = 255}, errc::message_size_mismatch},
        {{.mode = channel_mode::mpsc}, errc::channel_mode_mismatch},
        {{.open = open_mode::open_or_create, .slot_count = 4}, errc::slot_count_mismatch},
    };
    for (const auto& c : cases) {
        pipc::error_code ec;
        channel b;
        b.open(name, c.opts, ec);
        BOOST_TEST(ec == pipc::make_error_code(c.expected), ec.message());
        BOOST_TEST(!b.is_open());
    }
    BOOST_TEST(a.fill() == 1U); // the existing channel is untouched
    std::array<std::byte, 256> buf{};
    BOOST_TEST(a.receive(buf) == 4U);
}

BOOST_AUTO_TEST_CASE(invalid_options_name_the_field_and_create_nothing) {
    named name(kind);
    struct {
        channel::options opts;
        errc expected;
    } cases[] = {
        {create(3), errc::invalid_slot_count},
        {create(1), errc::invalid_slot_count},
        {create(131072), errc::invalid_slot_count},
        {create(8, channel::max_message_size_limit + 1), errc::invalid_max_message_size},
        {create(8, 16, static_cast<channel_mode>(7)), errc::invalid_channel_mode},
        {{.open = static_cast<open_mode>(9)}, errc::invalid_open_mode},
        {{.open = open_mode::create_exclusive, .permissions = 010000}, errc::invalid_permissions},
    };
    for (const auto& c : cases) {
        pipc::error_code ec;
        channel ch;
        ch.open(name, c.opts, ec);
        BOOST_TEST(ec == pipc::make_error_code(c.expected), ec.message());
        BOOST_TEST(!pipc_test::exists(kind, name.str()));
    }
    pipc::error_code ec;
    channel ch;
    ch.open("no-slash", create(), ec);
    BOOST_TEST(ec == pipc::make_error_code(errc::invalid_name));
}

BOOST_AUTO_TEST_CASE(mode_is_exact_whatever_the_umask) {
    named name(kind);
    const ::mode_t old = ::umask(077);
    auto o = create();
    o.permissions = 0664;
    channel a(name, o);
    ::umask(old);
    struct ::stat st {};
    BOOST_REQUIRE(::stat(("/dev/shm/" + name.str().substr(1)).c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == 0664U);
    BOOST_TEST(a.permissions() == 0664U);
    BOOST_TEST(channel(name).permissions() == 0664U);
}

BOOST_AUTO_TEST_CASE(other_objects_are_not_channels) {
    named name(kind);
    pipc::shared_memory shm(name, {.open = open_mode::create_exclusive, .size = 4096});
    pipc::error_code ec;
    channel c;
    c.open(name, {}, ec);
    BOOST_TEST(ec == pipc::make_error_code(errc::not_a_channel));
    shm.resize(8);
    c.open(name, {}, ec);
    BOOST_TEST(ec == pipc::make_error_code(errc::not_a_channel));
}

BOOST_AUTO_TEST_CASE(version_is_checked) {
    named name(kind);
    { channel a(name, create()); }
    pipc::shared_memory shm(name);
    auto m = shm.map();
    m.as<std::uint32_t>(8) = channel::protocol_version + 1;
    pipc::error_code ec;
    channel c;
    c.open(name, {}, ec);
    BOOST_TEST(ec == pipc::make_error_code(errc::channel_version_mismatch));
    m.as<std::uint32_t>(8) = channel::protocol_version;
    c.open(name, {}, ec);
    BOOST_TEST(!ec);
}

BOOST_AUTO_TEST_CASE(unlink_removes_the_name) {
    named name(kind);
    channel a(name, create());
    a.unlink();
    BOOST_TEST(!pipc_test::exists(kind, name.str()));
    a.send("still works"); // the mapping outlives the name
    BOOST_TEST(a.fill() == 1U);
    pipc::error_code ec;
    channel::unlink(name, ec);
    BOOST_TEST((ec == pipc::condition::existential));
    channel closed;
    closed.unlink(ec);
    BOOST_TEST(ec == pipc::make_error_code(errc::closed));
    closed.send("x", ec);
    BOOST_TEST(ec == pipc::make_error_code(errc::closed));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(messages)

BOOST_AUTO_TEST_CASE(copy_in_and_out_in_order) {
    named name(kind);
    channel c(name, create(4, 64));
    std::array<std::byte, 64> buf{};
    BOOST_TEST(!c.try_receive(buf).has_value());
    c.send("one");
    c.send("");
    BOOST_TEST(c.try_send(bytes_of("three")));
    BOOST_TEST(c.fill() == 3U);
    BOOST_TEST(c.receive(buf) == 3U);
    BOOST_TEST(text_of(std::span(buf).first(3)) == "one");
    BOOST_TEST(c.receive(buf) == 0U);
    auto v = c.receive();
    BOOST_TEST(text_of(v) == "three");
    BOOST_TEST(c.fill() == 0U);
}

BOOST_AUTO_TEST_CASE(full_ring_and_timeouts) {
    named name(kind);
    channel c(name, create(2, 16));
    BOOST_TEST(c.try_send(bytes_of("a")));
    BOOST_TEST(c.try_send(bytes_of("b")));
    BOOST_TEST(!c.try_send(bytes_of("c"))); // full
    pipc::error_code ec;
    BOOST_TEST(!c.send_for(bytes_of("c"), 20ms, ec));
    BOOST_TEST(!ec);
    std::array<std::byte, 16> buf{};
    BOOST_TEST(c.receive_for(buf, 1s).value_or(99) == 1U);
    BOOST_TEST(c.receive_for(buf, 1s).value_or(99) == 1U);
    BOOST_TEST(!c.receive_for(buf, 20ms, ec).has_value());
    BOOST_TEST(!ec);
    BOOST_TEST(!c.receive_until(buf, std::chrono::steady_clock::now() + 5ms, ec).has_value());
    BOOST_TEST(!c.receive_for(buf, std::chrono::duration<double>(std::nan("")), ec));
    BOOST_TEST(ec == pipc::make_error_code(errc::invalid_timeout));
}

BOOST_AUTO_TEST_CASE(too_long_and_too_small_have_no_side_effect) {
    named name(kind);
    channel c(name, create(4, 8));
    pipc::error_code ec;
    c.send("123456789", ec);
    BOOST_TEST(ec == pipc::make_error_code(errc::message_too_long));
    BOOST_TEST(c.fill() == 0U);
    c.send("12345678");
    std::array<std::byte, 4> small{};
    BOOST_TEST(!c.try_receive(small, ec).has_value());
    BOOST_TEST(ec == pipc::make_error_code(errc::buffer_too_small));
    BOOST_TEST(c.fill() == 1U); // the message waits for a big enough buffer
    std::array<std::byte, 8> big{};
    BOOST_TEST(c.receive(big) == 8U);
}

BOOST_AUTO_TEST_CASE(blocking_send_and_receive_report_what_the_general_path_does) {
    // send(msg, ec) / receive(buf, ec) and their throwing twins claim and take a slot at once
    // when nothing is wrong; every other case must still be reported, and change nothing. Each
    // blocking call below finds a free slot or a message (see fill()), so none of them waits.
    named name(kind);
    channel c(name, create(4, 8));
    pipc::error_code ec = pipc::make_error_code(errc::closed);
    c.send("ab", ec);
    BOOST_TEST(!ec); // a success clears what the caller's ec held
    BOOST_CHECK_EXCEPTION(c.send("123456789"), pipc::error, [](const pipc::error& e) {
        return e.code() == pipc::make_error_code(errc::message_too_long);
    });
    BOOST_TEST(c.fill() == 1U); // nothing claimed
    c.send("cd");
    std::array<std::byte, 8> buf{};
    BOOST_TEST(c.receive(buf) == 2U); // takes the consumer role
    ec = pipc::make_error_code(errc::closed);
    BOOST_TEST(c.receive(buf, ec) == 2U);
    BOOST_TEST(!ec);
    BOOST_TEST(text_of(std::span(buf).first(2)) == "cd");

    // A message longer than the buffer stays for a bigger one.
    c.send("12345678");
    std::array<std::byte, 4> small{};
    BOOST_TEST(c.receive(small, ec) == 0U);
    BOOST_TEST(ec == pipc::make_error_code(errc::buffer_too_small));
    BOOST_CHECK_THROW(c.receive(small), pipc::error);
    BOOST_TEST(c.fill() == 1U);
    BOOST_TEST(c.receive(buf) == 8U);

    // A cancelled loan at head is skipped, not delivered.
    { auto cancelled = c.loan(); }
    c.send("next");
    BOOST_TEST_REQUIRE(c.fill() == 2U);
    BOOST_TEST(c.receive(buf, ec) == 4U);
    BOOST_TEST(!ec);
    BOOST_TEST(text_of(std::span(buf).first(4)) == "next");

    // While this handle holds a view, a receive reports it and leaves both messages in place.
    c.send("v");
    c.send("w");
    auto v = c.receive_view();
    BOOST_TEST(c.receive(buf, ec) == 0U);
    BOOST_TEST(ec == pipc::make_error_code(errc::view_outstanding));
    BOOST_CHECK_THROW(c.receive(buf), pipc::error);
    BOOST_TEST(v.text() == "v");
    BOOST_TEST(c.fill() == 2U);
    v.release();
    BOOST_TEST(c.receive(buf, ec) == 1U);
    BOOST_TEST(text_of(std::span(buf).first(1)) == "w");

    // A closed consumer handle is closed for both directions.
    c.close();
    c.send("x", ec);
    BOOST_TEST(ec == pipc::make_error_code(errc::closed));
    BOOST_TEST(c.receive(buf, ec) == 0U);
    BOOST_TEST(ec == pipc::make_error_code(errc::closed));
    BOOST_CHECK_EXCEPTION(c.receive(buf), pipc::error, [](const pipc::error& e) {
        return e.code() == pipc::make_error_code(errc::closed) &&
               std::string_view(e.what()).find("channel::receive") != std::string_view::npos;
    });
}

BOOST_AUTO_TEST_CASE(loan_and_view_work_in_place) {
    named name(kind);
    channel c(name, create(4, 64));
    {
        auto loan = c.loan();
        BOOST_TEST(loan.buffer().size() == 64U);
        BOOST_TEST(reinterpret_cast<std::uintptr_t>(loan.buffer().data()) % 16 == 0U);
        std::memcpy(loan.buffer().data(), "in place", 8);
        pipc::error_code ec;
        loan.publish(65, ec);
        BOOST_TEST(ec == pipc::make_error_code(errc::message_too_long));
        BOOST_TEST(loan.valid());
        loan.publish(8);
        BOOST_TEST(!loan.valid());
    }
    { auto cancelled = c.loan(); } // destroyed unpublished: consumers skip it
    c.send("after");
    auto v = c.receive_view();
    BOOST_TEST(v.text() == "in place");
    pipc::error_code ec;
    std::array<std::byte, 64> buf{};
    BOOST_TEST(!c.try_receive(buf, ec).has_value());
    BOOST_TEST(ec == pipc::make_error_code(errc::view_outstanding));
    BOOST_TEST(c.fill() == 3U); // the viewed slot is still taken
    v.release();
    BOOST_TEST(c.fill() == 2U);
    auto w = c.try_receive_view(ec);
    BOOST_TEST(!ec);
    BOOST_TEST(w.text() == "after"); // the cancelled loan was skipped
    w.release();
    BOOST_TEST(!c.try_receive_view(ec).valid());
    BOOST_TEST(c.fill() == 0U);
}

BOOST_AUTO_TEST_CASE(every_timed_and_try_call_has_a_throwing_twin) {
    named name(kind);
    channel c(name, create(2, 16));
    BOOST_TEST(c.send_until(bytes_of("a"), std::chrono::steady_clock::now() + 1s));
    BOOST_TEST(c.send_until(bytes_of("a"), std::chrono::system_clock::now() + 1s));
    BOOST_TEST(!c.send_until(bytes_of("b"), std::chrono::system_clock::now() + 5ms)); // full
    BOOST_TEST(!c.try_loan().valid());
    BOOST_TEST(!c.loan_for(5ms).valid());
    std::array<std::byte, 16> buf{};
    BOOST_TEST(c.receive_until(buf, std::chrono::steady_clock::now() + 1s).value_or(99) == 1U);
    BOOST_TEST(c.receive_until(buf, std::chrono::system_clock::now() + 1s).value_or(99) == 1U);
    BOOST_TEST(!c.receive_until(buf, std::chrono::steady_clock::now() + 5ms).has_value());
    BOOST_TEST(!c.try_receive_view().valid());
    BOOST_TEST(!c.receive_view_for(5ms).valid());
    {
        auto loan = c.try_loan();
        BOOST_TEST(loan.valid());
        std::memcpy(loan.buffer().data(), "zc", 2);
        loan.publish(2);
    }
    BOOST_TEST(c.try_receive_view().text() == "zc");
    c.send("again");
    BOOST_TEST(c.receive_view_for(1s).text() == "again");
    auto l = c.loan_for(1s);
    BOOST_TEST(l.valid());
    l.publish(0);
    BOOST_TEST(c.receive_for(buf, 1s).value_or(99) == 0U);

    // The throwing twins throw what the ec forms report, naming the call.
    BOOST_CHECK_THROW(c.loan_for(std::chrono::duration<double>(std::nan(""))), pipc::error);
    channel closed;
    const auto names_the_call = [](const char* call) {
        return [call](const pipc::error& e) {
            return e.code() == pipc::make_error_code(errc::closed) &&
                   std::string_view(e.what()).find(call) != std::string_view::npos;
        };
    };
    BOOST_CHECK_EXCEPTION(closed.try_loan(), pipc::error, names_the_call("try_loan"));
    BOOST_CHECK_EXCEPTION(closed.loan_for(1ms), pipc::error, names_the_call("loan_for"));
    BOOST_CHECK_EXCEPTION(closed.try_receive_view(), pipc::error,
                          names_the_call("try_receive_view"));
    BOOST_CHECK_EXCEPTION(closed.receive_view_for(1ms), pipc::error,
                          names_the_call("receive_view_for"));
    BOOST_CHECK_EXCEPTION(closed.send_until(bytes_of("x"), std::chrono::steady_clock::now()),
                          pipc::error, names_the_call("send_until"));
    BOOST_CHECK_EXCEPTION(closed.receive_until(buf, std::chrono::steady_clock::now()), pipc::error,
                          names_the_call("receive_until"));
}

BOOST_AUTO_TEST_CASE(throwing_loan_and_publish_report_what_the_ec_forms_do) {
    // loan() and publish() take a shortcut when a slot is free and nothing is wrong; every other
    // case must still be reported, and change nothing.
    named name(kind);
    channel c(name, create(2, 16));
    auto loan = c.loan();
    std::memcpy(loan.buffer().data(), "zc", 2);
    BOOST_CHECK_EXCEPTION(loan.publish(17), pipc::error, [](const pipc::error& e) {
        return e.code() == pipc::make_error_code(errc::message_too_long);
    });
    BOOST_TEST(loan.valid()); // nothing published: the consumer sees nothing yet
    std::array<std::byte, 16> buf{};
    BOOST_TEST(!c.try_receive(buf).has_value());
    loan.publish(16);
    BOOST_TEST(!loan.valid());
    const auto is_closed = [](const pipc::error& e) {
        return e.code() == pipc::make_error_code(errc::closed);
    };
    BOOST_CHECK_EXCEPTION(loan.publish(1), pipc::error, is_closed); // published already
    BOOST_CHECK_EXCEPTION(pipc::channel_loan{}.publish(0), pipc::error, is_closed);
    BOOST_TEST(c.receive(buf) == 16U);
    BOOST_TEST(c.fill() == 0U);

    channel tx(name);
    auto orphan = tx.loan();
    tx.close();
    BOOST_CHECK_EXCEPTION(orphan.publish(1), pipc::error, is_closed);
    BOOST_CHECK_EXCEPTION(tx.loan(), pipc::error, [](const pipc::error& e) {
        return e.code() == pipc::make_error_code(errc::closed) &&
               std::string_view(e.what()).find("channel::loan") != std::string_view::npos;
    });
}

BOOST_AUTO_TEST_CASE(loan_and_view_after_close_do_nothing) {
    named name(kind);
    channel c(name, create(4, 64));
    c.send("x");
    auto v = c.receive_view();
    channel tx(name);
    auto loan = tx.loan();
    tx.close();
    pipc::error_code ec;
    loan.publish(1, ec);
    BOOST_TEST(ec == pipc::make_error_code(errc::closed));
    c.close();
    v.release(); // no crash, nothing touched
}

BOOST_AUTO_TEST_CASE(wraps_around_many_laps) {
    named name(kind);
    channel c(name, create(2, 256));
    std::array<std::byte, 256> buf{};
    for (std::uint64_t i = 0; i < 1000; ++i) {
        c.send(numbered(i));
        const auto n = c.receive(buf);
        BOOST_TEST_REQUIRE(check_numbered(std::span(buf).first(n)) == static_cast<std::int64_t>(i));
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(concurrency)

// Small rings make both sides sleep on the futex again and again.
void stream_between_threads(pipc::wait_strategy strategy) {
    named name(kind);
    auto o = create(4, 256, channel_mode::mpsc);
    o.wait = strategy;
    channel rx(name, o);
    constexpr int producers = 3;
    constexpr std::uint64_t per_producer = 3000;
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p)
        threads.emplace_back([&, p] {
            channel tx(name, {.wait = strategy});
            // Bounded, so that a consumer that gave up cannot leave a producer blocked.
            for (std::uint64_t i = 0; i < per_producer; ++i)
                if (!tx.send_for(numbered(i * producers + static_cast<std::uint64_t>(p)), 5s))
                    return;
        });
    std::array<std::uint64_t, producers> next{};
    std::array<std::byte, 256> buf{};
    bool ok = true;
    for (std::uint64_t n = 0; n < producers * per_producer && ok; ++n) {
        const auto got = rx.receive_for(buf, 20s);
        const auto seq = got ? check_numbered(std::span(buf).first(*got)) : -2;
        if (seq < 0) {
            BOOST_TEST_MESSAGE("message " << n << ": " << (got ? "torn" : "timed out"));
            ok = false;
            break;
        }
        const auto p = static_cast<std::size_t>(seq) % producers;
        ok = static_cast<std::uint64_t>(seq) / producers == next[p]++; // FIFO per producer
        if (!ok) BOOST_TEST_MESSAGE("message " << n << ": " << seq << " out of order");
    }
    for (auto& t : threads) t.join();
    BOOST_TEST(ok);
    BOOST_TEST(rx.fill() == 0U);
}

BOOST_AUTO_TEST_CASE(threads_block_strategy) {
    stream_between_threads(pipc::wait_strategy::block());
}
BOOST_AUTO_TEST_CASE(threads_spin_strategy) {
    stream_between_threads(pipc::wait_strategy::spin(5us));
}
BOOST_AUTO_TEST_CASE(threads_adaptive_strategy) {
    stream_between_threads(pipc::wait_strategy::adaptive(5us));
}

BOOST_AUTO_TEST_CASE(processes_spsc_stream) {
    named name(kind);
    channel rx(name, create(4, 256));
    constexpr std::uint64_t count = 20000;
    pipc_test::child_process producer([&] {
        channel tx(name);
        for (std::uint64_t i = 0; i < count; ++i) tx.send(numbered(i));
        return true;
    });
    std::array<std::byte, 256> buf{};
    std::uint64_t good = 0;
    for (std::uint64_t i = 0; i < count; ++i) {
        const auto got = rx.receive_for(buf, 20s);
        if (!got || check_numbered(std::span(buf).first(*got)) != static_cast<std::int64_t>(i))
            break;
        ++good;
    }
    BOOST_TEST(good == count);
    BOOST_TEST(producer.succeeded());
}

BOOST_AUTO_TEST_CASE(one_consumer_at_a_time_and_takeover) {
    named name(kind);
    channel tx(name, create(8, 64));
    tx.send("first");
    tx.send("second");
    pipc_test::handshake viewing;
    pipc_test::child_process consumer([&]() -> bool {
        channel rx(name);
        auto v = rx.receive_view();
        if (v.text() != "first") return false;
        viewing.signal();
        for (;;) ::pause(); // holds the view until killed
    });
    viewing.wait();
    channel rx(name);
    pipc::error_code ec;
    std::array<std::byte, 64> buf{};
    BOOST_TEST(!rx.try_receive(buf, ec).has_value());
    BOOST_TEST(ec == pipc::make_error_code(errc::consumer_busy));
    BOOST_TEST((ec == pipc::condition::busy));
    BOOST_TEST(rx.fill() == 2U);
    ::kill(consumer.pid(), SIGKILL);
    BOOST_TEST(!consumer.succeeded()); // reaps it
    // The killed consumer never released "first": it is delivered again.
    BOOST_TEST(rx.receive_for(buf, 5s, ec).value_or(0) == 5U);
    BOOST_TEST(text_of(std::span(buf).first(5)) == "first");
    BOOST_TEST(rx.took_over());
    BOOST_TEST(rx.receive_for(buf, 5s, ec).value_or(0) == 6U); // bounded: a failure cannot hang
    BOOST_TEST(text_of(std::span(buf).first(6)) == "second");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(crashes)

BOOST_AUTO_TEST_CASE(producer_killed_mid_write_is_skipped_never_seen) {
    for (auto mode : {channel_mode::spsc, channel_mode::mpsc}) {
        named name(kind);
        channel rx(name, create(4, 256, mode));
        pipc_test::handshake writing;
        pipc_test::child_process producer([&]() -> bool {
            channel tx(name);
            auto loan = tx.loan();
            const auto m = numbered(42);
            std::memcpy(loan.buffer().data(), m.data(), m.size() / 2); // half written
            writing.signal();
            for (;;) ::pause();
        });
        writing.wait();
        std::array<std::byte, 256> buf{};
        BOOST_TEST(!rx.try_receive(buf).has_value()); // claimed, not published: invisible
        ::kill(producer.pid(), SIGKILL);
        BOOST_TEST(!producer.succeeded());
        channel tx(name);
        tx.send(numbered(7));
        const auto got = rx.receive_for(buf, 5s);
        BOOST_TEST_REQUIRE(got.has_value());
        BOOST_TEST(check_numbered(std::span(buf).first(*got)) == 7);
        BOOST_TEST(rx.abandoned() == 1U);
        BOOST_TEST(rx.fill() == 0U);
    }
}

BOOST_AUTO_TEST_CASE(blocked_consumer_notices_a_dead_writer) {
    named name(kind);
    channel rx(name, create(4, 256));
    pipc_test::handshake writing;
    pipc_test::child_process producer([&]() -> bool {
        channel tx(name);
        auto loan = tx.loan();
        writing.signal();
        for (;;) ::pause();
    });
    writing.wait();
    std::thread killer([&] { ::kill(producer.pid(), SIGKILL); });
    BOOST_TEST(!producer.succeeded());
    killer.join();
    pipc::error_code ec;
    std::array<std::byte, 256> buf{};
    // Only the dead claim is there: the wait skips it and then times out empty.
    BOOST_TEST(!rx.receive_for(buf, 50ms, ec).has_value());
    BOOST_TEST(!ec);
    BOOST_TEST(rx.abandoned() == 1U);
}

BOOST_AUTO_TEST_CASE(consumer_killed_between_release_steps_is_repaired) {
    // Releasing a slot is two stores (the slot's sequence, then head). Recreate the state a
    // consumer killed between them leaves: the next consumer must move on, not wait forever.
    named name(kind);
    channel tx(name, create(4, 64));
    tx.send("first");
    tx.send("second");
    {
        pipc::shared_memory shm(name);
        auto m = shm.map();
        constexpr std::size_t first_slot = 3 * 64; // after the three header cache lines
        m.as<std::uint64_t>(first_slot) = 0 + 4;   // slot 0 released for the next lap
    }
    channel rx(name);
    std::array<std::byte, 64> buf{};
    pipc::error_code ec;
    BOOST_TEST(rx.receive_for(buf, 5s, ec).value_or(0) == 6U);
    BOOST_TEST(text_of(std::span(buf).first(6)) == "second");
    BOOST_TEST(rx.fill() == 0U);
}

namespace {
unsigned crash_rounds() {
    const char* env = std::getenv("PIPC_CHANNEL_CRASH_ROUNDS");
    return env != nullptr ? static_cast<unsigned>(std::strtoul(env, nullptr, 10)) : 1000U;
}

/// An anonymous shared page, inherited by forked children: the producer's published count.
struct shared_counters {
    std::atomic<std::uint64_t>* words;
    shared_counters() {
        void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        BOOST_REQUIRE(p != MAP_FAILED);
        words = static_cast<std::atomic<std::uint64_t>*>(p);
    }
    ~shared_counters() { ::munmap(words, 4096); }
    shared_counters(const shared_counters&) = delete;
    shared_counters& operator=(const shared_counters&) = delete;
};
} // namespace

BOOST_AUTO_TEST_CASE(producer_sigkill_at_random_points) {
    std::mt19937 rng(12345);
    shared_counters shared;
    const unsigned rounds = crash_rounds();
    unsigned cut_short = 0;
    unsigned skipped = 0;
    bool all_ok = true;
    for (unsigned round = 0; round < rounds && all_ok; ++round) {
        named name(kind, "crash-p");
        const bool zero_copy = round % 2 == 1;
        channel rx(name,
                   create(1024, 256, round % 4 < 2 ? channel_mode::spsc : channel_mode::mpsc));
        shared.words[0].store(0);
        pipc_test::handshake started;
        pipc_test::child_process producer([&] {
            channel tx(name);
            started.signal();
            for (std::uint64_t i = 0; i < 1000; ++i) {
                const auto m = numbered(i);
                if (zero_copy) {
                    auto loan = tx.loan();
                    std::memcpy(loan.buffer().data(), m.data(), m.size());
                    loan.publish(m.size());
                } else {
                    tx.send(m);
                }
                shared.words[0].store(i + 1);
            }
            return true;
        });
        started.wait();
        // The delay only picks the kill point at random; no ordering depends on it.
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 150));
        ::kill(producer.pid(), SIGKILL);
        producer.succeeded();
        const std::uint64_t published = shared.words[0].load();
        std::array<std::byte, 256> buf{};
        std::uint64_t received = 0;
        while (auto n = rx.try_receive(buf)) {
            if (check_numbered(std::span(buf).first(*n)) != static_cast<std::int64_t>(received)) {
                all_ok = false; // torn, duplicated, reordered or lost
                break;
            }
            ++received;
        }
        // Every message published arrives exactly once; the one whose publish raced the kill
        // may arrive too.
        // A claimed, unpublished slot is reported through abandoned() and skipped: nothing is
        // left stuck in the ring.
        if (received < published || received > published + 1 || rx.abandoned() > 1 ||
            rx.fill() != 0) {
            BOOST_TEST_MESSAGE("round " << round << ": published " << published << " received "
                                        << received << " abandoned " << rx.abandoned());
            all_ok = false;
        }
        cut_short += received < 1000 ? 1 : 0;
        skipped += static_cast<unsigned>(rx.abandoned());
    }
    BOOST_TEST(all_ok);
    BOOST_TEST_MESSAGE(rounds << " rounds: " << cut_short << " killed mid-stream, " << skipped
                              << " slots abandoned mid-write");
    BOOST_TEST(cut_short > 0U); // the kills did land mid-stream
}

BOOST_AUTO_TEST_CASE(consumer_sigkill_at_random_points) {
    std::mt19937 rng(54321);
    shared_counters shared; // [0]: entries logged; [1 + k]: k-th message the child processed
    const unsigned rounds = crash_rounds();
    constexpr std::uint64_t count = 64;
    unsigned redelivered = 0;
    bool all_ok = true;
    for (unsigned round = 0; round < rounds && all_ok; ++round) {
        named name(kind, "crash-c");
        channel tx(name, create(128, 256));
        for (std::uint64_t i = 0; i < count; ++i) tx.send(numbered(i));
        shared.words[0].store(0);
        pipc_test::handshake started;
        pipc_test::child_process consumer([&] {
            channel rx(name);
            started.signal();
            for (std::uint64_t i = 0; i < count; ++i) {
                auto v = rx.receive_view();
                const auto seq = check_numbered(v.data());
                if (seq < 0) return false;
                const auto k = shared.words[0].load();
                shared.words[1 + k].store(static_cast<std::uint64_t>(seq));
                shared.words[0].store(k + 1);
                // Work on the message in place before releasing it, as a real consumer would:
                // this widens the window in which a kill leaves a processed slot unreleased.
                for (int pass = 0; pass < 20; ++pass)
                    if (check_numbered(v.data()) != seq) return false;
                v.release();
            }
            return true;
        });
        started.wait();
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
        ::kill(consumer.pid(), SIGKILL);
        consumer.succeeded();
        std::vector<std::uint64_t> seen;
        const auto logged = shared.words[0].load();
        for (std::uint64_t k = 0; k < logged; ++k) seen.push_back(shared.words[1 + k].load());
        channel rx(name);
        std::array<std::byte, 256> buf{};
        std::uint64_t first_again = count;
        bool first = true;
        while (auto n = rx.try_receive(buf)) {
            const auto seq = check_numbered(std::span(buf).first(*n));
            if (seq < 0) {
                all_ok = false;
                break;
            }
            if (first && !seen.empty() && seen.back() == static_cast<std::uint64_t>(seq))
                first_again = seen.back(); // processed but not released: delivered again
            else
                seen.push_back(static_cast<std::uint64_t>(seq));
            first = false;
        }
        // Every message exactly once, in order, except one redelivery right at the takeover.
        for (std::uint64_t i = 0; i < seen.size(); ++i) all_ok = all_ok && seen[i] == i;
        all_ok = all_ok && seen.size() == count;
        if (first_again != count) {
            ++redelivered;
            all_ok = all_ok && rx.took_over();
        }
        if (!all_ok) BOOST_TEST_MESSAGE("round " << round << ": logged " << logged);
    }
    BOOST_TEST(all_ok);
    BOOST_TEST_MESSAGE(rounds << " rounds: " << redelivered << " redeliveries after a kill");
}

BOOST_AUTO_TEST_SUITE_END()

// A producer blocked in an untimed send is woken once half the ring is free, not at the first
// free slot, so a stream on one CPU refills the ring in batches. These check the shared state
// (protocol 3 header words), not timing.
BOOST_AUTO_TEST_SUITE(batching)

namespace {
// The producers' sleep state, on the consumer's line of the header: room_sleepers, room_armed,
// room_eager (see channel.cpp).
constexpr std::size_t room_sleepers_at = 128 + 12;
constexpr std::size_t room_armed_at = 128 + 20;
constexpr std::size_t room_eager_at = 128 + 24;

std::uint32_t word_at(const pipc::mapping& m, std::size_t off) {
    return std::atomic_ref<std::uint32_t>(m.as<std::uint32_t>(off)).load();
}

/// A producer thread blocked in one send (untimed, or timed when `timed`) on a full ring.
struct blocked_sender {
    std::atomic<pid_t> tid{0};
    std::atomic<bool> sent{false};
    std::string name_;
    std::thread thread;
    blocked_sender(const std::string& name, bool timed) : name_(name) {
        thread = std::thread([this, name, timed] {
            channel tx(name);
            tid = static_cast<pid_t>(::gettid());
            sent = timed ? tx.send_for(bytes_of("late"), 20s) : (tx.send("late"), true);
        });
    }
    bool asleep() {
        // Bounded in time, not in yields: on a loaded machine the thread may wait milliseconds
        // to run at all, and a REQUIRE failing here leaves it blocked in its send for good.
        const auto until = std::chrono::steady_clock::now() + 10s;
        while (tid.load() == 0 && std::chrono::steady_clock::now() < until)
            std::this_thread::yield();
        return tid.load() != 0 && pipc_test::thread_asleep(tid.load());
    }
    ~blocked_sender() {
        // A check failed before the test let the send through: free slots so the thread can end
        // instead of the test hanging in join().
        if (!sent.load()) {
            channel rx(name_);
            std::array<std::byte, 64> buf{};
            const auto until = std::chrono::steady_clock::now() + 10s;
            pipc::error_code ec;
            while (!sent.load() && std::chrono::steady_clock::now() < until)
                rx.receive_for(buf, 100ms, ec);
        }
        thread.join();
    }
};

/// Receives everything there is (the blocked sender's message included, once it is sent).
void drain(channel& rx, blocked_sender& s) {
    std::array<std::byte, 64> buf{};
    while (rx.try_receive(buf)) {
    }
    while (!s.sent.load() && rx.receive_for(buf, 10s)) {
    }
    while (rx.try_receive(buf)) {
    }
}
} // namespace

BOOST_AUTO_TEST_CASE(untimed_sender_is_woken_at_half_the_ring) {
    named name(kind);
    channel rx(name, create(8, 64));
    for (int i = 0; i < 8; ++i) BOOST_TEST_REQUIRE(rx.try_send(bytes_of("x")));
    pipc::shared_memory shm(name);
    auto m = shm.map();
    std::array<std::byte, 64> buf{};
    {
        blocked_sender s(name.str(), false);
        BOOST_TEST_REQUIRE(s.asleep());
        BOOST_TEST(word_at(m, room_sleepers_at) == 1U);
        BOOST_TEST(word_at(m, room_eager_at) == 0U);
        BOOST_TEST(word_at(m, room_armed_at) == 1U);
        for (int i = 0; i < 3; ++i) BOOST_TEST(rx.receive(buf) == 1U);
        // Three of eight free: below the watermark, the sleeper is left alone.
        BOOST_TEST(word_at(m, room_armed_at) == 1U);
        BOOST_TEST(!s.sent.load());
        BOOST_TEST(rx.receive(buf) == 1U);
        // Four of eight: the consumer took the flag and woke it.
        BOOST_TEST(word_at(m, room_armed_at) == 0U);
        drain(rx, s);
        BOOST_TEST(s.sent.load());
    }
    BOOST_TEST(word_at(m, room_sleepers_at) == 0U);
}

BOOST_AUTO_TEST_CASE(timed_sender_is_woken_at_the_first_free_slot) {
    named name(kind);
    channel rx(name, create(8, 64));
    for (int i = 0; i < 8; ++i) BOOST_TEST_REQUIRE(rx.try_send(bytes_of("x")));
    pipc::shared_memory shm(name);
    auto m = shm.map();
    std::array<std::byte, 64> buf{};
    {
        blocked_sender s(name.str(), true);
        BOOST_TEST_REQUIRE(s.asleep());
        BOOST_TEST(word_at(m, room_eager_at) == 1U);
        BOOST_TEST(rx.receive(buf) == 1U);
        BOOST_TEST(word_at(m, room_armed_at) == 0U);
        drain(rx, s);
        BOOST_TEST(s.sent.load());
    }
    BOOST_TEST(word_at(m, room_eager_at) == 0U);
    BOOST_TEST(word_at(m, room_sleepers_at) == 0U);
}

BOOST_AUTO_TEST_CASE(timed_out_sender_leaves_nobody_armed) {
    // A send that gives up must take its sleep announcement with it, or the consumer's next
    // release goes into the kernel to wake a producer that is not there.
    named name(kind);
    channel rx(name, create(8, 64));
    for (int i = 0; i < 8; ++i) BOOST_TEST_REQUIRE(rx.try_send(bytes_of("x")));
    pipc::shared_memory shm(name);
    auto m = shm.map();
    channel tx(name.str());
    pipc::error_code ec;
    BOOST_TEST(!tx.send_for(bytes_of("late"), 1ms, ec));
    BOOST_TEST(!ec);
    BOOST_TEST(word_at(m, room_sleepers_at) == 0U);
    BOOST_TEST(word_at(m, room_eager_at) == 0U);
    BOOST_TEST(word_at(m, room_armed_at) == 0U);
}

BOOST_AUTO_TEST_CASE(consumer_going_to_sleep_wakes_a_watermark_sleeper) {
    // The consumer stops at an unpublished slot with room in the ring but below the watermark:
    // before it sleeps it must wake the producer, or both could wait for each other.
    named name(kind);
    channel rx(name, create(8, 64, channel_mode::mpsc));
    BOOST_TEST_REQUIRE(rx.try_send(bytes_of("a")));
    BOOST_TEST_REQUIRE(rx.try_send(bytes_of("b")));
    auto loan = rx.loan(); // position 2, published only at the end
    for (int i = 0; i < 5; ++i) BOOST_TEST_REQUIRE(rx.try_send(bytes_of("x")));
    pipc::shared_memory shm(name);
    auto m = shm.map();
    std::array<std::byte, 64> buf{};
    {
        blocked_sender s(name.str(), false);
        BOOST_TEST_REQUIRE(s.asleep());
        BOOST_TEST(rx.receive(buf) == 1U);
        BOOST_TEST(rx.receive(buf) == 1U);
        BOOST_TEST(word_at(m, room_armed_at) == 1U); // two of eight free: still asleep
        pipc::error_code ec;
        BOOST_TEST(!rx.receive_for(buf, 1ms, ec).has_value()); // sleeps behind the loan
        BOOST_TEST(!ec);
        BOOST_TEST(word_at(m, room_armed_at) == 0U);
        loan = {}; // cancelled: the consumer skips it
        drain(rx, s);
        BOOST_TEST(s.sent.load());
    }
}

BOOST_AUTO_TEST_CASE(untimed_sender_next_to_a_free_slot_is_not_left_asleep) {
    // The consumer frees one slot of eight (below the watermark) and then stops receiving, as one
    // that waits for something the producer does after its send would: the send must still
    // complete, on its own, once its patience for the watermark is spent.
    named name(kind);
    channel rx(name, create(8, 64));
    for (int i = 0; i < 8; ++i) BOOST_TEST_REQUIRE(rx.try_send(bytes_of("x")));
    std::array<std::byte, 64> buf{};
    blocked_sender s(name.str(), false);
    BOOST_TEST_REQUIRE(s.asleep());
    BOOST_TEST(rx.receive(buf) == 1U);
    const auto until = std::chrono::steady_clock::now() + 10s; // watchdog
    while (!s.sent.load() && std::chrono::steady_clock::now() < until) std::this_thread::yield();
    BOOST_TEST(s.sent.load());
    if (!s.sent.load()) drain(rx, s); // let the thread end either way
}

BOOST_AUTO_TEST_CASE(untimed_mpsc_stream_between_threads) {
    // The watermark path with several producers (the concurrency suite's producers are timed).
    named name(kind);
    channel rx(name, create(4, 256, channel_mode::mpsc));
    constexpr int producers = 3;
    constexpr std::uint64_t per_producer = 3000;
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p)
        threads.emplace_back([&, p] {
            channel tx(name);
            for (std::uint64_t i = 0; i < per_producer; ++i)
                tx.send(numbered(i * producers + static_cast<std::uint64_t>(p)));
        });
    std::array<std::uint64_t, producers> next{};
    std::array<std::byte, 256> buf{};
    std::uint64_t good = 0;
    for (std::uint64_t n = 0; n < producers * per_producer; ++n) {
        // A lost wake-up shows as a timeout; keep draining so the producers can finish.
        const auto got = rx.receive_for(buf, 20s);
        const auto seq = got ? check_numbered(std::span(buf).first(*got)) : -2;
        if (seq < 0) break;
        const auto p = static_cast<std::size_t>(seq) % producers;
        if (static_cast<std::uint64_t>(seq) / producers == next[p]++) ++good;
    }
    while (rx.receive_for(buf, 1s)) {
    }
    for (auto& t : threads) t.join();
    BOOST_TEST(good == producers * per_producer);
}

BOOST_AUTO_TEST_SUITE_END()
