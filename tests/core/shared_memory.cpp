// SPDX-License-Identifier: BSL-1.0
#define BOOST_TEST_MODULE pipc shared_memory
#include <boost/test/unit_test.hpp>

#include <pipc/limits.hpp>
#include <pipc/shared_memory.hpp>

#include <pipc_test/fault.hpp>
#include <pipc_test/support.hpp>

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

using pipc::errc;
using pipc::open_mode;
using pipc::shared_memory;
using pipc_test::named;

namespace {
constexpr auto kind = pipc::object_kind::shared_memory;
shared_memory::options create(std::uint64_t size) {
    return {.open = open_mode::create_exclusive, .size = size};
}
struct ::stat stat_of(const std::string& name) {
    struct ::stat st {};
    BOOST_REQUIRE(::stat(("/dev/shm/" + name.substr(1)).c_str(), &st) == 0);
    return st;
}
} // namespace

BOOST_AUTO_TEST_SUITE(opening)

BOOST_AUTO_TEST_CASE(create_sizes_and_reserves) {
    named name(kind);
    shared_memory shm(name, create(10000));
    BOOST_TEST(shm.created());
    BOOST_TEST(shm.size() == 10000U);
    const auto st = stat_of(name.str());
    BOOST_TEST(st.st_size == 10000);
    BOOST_TEST(st.st_blocks * 512 >= 10000); // reserved, not sparse
    BOOST_TEST(shm.native_handle() >= 0);
}

BOOST_AUTO_TEST_CASE(open_or_create_and_open_existing) {
    named name(kind);
    shared_memory a(name, {.open = open_mode::open_or_create, .size = 64});
    BOOST_TEST(a.created());
    shared_memory b(name, {.open = open_mode::open_or_create, .size = 4096});
    BOOST_TEST(!b.created());
    BOOST_TEST(b.size() == 64U); // opening never resizes
    shared_memory c(name);
    BOOST_TEST(c.size() == 64U);
    pipc::error_code ec;
    shared_memory d;
    d.open(name, create(1), ec);
    BOOST_TEST((ec == pipc::condition::existential));
}

BOOST_AUTO_TEST_CASE(mode_is_exact_whatever_the_umask) {
    named name(kind);
    const ::mode_t old = ::umask(077);
    shared_memory shm(name, {.open = open_mode::create_exclusive, .permissions = 0644});
    ::umask(old);
    BOOST_TEST((stat_of(name.str()).st_mode & 07777) == 0644U);
}

BOOST_AUTO_TEST_CASE(read_only_open_with_a_size_does_not_destroy_the_segment) {
    named name(kind);
    shared_memory owner(name, create(100));
    std::memcpy(owner.map().data(), "keep", 4);
    // posix_ipc truncates here, fails, and unlinks the segment; pipc ignores the size on open.
    shared_memory reader(name, {.size = 8192, .read_only = true});
    BOOST_TEST(reader.read_only());
    BOOST_TEST(reader.size() == 100U);
    BOOST_TEST(std::memcmp(reader.map_read_only().data(), "keep", 4) == 0);
}

// A FIFO under the name (a channel's doorbell is one, /dev/shm/<channel>.bell-data) must not
// block a read-only open until some process opens it for writing, as a plain O_RDONLY open does.
BOOST_AUTO_TEST_CASE(read_only_open_of_a_fifo_does_not_wait_for_a_writer) {
    named name(kind);
    const std::string path = "/dev/shm/" + name.str().substr(1);
    BOOST_REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
    std::mutex m;
    std::condition_variable cv;
    bool returned = false;
    // The watchdog: if the open still blocks after 10 s, open the FIFO for writing, which lets
    // it return, so that the test fails instead of hanging.
    std::thread watchdog([&] {
        std::unique_lock lock(m);
        if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return returned; }))
            ::close(::open(path.c_str(), O_WRONLY | O_NONBLOCK));
    });
    bool blocked = false;
    {
        pipc::error_code ec;
        shared_memory reader;
        const auto t0 = std::chrono::steady_clock::now();
        reader.open(name.str(), {.read_only = true}, ec);
        blocked = std::chrono::steady_clock::now() - t0 >= std::chrono::seconds(10);
        std::lock_guard lock(m);
        returned = true;
    }
    cv.notify_one();
    watchdog.join();
    BOOST_TEST(!blocked);
    ::unlink(path.c_str());
}

BOOST_AUTO_TEST_CASE(truncate_empties_an_existing_segment) {
    named name(kind);
    shared_memory owner(name, create(100));
    shared_memory again(name, {.truncate = true});
    BOOST_TEST(owner.size() == 0U);
}

BOOST_AUTO_TEST_CASE(truncate_with_a_size_makes_a_fresh_zeroed_segment) {
    named name(kind);
    shared_memory owner(name, create(8192));
    std::memset(owner.map().data(), 0xab, 8192);
    shared_memory again(name, {.open = open_mode::open_or_create, .size = 4096, .truncate = true});
    BOOST_TEST(!again.created());
    BOOST_TEST(again.size() == 4096U);
    const auto view = again.map_read_only();
    BOOST_TEST((view.bytes()[0] == std::byte{0}));
    BOOST_TEST((view.bytes()[4095] == std::byte{0}));
}

