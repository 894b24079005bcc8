// SPDX-License-Identifier: BSL-1.0
// pipc/asio/process_watcher.hpp - an Asio I/O object that completes when a process exits.
#pragma once

#include <pipc/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <poll.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <type_traits>
#include <utility>

namespace pipc {

namespace detail {
#ifdef SYS_pidfd_open
inline constexpr long pidfd_open_syscall = SYS_pidfd_open;
#else
inline constexpr long pidfd_open_syscall = 434; // the same number on every Linux architecture
#endif
} // namespace detail

/// Watches one process, any process (not only a child of ours), and completes a wait when it
/// exits: the way a server learns that a client holding a lock or a queue died, next to its
/// other asynchronous work.
///
/// It holds a pidfd (pidfd_open, Linux 5.3) in a `posix::basic_stream_descriptor`; the kernel
/// makes a pidfd readable once the process has terminated, so waiting costs no thread and no
/// polling. A pidfd names one process, never a later process that reuses the PID: pass a PID
/// you know is alive (or hold the pidfd from before it could be reaped), and `watch` fails with
/// ESRCH (condition::existential) when that PID does not exist.
///
/// Termination means the whole process (all threads) ended; a child of ours is reported when it
/// becomes a zombie, before anyone reaps it. Watching does not reap.
///
/// @par Thread safety
/// Distinct objects: safe. Shared object: unsafe, as for any Asio I/O object (use a strand).
///
/// @par Exception safety
/// `watch` and `exited` have `error_code&` twins. A watch that fails for a bad or missing PID
/// (or any pidfd_open error) leaves the object as it was; only a failure to register the new
/// pidfd with the reactor, after the old one was closed, leaves the object closed.
template <class Executor = boost::asio::any_io_executor>
class basic_process_watcher {
public:
    /// The type of the executor the object's waits complete on by default.
    using executor_type = Executor;

    /// Rebinds the watcher type to another executor (for `as_default_on` and friends).
    template <class Executor1>
    struct rebind_executor {
        using other = basic_process_watcher<Executor1>; ///< The rebound type.
    };

    /// @{
    /// A watcher of no process yet on `ex` (or on `ctx`'s executor); call watch().
    explicit basic_process_watcher(const executor_type& ex) : descriptor_(ex) {}
    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
    explicit basic_process_watcher(ExecutionContext& ctx) : descriptor_(ctx) {}
    /// @}

    /// @{
    /// Watches `pid` from the start. @throws pipc::error as watch() fails: EINVAL for
    /// pid <= 0, ESRCH (condition::existential) when no such process exists.
    basic_process_watcher(const executor_type& ex, ::pid_t pid) : descriptor_(ex) { watch(pid); }
    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
    basic_process_watcher(ExecutionContext& ctx, ::pid_t pid) : descriptor_(ctx) {
        watch(pid);
    }
    /// @}

    /// Takes over `other`'s pidfd and pending waits (they still complete); `other` watches
    /// nothing afterwards.
    basic_process_watcher(basic_process_watcher&& other) noexcept
        : descriptor_(std::move(other.descriptor_)), pid_(std::exchange(other.pid_, -1)) {}
    /// Closes this watcher's pidfd (its pending waits complete with operation_aborted), then
    /// takes over `other`'s pidfd and pending waits; `other` watches nothing afterwards.
    basic_process_watcher& operator=(basic_process_watcher&& other) noexcept {
        if (this != &other) {
            descriptor_ = std::move(other.descriptor_);
            pid_ = std::exchange(other.pid_, -1);
        }
        return *this;
    }
    basic_process_watcher(const basic_process_watcher&) = delete;
    basic_process_watcher& operator=(const basic_process_watcher&) = delete;
    /// Pending waits complete with operation_aborted.
    ~basic_process_watcher() = default;

    /// The executor the object's waits complete on by default.
    executor_type get_executor() noexcept { return descriptor_.get_executor(); }
    /// True while a process is watched (between a successful watch and close or a move away);
    /// stays true after the process exited, so the exit can still be waited for.
    bool is_open() const noexcept { return descriptor_.is_open(); }
    /// The watched PID, or -1.
    ::pid_t pid() const noexcept { return pid_; }
    /// The pidfd, or -1.
    int native_handle() noexcept { return is_open() ? descriptor_.native_handle() : -1; }

