// SPDX-License-Identifier: BSL-1.0
#define BOOST_TEST_MODULE pipc name
#include <boost/test/unit_test.hpp>

#include <pipc/message_queue.hpp>
#include <pipc/name.hpp>
#include <pipc/semaphore.hpp>
#include <pipc/shared_memory.hpp>

#include <pipc_test/support.hpp>

#include <set>
#include <string>

using pipc::errc;
using pipc::object_kind;

namespace {
constexpr object_kind all_kinds[] = {object_kind::semaphore, object_kind::shared_memory,
                                     object_kind::message_queue};
}

BOOST_AUTO_TEST_CASE(malformed_names_are_rejected_the_same_way_for_every_kind) {
    using namespace std::string_literals;
    const std::string bad[] = {"",    "/",  "//",  "//x",    "noslash", "/a/b",
                               "/x/", "/.", "/..", "/x\0y"s, "\0"s};
    for (const auto kind : all_kinds)
        for (const auto& name : bad)
            BOOST_TEST_CONTEXT("kind " << static_cast<int>(kind) << " name size " << name.size()) {
                BOOST_TEST(
                    (pipc::validate_name(kind, name) == make_error_code(errc::invalid_name)));
            }
}

BOOST_AUTO_TEST_CASE(length_limits_per_kind) {
    for (const auto kind : all_kinds) {
        const auto max = pipc::max_name_length(kind);
        BOOST_TEST(!pipc::validate_name(kind, "/" + std::string(max, 'a')));
        BOOST_TEST((pipc::validate_name(kind, "/" + std::string(max + 1, 'a')) ==
                    make_error_code(errc::name_too_long)));
        BOOST_TEST((pipc::validate_name(kind, "/" + std::string(4200, 'a')) ==
                    make_error_code(errc::name_too_long)));
    }
    BOOST_TEST(pipc::max_name_length(object_kind::semaphore) == 251U);
    BOOST_TEST(pipc::max_name_length(object_kind::message_queue) == 255U);
}

BOOST_AUTO_TEST_CASE(unusual_but_valid_names) {
    for (const auto kind : all_kinds) {
        BOOST_TEST(!pipc::validate_name(kind, "/a"));
        BOOST_TEST(!pipc::validate_name(kind, "/with space"));
        BOOST_TEST(!pipc::validate_name(kind, "/...")); // only "." and ".." are special
        BOOST_TEST(!pipc::validate_name(kind, "/\xff\xfe"));
    }
}

BOOST_AUTO_TEST_CASE(shared_memory_may_not_alias_a_semaphore_file) {
    BOOST_TEST((pipc::validate_name(object_kind::shared_memory, "/sem.x") ==
                make_error_code(errc::invalid_name)));
    BOOST_TEST(!pipc::validate_name(object_kind::semaphore, "/sem.x"));
}

BOOST_AUTO_TEST_CASE(longest_names_really_work) {
    // The limits are the kernel's, not stricter: the longest allowed name opens for real.
    for (const auto kind : all_kinds) {
        const auto base = pipc_test::unique_name("L");
        const std::string name =
            base + std::string(pipc::max_name_length(kind) + 1 - base.size(), 'x');
        pipc_test::remove_quietly(kind, name);
        pipc::error_code ec;
        switch (kind) {
        case object_kind::semaphore: {
            pipc::semaphore s(name, {.open = pipc::open_mode::create_exclusive});
            break;
        }
        case object_kind::shared_memory: {
            pipc::shared_memory s(name, {.open = pipc::open_mode::create_exclusive});
            break;
        }
        case object_kind::message_queue: {
            pipc::message_queue q(name, {.open = pipc::open_mode::create_exclusive,
                                         .max_messages = 1,
                                         .max_message_size = 16});
            break;
        }
        }
        BOOST_TEST(pipc_test::exists(kind, name));
        pipc_test::remove_quietly(kind, name);
        BOOST_TEST(!pipc_test::exists(kind, name));
    }
}

BOOST_AUTO_TEST_CASE(generated_names_are_valid_unique_and_unguessable) {
    std::set<std::string> names;
    for (int i = 0; i < 1000; ++i) {
        const auto n = pipc::generate_name();
        BOOST_TEST(n.size() == 26U);
        BOOST_TEST(n.rfind("/pipc-", 0) == 0U);
        for (const auto kind : all_kinds) BOOST_TEST(!pipc::validate_name(kind, n));
        names.insert(n);
    }
    BOOST_TEST(names.size() == 1000U);
}

BOOST_AUTO_TEST_CASE(unlink_validates_before_the_kernel_says_not_found) {
    // glibc answers ENOENT for names it cannot build; pipc says what is wrong with the name.
    pipc::error_code ec;
    pipc::unlink_semaphore("/a/b", ec);
    BOOST_TEST((ec == make_error_code(errc::invalid_name)));
    pipc::unlink_shared_memory("noslash", ec);
    BOOST_TEST((ec == make_error_code(errc::invalid_name)));
    pipc::unlink_message_queue("/" + std::string(300, 'a'), ec);
    BOOST_TEST((ec == make_error_code(errc::name_too_long)));
    pipc::unlink_message_queue(pipc_test::unique_name("absent"), ec);
    BOOST_TEST((ec == pipc::condition::existential));
    BOOST_CHECK_THROW(pipc::unlink_semaphore(pipc_test::unique_name("absent")),
                      pipc::existential_error);
}
