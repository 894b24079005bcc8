// SPDX-License-Identifier: BSL-1.0
#define BOOST_TEST_MODULE pipc mapping
#include <boost/test/unit_test.hpp>

#include <pipc/limits.hpp>
#include <pipc/mapping.hpp>
#include <pipc/shared_memory.hpp>

#include <pipc_test/support.hpp>

#include <atomic>
#include <cstring>

using pipc::errc;
using pipc::open_mode;
using pipc::shared_memory;
using pipc_test::named;

namespace {
constexpr auto kind = pipc::object_kind::shared_memory;
shared_memory::options create(std::uint64_t size) {
    return {.open = open_mode::create_exclusive, .size = size};
}
} // namespace

BOOST_AUTO_TEST_CASE(writes_are_seen_through_other_mappings_and_processes) {
    named name(kind);
    shared_memory shm(name, create(4096));
    auto a = shm.map();
    BOOST_TEST(a.size() == 4096U);
    std::memcpy(a.data() + 100, "hello", 5);
    shared_memory other(name);
    const auto b = other.map_read_only(100, 5);
    BOOST_TEST(std::memcmp(b.data(), "hello", 5) == 0);

    pipc_test::handshake done;
    pipc_test::child_process child([&] {
        shared_memory mine(name.str());
        auto m = mine.map();
        std::memcpy(m.data(), "child", 5);
        done.signal();
        return true;
    });
    done.wait();
    BOOST_TEST(child.succeeded());
    BOOST_TEST(std::memcmp(a.data(), "child", 5) == 0);
}

BOOST_AUTO_TEST_CASE(offsets_need_not_be_page_aligned) {
    named name(kind);
    const auto page = static_cast<std::uint64_t>(pipc::page_size());
    shared_memory shm(name, create(3 * page));
    auto whole = shm.map();
    for (std::size_t i = 0; i < whole.size(); ++i) whole.bytes()[i] = std::byte(i % 251);
    const std::uint64_t offsets[] = {1, page - 1, page, page + 17, 3 * page - 1};
    for (const auto off : offsets) {
        const auto view = shm.map_read_only(off);
        BOOST_TEST(view.offset() == off);
        BOOST_TEST(view.size() == 3 * page - off);
        BOOST_TEST((view.bytes()[0] == std::byte(off % 251)));
    }
}

BOOST_AUTO_TEST_CASE(mappings_outlive_the_handle_and_the_name) {
    named name(kind);
    pipc::mapping m;
    {
        shared_memory shm(name, create(16));
        m = shm.map();
        shm.unlink();
    }
    std::memcpy(m.data(), "still here", 10);
    BOOST_TEST(std::memcmp(m.data(), "still here", 10) == 0);
    m.unmap();
    m.unmap();
    BOOST_TEST(!m.is_mapped());
}

BOOST_AUTO_TEST_CASE(never_past_the_end) {
    named name(kind);
    shared_memory shm(name, create(100));
    struct row {
        std::uint64_t offset, length;
    };
    const row rows[] = {{0, 101},      {100, shared_memory::whole}, {50, 51}, {0, 0}, {~0ULL, 1},
                        {1, ~0ULL - 1}};
    for (const auto& r : rows) BOOST_TEST_CONTEXT("offset " << r.offset << " length " << r.length) {
            pipc::error_code ec;
            const auto m = shm.map(r.offset, r.length, ec);
            BOOST_TEST((ec == make_error_code(errc::mapping_out_of_range)));
            BOOST_TEST(!m.is_mapped());
        }
    BOOST_TEST(shm.map(99, 1).size() == 1U);
}

BOOST_AUTO_TEST_CASE(an_empty_segment_has_nothing_to_map) {
    named name(kind);
    shared_memory shm(name, create(0));
    pipc::error_code ec;
    shm.map(0, shared_memory::whole, ec);
    BOOST_TEST((ec == make_error_code(errc::empty_segment)));
}

BOOST_AUTO_TEST_CASE(read_only_handles_only_map_read_only) {
    named name(kind);
    shared_memory owner(name, create(10));
    shared_memory reader(name, {.read_only = true});
    pipc::error_code ec;
    const auto m = reader.map(0, shared_memory::whole, ec);
    BOOST_TEST((ec == make_error_code(errc::read_only)));
    BOOST_TEST(!m.is_mapped());
    BOOST_CHECK_THROW(reader.map(), pipc::permissions_error);
    BOOST_TEST(reader.map_read_only().size() == 10U);
}

BOOST_AUTO_TEST_CASE(typed_views_are_checked) {
    named name(kind);
    shared_memory shm(name, create(64));
    auto m = shm.map();
    auto& counter = m.as<std::uint64_t>(8);
    counter = 41;
    std::atomic_ref<std::uint64_t>(counter).fetch_add(1);
    BOOST_TEST(shm.map_read_only().as<std::uint64_t>(8) == 42U);
    BOOST_CHECK_THROW(m.as<std::uint64_t>(60), pipc::error); // past the end
    BOOST_CHECK_THROW(m.as<std::uint64_t>(3), pipc::error);  // misaligned
}

BOOST_AUTO_TEST_CASE(moves_and_flush) {
    named name(kind);
    shared_memory shm(name, create(10));
    auto a = shm.map();
    auto b = std::move(a);
    BOOST_TEST(
        !a.is_mapped()); // NOLINT(bugprone-use-after-move): the moved-from state is specified
    BOOST_TEST(b.is_mapped());
    b.flush();
    pipc::error_code ec;
    a.flush(ec); // NOLINT(bugprone-use-after-move)
    BOOST_TEST((ec == make_error_code(errc::closed)));
}
