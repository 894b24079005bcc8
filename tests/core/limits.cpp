// SPDX-License-Identifier: BSL-1.0
#define BOOST_TEST_MODULE pipc limits
#include <boost/test/unit_test.hpp>

#include <pipc/limits.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <mqueue.h>
#include <semaphore.h>

namespace {
long proc(const char* path) {
    std::ifstream in(path);
    long v = -1;
    in >> v;
    return v;
}
} // namespace

BOOST_AUTO_TEST_CASE(values_come_from_the_running_system) {
    BOOST_TEST(pipc::page_size() == ::sysconf(_SC_PAGESIZE));
    BOOST_TEST(pipc::semaphore_value_max() == SEM_VALUE_MAX);
    BOOST_TEST(pipc::message_priority_max() == ::sysconf(_SC_MQ_PRIO_MAX));
    const auto l = pipc::read_mqueue_limits();
    BOOST_REQUIRE(l.msg_max.has_value());
    BOOST_TEST(*l.msg_max == proc("/proc/sys/fs/mqueue/msg_max"));
    BOOST_TEST(*l.msg_default == proc("/proc/sys/fs/mqueue/msg_default"));
    BOOST_TEST(*l.msgsize_max == proc("/proc/sys/fs/mqueue/msgsize_max"));
    BOOST_TEST(*l.msgsize_default == proc("/proc/sys/fs/mqueue/msgsize_default"));
    BOOST_TEST(*l.queues_max == proc("/proc/sys/fs/mqueue/queues_max"));
}

BOOST_AUTO_TEST_CASE(rlimit_is_read_at_call_time) {
    ::rlimit saved{};
    BOOST_REQUIRE(::getrlimit(RLIMIT_MSGQUEUE, &saved) == 0);
    ::rlimit lowered = saved;
    lowered.rlim_cur = 12345;
    BOOST_REQUIRE(::setrlimit(RLIMIT_MSGQUEUE, &lowered) == 0);
    const auto r = pipc::read_rlimit_msgqueue();
    ::setrlimit(RLIMIT_MSGQUEUE, &saved);
    BOOST_TEST(r.soft == 12345U);
    BOOST_TEST(!r.soft_unlimited);
}