BOOST_AUTO_TEST_CASE(bad_input_is_rejected_without_side_effects) {
    named name(kind);
    struct row {
        const char* what;
        std::string name;
        shared_memory::options opts;
        errc expected;
    };
    const row rows[] = {
        {"slash", "/x/y", create(1), errc::invalid_name},
        {"semaphore alias", "/sem.x", create(1), errc::invalid_name},
        {"permissions",
         name.str(),
         {.open = open_mode::create_exclusive, .permissions = 0177777},
         errc::invalid_permissions},
        {"size beyond off_t", name.str(), create(~0ULL), errc::invalid_size},
        {"read-only create with size",
         name.str(),
         {.open = open_mode::create_exclusive, .size = 10, .read_only = true},
         errc::invalid_size},
        {"read-only truncate",
         name.str(),
         {.read_only = true, .truncate = true},
         errc::truncate_needs_write},
        {"open mode", name.str(), {.open = static_cast<open_mode>(-1)}, errc::invalid_open_mode},
    };
    for (const auto& r : rows) BOOST_TEST_CONTEXT(r.what) {
            shared_memory shm;
            pipc::error_code ec;
            shm.open(r.name, r.opts, ec);
            BOOST_TEST((ec == make_error_code(r.expected)));
            BOOST_TEST(!shm.is_open());
            BOOST_TEST(!pipc_test::exists(kind, name.str()));
        }
}

BOOST_AUTO_TEST_CASE(a_full_dev_shm_is_reported_at_create_and_leaves_nothing) {
    named name(kind);
    pipc_test::fault_scope faults;
    faults.table().posix_fallocate = [](int, ::off_t, ::off_t) { return ENOSPC; };
    shared_memory shm;
    pipc::error_code ec;
    shm.open(name, create(1 << 20), ec);
    BOOST_TEST((ec == make_error_code(errc::no_space)));
    BOOST_TEST(!pipc_test::exists(kind, name.str()));
    BOOST_CHECK_THROW(shared_memory(name.str(), create(1 << 20)), pipc::error);
}

BOOST_AUTO_TEST_CASE(a_segment_too_big_for_the_filesystem_fails_cleanly) {
    // Real, not injected: more than /dev/shm can hold.
    named name(kind);
    shared_memory shm;
    pipc::error_code ec;
    shm.open(name, create(1ULL << 50), ec); // 1 PiB
    BOOST_TEST(
        (ec == make_error_code(errc::no_space) || ec == boost::system::errc::file_too_large));
    BOOST_TEST(!pipc_test::exists(kind, name.str()));
}

BOOST_AUTO_TEST_CASE(unique_name) {
    shared_memory shm(pipc::unique_name, {.size = 10});
    BOOST_TEST(pipc_test::exists(kind, shm.name()));
    shm.unlink();
    BOOST_TEST(!pipc_test::exists(kind, shm.name()));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sizes)

BOOST_AUTO_TEST_CASE(resize_grows_and_shrinks_and_size_is_live) {
    named name(kind);
    shared_memory a(name, create(10));
    shared_memory b(name);
    a.resize(5000);
    BOOST_TEST(b.size() == 5000U); // read live through the other handle
    a.resize(3);
    BOOST_TEST(b.size() == 3U);
    pipc::error_code ec;
    a.resize(~0ULL, ec);
    BOOST_TEST((ec == make_error_code(errc::invalid_size)));
    BOOST_TEST(b.size() == 3U);
}

BOOST_AUTO_TEST_CASE(failed_growth_restores_the_size) {
    named name(kind);
    shared_memory shm(name, create(10));
    pipc_test::fault_scope faults;
    faults.table().posix_fallocate = [](int fd, ::off_t, ::off_t len) {
        ::ftruncate(fd, len); // as if the space ran out half way
        return ENOSPC;
    };
    pipc::error_code ec;
    shm.resize(1 << 20, ec);
    BOOST_TEST((ec == make_error_code(errc::no_space)));
    BOOST_TEST(shm.size() == 10U);
}

