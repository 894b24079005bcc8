// SPDX-License-Identifier: BSL-1.0
// A failed async_message_queue::open leaves no queue behind: when attaching the notify backend
// fails after the core open created the queue, the call removes the queue it created (and only
// a queue it created).
#define BOOST_TEST_MODULE asio_async_message_queue_open_failure
#include <boost/test/unit_test.hpp>

#include <pipc/asio/async_message_queue.hpp>

#include <pipc_test/support.hpp>

#include <boost/asio/io_context.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

using pipc_test::named;

namespace {

constexpr auto kind = pipc::object_kind::message_queue;

// In the calling (forked) process: lower RLIMIT_NOFILE and fill every free descriptor but one,
// so the queue's mq_open gets the last one and the notify socket finds none (EMFILE).
// @returns the filler descriptors, to close afterwards.
std::vector<int> leave_one_free_descriptor(boost::asio::io_context& io) {
    // One successful open and close first: Asio's services exist afterwards, and UBSan has seen
    // (and cached) every dynamic type on the path; checking a new one needs a pipe, which there
    // will not be room for.
    {
        pipc::async_message_queue warm(io, pipc::unique_name,
                                       {.max_messages = 1, .max_message_size = 16},
                                       pipc::mq_backend::notify);
        pipc::message_queue::unlink(warm.core().name());
    }
    ::rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = std::min<::rlim_t>(lim.rlim_max, 256);
    ::setrlimit(RLIMIT_NOFILE, &lim);
    std::vector<int> fillers;
    for (;;) {
        const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) break;
        fillers.push_back(fd);
    }
    ::close(fillers.back());
    fillers.pop_back();
    return fillers;
}

void close_all(std::vector<int>& fds) {
    for (const int fd : fds) ::close(fd);
    fds.clear();
}

} // namespace

BOOST_AUTO_TEST_CASE(create_exclusive_that_cannot_attach_leaves_no_queue) {
    named name(kind, "attach");
    pipc_test::child_process child([&] {
        boost::asio::io_context io;
        pipc::async_message_queue q(io);
        auto fillers = leave_one_free_descriptor(io);
        pipc::error_code ec;
        q.open(
            name.str(),
            {.open = pipc::open_mode::create_exclusive, .max_messages = 1, .max_message_size = 16},
            pipc::mq_backend::notify, ec);
        close_all(fillers);
        std::fprintf(stderr, "open with one free descriptor: %s\n", ec.message().c_str());
        if (ec != boost::system::errc::too_many_files_open || q.is_open()) return false;
        // The retry the failed call must not have spoilt: "file exists" was the defect.
        q.open(
            name.str(),
            {.open = pipc::open_mode::create_exclusive, .max_messages = 1, .max_message_size = 16},
            pipc::mq_backend::notify, ec);
        std::fprintf(stderr, "retry with descriptors free: %s\n", ec.message().c_str());
        return !ec && q.core().created();
    });
    BOOST_TEST(child.succeeded());
}

BOOST_AUTO_TEST_CASE(a_failed_attach_never_removes_a_queue_it_only_opened) {
    named name(kind, "keep");
    pipc::message_queue existing(
        name,
        {.open = pipc::open_mode::create_exclusive, .max_messages = 1, .max_message_size = 16});
    pipc_test::child_process child([&] {
        boost::asio::io_context io;
        pipc::async_message_queue q(io);
        auto fillers = leave_one_free_descriptor(io);
        pipc::error_code ec;
        q.open(name.str(), {.open = pipc::open_mode::open_or_create}, pipc::mq_backend::notify, ec);
        close_all(fillers);
        return ec == boost::system::errc::too_many_files_open;
    });
    BOOST_TEST(child.succeeded());
    BOOST_TEST(pipc_test::exists(kind, name.str()));
}
