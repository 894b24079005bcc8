// SPDX-License-Identifier: BSL-1.0
#define BOOST_TEST_MODULE pipc error
#include <boost/test/unit_test.hpp>

#include <pipc/error.hpp>

#include <cerrno>
#include <set>
#include <string>

using pipc::condition;
using pipc::errc;
using pipc::error_code;

namespace {
error_code sys(int e) {
    return {e, boost::system::system_category()};
}
constexpr int errc_first = static_cast<int>(errc::closed);
constexpr int errc_last = static_cast<int>(errc::consumer_busy);
} // namespace

BOOST_AUTO_TEST_SUITE(error_categories)

BOOST_AUTO_TEST_CASE(every_errc_has_its_own_message) {
    std::set<std::string> seen;
    for (int v = errc_first; v <= errc_last; ++v) {
        const auto msg = make_error_code(static_cast<errc>(v)).message();
        BOOST_TEST_CONTEXT("errc " << v) {
            BOOST_TEST(msg != "unknown pipc error");
            BOOST_TEST(seen.insert(msg).second, "duplicate message: " << msg);
        }
    }
    BOOST_TEST(make_error_code(static_cast<errc>(errc_last + 1)).message() == "unknown pipc error");
}

BOOST_AUTO_TEST_CASE(messages_name_the_field) {
    BOOST_TEST(make_error_code(errc::invalid_max_messages).message().find("max_messages") !=
               std::string::npos);
    BOOST_TEST(make_error_code(errc::invalid_priority).message().find("priority") !=
               std::string::npos);
    BOOST_TEST(make_error_code(errc::msgsize_max_exceeded).message().find("msgsize_max") !=
               std::string::npos);
    BOOST_TEST(make_error_code(errc::rlimit_msgqueue_exceeded).message().find("RLIMIT_MSGQUEUE") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(category_names) {
    BOOST_TEST(std::string(pipc::pipc_category().name()) == "pipc");
    BOOST_TEST(std::string(pipc::condition_category().name()) == "pipc.condition");
    for (int c = 1; c <= 4; ++c)
        BOOST_TEST(make_error_condition(static_cast<condition>(c)).message() !=
                   "unknown pipc condition");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(conditions)

BOOST_AUTO_TEST_CASE(errno_maps_to_posix_ipc_classes) {
    BOOST_TEST((sys(ENOENT) == condition::existential));
    BOOST_TEST((sys(EEXIST) == condition::existential));
    BOOST_TEST((sys(EACCES) == condition::permissions));
    BOOST_TEST((sys(EPERM) == condition::permissions));
    BOOST_TEST((sys(EAGAIN) == condition::busy));
    BOOST_TEST((sys(ETIMEDOUT) == condition::busy));
    BOOST_TEST((sys(EBUSY) == condition::busy));
    BOOST_TEST((sys(EINTR) == condition::signal));
    // posix_ipc raises ValueError/OSError for these: they belong to no class.
    for (int e : {EINVAL, EMSGSIZE, ENAMETOOLONG, EMFILE, ENOSPC, ENOMEM, ECANCELED})
        for (int c = 1; c <= 4; ++c)
            BOOST_TEST((sys(e) != static_cast<condition>(c)), "errno " << e << " condition " << c);
}

BOOST_AUTO_TEST_CASE(generic_category_codes_map_too) {
    const error_code ec(ENOENT, boost::system::generic_category());
    BOOST_TEST((ec == condition::existential));
}

BOOST_AUTO_TEST_CASE(library_codes_map) {
    BOOST_TEST((make_error_code(errc::closed) == condition::existential));
    BOOST_TEST((make_error_code(errc::not_readable) == condition::permissions));
    BOOST_TEST((make_error_code(errc::not_writable) == condition::permissions));
    BOOST_TEST((make_error_code(errc::read_only) == condition::permissions));
    BOOST_TEST((make_error_code(errc::invalid_name) != condition::existential));
    BOOST_TEST((make_error_code(errc::message_too_long) != condition::busy));
}

BOOST_AUTO_TEST_CASE(library_codes_compare_with_generic_conditions) {
    BOOST_TEST((make_error_code(errc::invalid_priority) == boost::system::errc::invalid_argument));
    BOOST_TEST((make_error_code(errc::name_too_long) == boost::system::errc::filename_too_long));
    BOOST_TEST((make_error_code(errc::message_too_long) == boost::system::errc::message_size));
    BOOST_TEST((make_error_code(errc::no_space) == boost::system::errc::no_space_on_device));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(exceptions)

template <class Expected>
void check_thrown(const error_code& ec) {
    try {
        pipc::throw_error(ec, "op \"/x\"");
        BOOST_FAIL("throw_error returned");
    } catch (const Expected& e) {
        BOOST_TEST(e.code() == ec);
        BOOST_TEST(std::string(e.what()).find("op \"/x\"") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(the_class_follows_the_condition) {
    check_thrown<pipc::existential_error>(sys(ENOENT));
    check_thrown<pipc::permissions_error>(sys(EACCES));
    check_thrown<pipc::busy_error>(sys(ETIMEDOUT));
    check_thrown<pipc::signal_error>(sys(EINTR));
    check_thrown<pipc::error>(make_error_code(errc::invalid_name));
    // Still catchable as Boost.System's exception.
    BOOST_CHECK_THROW(pipc::throw_error(sys(EBUSY), "x"), boost::system::system_error);
    // And a plain error is none of the four classes.
    try {
        pipc::throw_error(make_error_code(errc::invalid_size), "x");
    } catch (const pipc::busy_error&) {
        BOOST_FAIL("invalid_size is not busy");
    } catch (const pipc::error&) {
    }
}

BOOST_AUTO_TEST_SUITE_END()
