// SPDX-License-Identifier: BSL-1.0
// Two processes race on one name: one creates exclusively, checks that the object under the name
// is the one it created, and unlinks it; the other opens or creates the same name in a loop.
// Neither may see a failure, and the exclusive creator's object may never be removed or replaced
// by the other's open_or_create (a "stolen" object).
#define BOOST_TEST_MODULE pipc open races
#include <boost/test/unit_test.hpp>

#include <pipc/message_queue.hpp>
#include <pipc/semaphore.hpp>
#include <pipc/shared_memory.hpp>

#include <pipc_test/support.hpp>

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

using pipc::open_mode;
using pipc_test::named;

namespace {

constexpr long rounds_per_kind = 10'000;

struct semaphore_kind {
    static constexpr auto kind = pipc::object_kind::semaphore;
    using handle = pipc::semaphore;
    static handle::options opts(open_mode m) { return {.open = m, .initial_value = 1}; }
    // The same object: a post through our handle is seen through a fresh open of the name.
    static bool same_object(handle& mine, const std::string& name) {
        pipc::error_code ec;
        handle other;
        other.open(name, {}, ec);
        if (ec) return false;
        const int before = other.value();
        mine.release();
        const bool same = other.value() == before + 1;
        mine.try_acquire();
        return same;
    }
};

struct shared_memory_kind {
    static constexpr auto kind = pipc::object_kind::shared_memory;
    using handle = pipc::shared_memory;
    static handle::options opts(open_mode m) { return {.open = m, .size = 4096}; }
    static bool same_object(handle& mine, const std::string& name) {
        struct ::stat a {};
        struct ::stat b {};
        return ::fstat(mine.native_handle(), &a) == 0 &&
               ::stat(("/dev/shm/" + name.substr(1)).c_str(), &b) == 0 && a.st_dev == b.st_dev &&
               a.st_ino == b.st_ino;
    }
};

struct message_queue_kind {
    static constexpr auto kind = pipc::object_kind::message_queue;
    using handle = pipc::message_queue;
    static handle::options opts(open_mode m) {
        return {.open = m, .max_messages = 1, .max_message_size = 16};
    }
    static bool same_object(handle& mine, const std::string& name) {
        pipc::error_code ec;
        handle other;
        other.open(name, {}, ec);
        struct ::stat a {};
        struct ::stat b {};
        return !ec && ::fstat(mine.native_handle(), &a) == 0 &&
               ::fstat(other.native_handle(), &b) == 0 && a.st_ino == b.st_ino;
    }
};

template <class Kind>
void race() {
    named name(Kind::kind, "race");
    pipc_test::handshake ready;
    pipc_test::handshake stop;
    pipc_test::handshake report;
    pipc_test::child_process other(
        [&] {
            long opened = 0;
            long failures = 0;
            ready.signal();
            for (long i = 0;; ++i) {
                ::pollfd p{stop.read_fd(), POLLIN, 0};
                if (i % 64 == 0 && ::poll(&p, 1, 0) == 1) break;
                typename Kind::handle h;
                pipc::error_code ec;
                h.open(name.str(), Kind::opts(open_mode::open_or_create), ec);
                if (ec) {
                    if (++failures <= 5)
                        std::fprintf(stderr, "open_or_create failed: %s\n", ec.message().c_str());
                } else {
                    ++opened;
                }
            }
            const std::string counts = std::to_string(opened) + " " + std::to_string(failures);
            for (const char c : counts) report.signal(c);
            report.signal('\n');
            return failures == 0;
        },
        300);
    ready.wait();
    long created = 0;
    long contended = 0;
    long failures = 0;
    long stolen = 0;
    while (created < rounds_per_kind) {
        typename Kind::handle h;
        pipc::error_code ec;
        h.open(name.str(), Kind::opts(open_mode::create_exclusive), ec);
        if (ec == boost::system::errc::file_exists) { // the other side created it: take it away
            ++contended;
            Kind::handle::unlink(name.str(), ec);
            continue;
        }
        if (ec) {
            if (++failures <= 5) BOOST_TEST_MESSAGE("create_exclusive failed: " << ec.message());
            if (failures > 100) break;
            continue;
        }
        if (!Kind::same_object(h, name.str())) ++stolen;
        Kind::handle::unlink(name.str(), ec);
        ++created;
        // Unlink whatever the other side creates meanwhile: each of these that lands between its
        // create and the end of its open is the race this test is about.
        for (int i = 0; i < 16; ++i) {
            Kind::handle::unlink(name.str(), ec);
            if (!ec) ++contended;
        }
    }
    stop.signal();
    std::string counts;
    for (char c = report.wait(std::chrono::seconds(120)); c != '\n'; c = report.wait()) counts += c;
    const bool other_ok = other.succeeded();
    BOOST_TEST_MESSAGE("exclusive creator: "
                       << created << " objects, " << contended
                       << " taken away from open_or_create, " << failures << " failures, " << stolen
                       << " stolen; open_or_create side (opened failed): " << counts);
    BOOST_TEST(created == rounds_per_kind);
    BOOST_TEST(failures == 0);
    BOOST_TEST(stolen == 0);
    BOOST_TEST(other_ok, "the open_or_create process saw failures: " << counts);
}

} // namespace

BOOST_AUTO_TEST_CASE(semaphore_open_or_create_races_with_create_and_unlink) {
    race<semaphore_kind>();
}
BOOST_AUTO_TEST_CASE(shared_memory_open_or_create_races_with_create_and_unlink) {
    race<shared_memory_kind>();
}
BOOST_AUTO_TEST_CASE(message_queue_open_or_create_races_with_create_and_unlink) {
    race<message_queue_kind>();
}