    /// @{
    /// Starts watching `pid` instead of the process watched so far, whose pending waits
    /// complete with operation_aborted. The pidfd is opened before anything else changes, so
    /// EINVAL (pid <= 0), ESRCH (condition::existential: no such process) and the other
    /// pidfd_open errors (ENOSYS before Linux 5.3, EMFILE, ...) leave the object as it was.
    /// @throws pipc::error (the `ec` form sets `ec` instead).
    void watch(::pid_t pid, error_code& ec) {
        ec = {};
        if (pid <= 0) {
            ec = error_code(EINVAL, boost::system::system_category());
            return;
        }
        const long fd = ::syscall(detail::pidfd_open_syscall, pid, 0);
        if (fd < 0) {
            ec = error_code(errno, boost::system::system_category());
            return;
        }
        error_code ignored;
        descriptor_.close(ignored);
        descriptor_.assign(static_cast<int>(fd), ec);
        if (ec) {
            ::close(static_cast<int>(fd));
            pid_ = -1;
            return;
        }
        pid_ = pid;
    }
    void watch(::pid_t pid) {
        error_code ec;
        watch(pid, ec);
        if (ec) throw_error(ec, "process_watcher::watch " + std::to_string(pid));
    }
    /// @}

    /// @{
    /// True when the watched process has exited: a non-blocking poll of the pidfd, for a
    /// check before or without waiting. Watching nothing is errc::closed; a failed poll its
    /// errno (false in the `ec` form). @throws pipc::error (the `ec` form sets `ec` instead).
    bool exited(error_code& ec) {
        ec = {};
        if (!is_open()) {
            ec = make_error_code(errc::closed);
            return false;
        }
        ::pollfd p{descriptor_.native_handle(), POLLIN, 0};
        int rc = 0;
        do rc = ::poll(&p, 1, 0);
        while (rc < 0 && errno == EINTR);
        if (rc < 0) {
            ec = error_code(errno, boost::system::system_category());
            return false;
        }
        return rc == 1;
    }
    bool exited() {
        error_code ec;
        const bool e = exited(ec);
        if (ec) throw_error(ec, "process_watcher::exited " + std::to_string(pid_));
        return e;
    }
    /// @}

    /// Waits until the watched process has exited. Completes at once if it already has (as
    /// Asio's descriptor waits do: never inside this call, through the reactor). Any number of
    /// waits may be pending; all complete.
    ///
    /// @param token The completion token (a callback, use_awaitable, deferred, use_future,
    /// as_tuple(...), ...); the default is the executor's default token.
    ///
    /// @par Completion Signature
    /// @code void(pipc::error_code ec) @endcode
    /// `ec` is empty when the process has exited; boost::asio::error::operation_aborted when
    /// cancelled or the watcher was closed; boost::asio::error::bad_descriptor when nothing is
    /// watched.
    ///
    /// @par Per-Operation Cancellation
    /// Supports @c terminal, @c partial and @c total (the reactor's wait): a cancelled wait
    /// completes with operation_aborted and has no effect on the process or the watcher.
    /// Coroutines (use_awaitable) pass only terminal cancellation unless their filter is reset.
    ///
    /// @par Thread safety
    /// Not concurrently with any other call on this object (use a strand).
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(error_code))
                  Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_wait(Token&& token = Token()) {
        return descriptor_.async_wait(boost::asio::posix::descriptor_base::wait_read,
                                      std::forward<Token>(token));
    }

    /// Aborts every pending wait (operation_aborted); the process stays watched. Never fails.
    void cancel() {
        error_code ignored;
        descriptor_.cancel(ignored);
    }
    /// Aborts pending waits (operation_aborted) and closes the pidfd; pid() becomes -1. The
    /// watched process is not affected. Never fails; closing a closed watcher does nothing.
    void close() {
        error_code ignored;
        descriptor_.close(ignored);
        pid_ = -1;
    }

private:
    boost::asio::posix::basic_stream_descriptor<Executor> descriptor_;
    ::pid_t pid_ = -1;
};

/// basic_process_watcher on boost::asio::any_io_executor.
using process_watcher = basic_process_watcher<>;

} // namespace pipc
