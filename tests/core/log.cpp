// SPDX-License-Identifier: BSL-1.0
#define BOOST_TEST_MODULE pipc log
#include <boost/test/unit_test.hpp>

#include <pipc/log.hpp>
#include <pipc/semaphore.hpp>

#include <pipc_test/support.hpp>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

namespace {
std::shared_ptr<spdlog::logger> capture(std::ostringstream& out, const std::string& name) {
    auto logger = std::make_shared<spdlog::logger>(
        name, std::make_shared<spdlog::sinks::ostream_sink_st>(out));
    logger->set_level(spdlog::level::debug);
    logger->set_pattern("%v");
    return logger;
}
void create_and_remove() {
    pipc_test::named name(pipc::object_kind::semaphore);
    pipc::semaphore s(name, {.open = pipc::open_mode::create_exclusive});
    s.unlink();
}
} // namespace

BOOST_AUTO_TEST_CASE(silent_until_the_application_opts_in) {
    BOOST_TEST(pipc::get_logger() == nullptr);
    std::ostringstream other;
    spdlog::set_default_logger(capture(other, "default"));
    create_and_remove();
    BOOST_TEST(other.str().empty()); // nothing leaks into the application's default logger
}

BOOST_AUTO_TEST_CASE(an_injected_logger_sees_lifecycle_events) {
    std::ostringstream out;
    pipc::set_logger(capture(out, "injected"));
    create_and_remove();
    pipc::set_logger(nullptr);
    BOOST_TEST(out.str().find("semaphore created") != std::string::npos);
    BOOST_TEST(out.str().find("semaphore unlinked") != std::string::npos);
    BOOST_TEST(pipc::get_logger() == nullptr);
}

BOOST_AUTO_TEST_CASE(a_registered_pipc_logger_is_used) {
    std::ostringstream out;
    spdlog::register_logger(capture(out, "pipc"));
    create_and_remove();
    spdlog::drop("pipc");
    BOOST_TEST(out.str().find("semaphore created") != std::string::npos);
}