BOOST_AUTO_TEST_CASE(read_only_handles_cannot_resize) {
    named name(kind);
    shared_memory owner(name, create(10));
    shared_memory reader(name, {.read_only = true});
    pipc::error_code ec;
    reader.resize(20, ec);
    BOOST_TEST((ec == make_error_code(errc::read_only)));
    BOOST_TEST((ec == pipc::condition::permissions));
    BOOST_TEST(owner.size() == 10U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(lifetime)

BOOST_AUTO_TEST_CASE(close_then_unlink_and_closed_errors) {
    named name(kind);
    shared_memory shm(name, create(10));
    shm.close();
    shm.close();
    BOOST_TEST(shm.native_handle() == -1);
    pipc::error_code ec;
    shm.size(ec);
    BOOST_TEST((ec == make_error_code(errc::closed)));
    shm.map(0, shared_memory::whole, ec);
    BOOST_TEST((ec == make_error_code(errc::closed)));
    shm.unlink();
    BOOST_TEST(!pipc_test::exists(kind, name.str()));
    shm.unlink(ec);
    BOOST_TEST((ec == pipc::condition::existential));
}

BOOST_AUTO_TEST_CASE(destructor_never_unlinks) {
    named name(kind);
    { shared_memory shm(name, create(10)); }
    BOOST_TEST(pipc_test::exists(kind, name.str()));
}

BOOST_AUTO_TEST_CASE(permission_denied_for_another_user) {
    named name(kind);
    shared_memory shm(name, {.open = open_mode::create_exclusive, .permissions = 0644, .size = 8});
    pipc_test::child_process child([&] {
        if (!pipc_test::drop_to_nobody()) return false;
        pipc::error_code ec;
        shared_memory rw;
        rw.open(name.str(), {}, ec); // 0644: others may not write
        if (ec != pipc::condition::permissions) return false;
        shared_memory ro;
        ro.open(name.str(), {.read_only = true}, ec); // but may read
        if (ec) return false;
        shared_memory::unlink(name.str(), ec);
        return ec == pipc::condition::permissions;
    });
    BOOST_TEST(child.succeeded());
    BOOST_TEST(pipc_test::exists(kind, name.str()));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(truncation)

namespace {
// Fills the segment with a pattern and returns it, to compare after a failed call.
std::vector<unsigned char> fill_pattern(shared_memory& shm) {
    auto m = shm.map();
    std::vector<unsigned char> pattern(m.size());
    for (std::size_t i = 0; i < pattern.size(); ++i)
        pattern[i] = static_cast<unsigned char>(i * 7 + 1);
    std::memcpy(m.data(), pattern.data(), pattern.size());
    return pattern;
}
bool holds(const shared_memory& shm, const std::vector<unsigned char>& pattern) {
    const auto m = shm.map_read_only();
    return m.size() == pattern.size() && std::memcmp(m.data(), pattern.data(), m.size()) == 0;
}
} // namespace

BOOST_AUTO_TEST_CASE(truncate_with_a_size_zero_fills_and_keeps_the_reservation) {
    named name(kind);
    shared_memory owner(name, create(3 * 65536 + 5));
    fill_pattern(owner);
    shared_memory grown(name, {.size = 5 * 65536, .truncate = true});
    BOOST_TEST(owner.size() == 5U * 65536U);
    const auto m = owner.map_read_only();
    BOOST_TEST(std::all_of(m.bytes().begin(), m.bytes().end(),
                           [](std::byte b) { return b == std::byte{0}; }));
    shared_memory shrunk(name, {.size = 100, .truncate = true});
    BOOST_TEST(owner.size() == 100U);
    shared_memory emptied(name, {.truncate = true});
    BOOST_TEST(owner.size() == 0U);
}

BOOST_AUTO_TEST_CASE(truncate_that_does_not_fit_keeps_data_and_size_injected) {
    named name(kind);
    shared_memory owner(name, create(600 * 1024));
    const auto pattern = fill_pattern(owner);
    pipc_test::fault_scope faults;
    faults.table().posix_fallocate = [](int, ::off_t, ::off_t) { return ENOSPC; };
    shared_memory shm;
    pipc::error_code ec;
    shm.open(name, {.size = 2 << 20, .truncate = true}, ec);
    BOOST_TEST((ec == make_error_code(errc::no_space)));
    BOOST_TEST(!shm.is_open());
    BOOST_TEST(owner.size() == 600U * 1024U);
    BOOST_TEST(holds(owner, pattern));
}

// The real thing: a 1 MiB tmpfs over /dev/shm in a private mount namespace (root only).
BOOST_AUTO_TEST_CASE(truncate_that_does_not_fit_keeps_data_and_size_on_a_full_tmpfs) {
    if (::geteuid() != 0) {
        BOOST_TEST_MESSAGE("skipped: mounting a small tmpfs over /dev/shm needs root");
        return;
    }
    pipc_test::handshake result;
    pipc_test::child_process child([&] {
        if (::unshare(CLONE_NEWNS) != 0 ||
            ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            ::mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=1m,mode=1777") != 0) {
            result.signal('s'); // no namespace here (a container without CAP_SYS_ADMIN)
            return true;
        }
        const std::string name = "/pipc-test-truncate";
        shared_memory owner(name, create(600 * 1024));
        const auto pattern = fill_pattern(owner);
        shared_memory shm;
        pipc::error_code ec;
        shm.open(name, {.size = 2 << 20, .truncate = true}, ec);
        std::fprintf(stderr, "truncate to 2 MiB on a 1 MiB tmpfs: %s\n", ec.message().c_str());
        const bool ok = ec == make_error_code(errc::no_space) && !shm.is_open() &&
                        owner.size() == 600U * 1024U && holds(owner, pattern);
        result.signal(ok ? 'y' : 'n');
        return ok; // the private tmpfs disappears with the namespace
    });
    const char r = result.wait();
    BOOST_TEST(child.succeeded());
    if (r == 's') BOOST_TEST_MESSAGE("skipped: no private mount namespace available");
    BOOST_TEST(r != 'n');
}

BOOST_AUTO_TEST_SUITE_END()
