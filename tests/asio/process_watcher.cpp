// SPDX-License-Identifier: BSL-1.0
// Tests of pipc/asio/process_watcher.hpp: processes that are not our children, every kind of
// completion token, cancellation, errors.
#define BOOST_TEST_MODULE process_watcher
#include <boost/test/unit_test.hpp>

#include <pipc/asio/process_watcher.hpp>

#include <pipc_test/support.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <thread>

using namespace std::chrono_literals;
using pipc::error_code;
using pipc::process_watcher;
namespace asio = boost::asio;

namespace {

/// A process that is not our child: a forked child forks it, reports its PID through a pipe and
/// exits, so it is re-parented away from us. It sleeps until killed (bounded by alarm).
class grandchild {
public:
    grandchild() {
        int fds[2];
        if (::pipe(fds) != 0) throw std::runtime_error("pipe");
        std::fflush(nullptr);
        const pid_t child = ::fork();
        if (child == 0) {
            ::close(fds[0]);
            const pid_t gc = ::fork();
            if (gc == 0) {
                ::close(fds[1]);
                ::alarm(30);
                for (;;) ::pause();
            }
            (void)!::write(fds[1], &gc, sizeof gc);
            ::_exit(0);
        }
        ::close(fds[1]);
        int status = 0;
        ::waitpid(child, &status, 0);
        if (::read(fds[0], &pid_, sizeof pid_) != sizeof pid_) pid_ = -1;
        ::close(fds[0]);
        if (pid_ <= 0) throw std::runtime_error("no grandchild pid");
    }
    ~grandchild() { kill(); }
    grandchild(const grandchild&) = delete;
    grandchild& operator=(const grandchild&) = delete;
    pid_t pid() const noexcept { return pid_; }
    void kill() const { ::kill(pid_, SIGKILL); }
    /// The test process is not its parent: waitpid cannot see it.
    bool is_ours() const { return ::waitpid(pid_, nullptr, WNOHANG) != -1 || errno != ECHILD; }

private:
    pid_t pid_ = -1;
};

} // namespace

BOOST_AUTO_TEST_SUITE(process_watcher_tests)

BOOST_AUTO_TEST_CASE(completes_when_an_unrelated_process_dies) {
    grandchild gc;
    BOOST_TEST(!gc.is_ours());
    asio::io_context io;
    process_watcher w(io, gc.pid());
    BOOST_TEST(w.is_open());
    BOOST_TEST(w.pid() == gc.pid());
    BOOST_TEST(!w.exited());
    std::optional<error_code> result;
    w.async_wait([&](error_code ec) { result = ec; });
    io.run_for(20ms);
    BOOST_TEST(!result.has_value()); // still alive: nothing completes
    io.restart();
    gc.kill();
    io.run_for(10s); // returns as soon as the wait completes
    BOOST_REQUIRE(result.has_value());
    BOOST_TEST(!*result);
    BOOST_TEST(w.exited());
}

BOOST_AUTO_TEST_CASE(already_dead_child_completes_at_once) {
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    asio::io_context io;
    process_watcher w(io, pid); // a zombie: still there, already exited
    std::optional<error_code> result;
    w.async_wait([&](error_code ec) { result = ec; });
    io.run_for(10s);
    BOOST_REQUIRE(result.has_value());
    BOOST_TEST(!*result);
    ::waitpid(pid, nullptr, 0);
}

BOOST_AUTO_TEST_CASE(use_future_and_deferred_and_awaitable) {
    grandchild a, b, c;
    asio::io_context io;
    process_watcher wa(io, a.pid()), wb(io, b.pid()), wc(io, c.pid());
    auto fut = wa.async_wait(asio::use_future);
    std::optional<error_code> deferred_result;
    auto op = wb.async_wait(asio::deferred);
    std::move(op)([&](error_code ec) { deferred_result = ec; });
    std::optional<error_code> coro_result;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto [ec] = co_await wc.async_wait(asio::as_tuple(asio::use_awaitable));
            coro_result = ec;
        },
        asio::detached);
    std::thread runner([&] { io.run_for(10s); });
    a.kill();
    b.kill();
    c.kill();
    BOOST_TEST((fut.wait_for(10s) == std::future_status::ready));
    runner.join();
    BOOST_CHECK_NO_THROW(fut.get());
    BOOST_REQUIRE(deferred_result.has_value());
    BOOST_TEST(!*deferred_result);
    BOOST_REQUIRE(coro_result.has_value());
    BOOST_TEST(!*coro_result);
}

BOOST_AUTO_TEST_CASE(per_operation_cancellation) {
    grandchild gc;
    asio::io_context io;
    process_watcher w(io, gc.pid());
    asio::cancellation_signal sig;
    std::optional<error_code> result;
    w.async_wait(asio::bind_cancellation_slot(sig.slot(), [&](error_code ec) { result = ec; }));
    io.poll();
    BOOST_TEST(!result.has_value());
    sig.emit(asio::cancellation_type::terminal);
    io.run_for(10s);
    BOOST_REQUIRE(result.has_value());
    BOOST_TEST((*result == asio::error::operation_aborted));
    // The watcher still works after a cancelled wait.
    io.restart();
    std::optional<error_code> second;
    w.async_wait([&](error_code ec) { second = ec; });
    gc.kill();
    io.run_for(10s);
    BOOST_REQUIRE(second.has_value());
    BOOST_TEST(!*second);
}

BOOST_AUTO_TEST_CASE(cancel_and_close_abort_every_wait) {
    grandchild gc;
    asio::io_context io;
    process_watcher w(io, gc.pid());
    int aborted = 0;
    for (int i = 0; i < 3; ++i)
        w.async_wait([&](error_code ec) { aborted += ec == asio::error::operation_aborted; });
    w.cancel();
    io.run_for(10s);
    BOOST_TEST(aborted == 3);
    io.restart();
    w.async_wait([&](error_code ec) { aborted += ec == asio::error::operation_aborted; });
    w.close();
    BOOST_TEST(!w.is_open());
    BOOST_TEST(w.pid() == -1);
    io.run_for(10s);
    BOOST_TEST(aborted == 4);
}

BOOST_AUTO_TEST_CASE(errors) {
    asio::io_context io;
    process_watcher w(io);
    BOOST_TEST(!w.is_open());
    error_code ec;
    w.watch(0, ec);
    BOOST_TEST((ec == boost::system::errc::invalid_argument));
    BOOST_TEST(!w.is_open());
    // A PID that does not exist: a reaped child's.
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    ::waitpid(pid, nullptr, 0);
    w.watch(pid, ec);
    BOOST_TEST((ec == boost::system::errc::no_such_process));
    BOOST_TEST((ec == pipc::condition::existential));
    BOOST_TEST(!w.is_open());
    BOOST_CHECK_THROW(w.watch(pid), pipc::existential_error);
    w.exited(ec);
    BOOST_TEST((ec == pipc::errc::closed));
    std::optional<error_code> result;
    w.async_wait([&](error_code e) { result = e; });
    io.run_for(10s);
    BOOST_REQUIRE(result.has_value());
    BOOST_TEST((*result == asio::error::bad_descriptor));
}

BOOST_AUTO_TEST_SUITE_END()
