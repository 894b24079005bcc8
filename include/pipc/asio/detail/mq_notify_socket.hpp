// SPDX-License-Identifier: BSL-1.0
// pipc/asio/detail/mq_notify_socket.hpp - the kernel's SIGEV_THREAD protocol for mq_notify,
// spoken directly so that a reactor can watch it: no glibc helper thread, no signal.
#pragma once

#include <pipc/error.hpp>

#include <mqueue.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace pipc::detail {

// Linux implements SIGEV_THREAD for mq_notify by queueing a 32-byte cookie on a netlink socket
// named in sigev_signo; the last byte says why (1: the queue went empty -> non-empty, 2: the
// registration was removed by mq_notify(NULL) or by this process closing a descriptor of the
// queue). glibc and musl start a thread that blocks in recv() on that socket; we give the socket
// to the reactor instead. This is the kernel's stable ABI (ipc/mqueue.c, do_mq_notify), only
// documented by the libc sources (glibc sysdeps/unix/sysv/linux/mq_notify.c, musl src/mq).
inline constexpr std::size_t mq_notify_cookie_size = 32;

inline error_code last_errno() noexcept {
    return {errno, boost::system::system_category()};
}

/// A non-blocking netlink socket to receive notification cookies on; -1 and `ec` on failure.
inline int open_mq_notify_socket(error_code& ec) noexcept {
    ec = {};
    const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) ec = last_errno();
    return fd;
}

/// Registers this process for one notification of `mqd`, delivered as a cookie on `sock`.
/// EBUSY (condition::busy) when any process, this one included, is registered already.
inline error_code arm_mq_notify(::mqd_t mqd, int sock) noexcept {
    unsigned char cookie[mq_notify_cookie_size] = {}; // copied by the kernel during the call
    ::sigevent sev{};
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_signo = sock;
    sev.sigev_value.sival_ptr = cookie;
    if (::syscall(SYS_mq_notify, mqd, &sev) != 0) return last_errno();
    return {};
}

/// Removes this process's registration, if it holds one (the kernel ignores the call otherwise).
inline void disarm_mq_notify(::mqd_t mqd) noexcept {
    ::syscall(SYS_mq_notify, mqd, nullptr);
}

/// Reads one cookie if one is waiting; true if it did. One registration yields at most one
/// cookie, so after a registration this is all a reader needs (one system call, not two).
inline bool take_mq_notify_cookie(int sock) noexcept {
    unsigned char cookie[mq_notify_cookie_size];
    for (;;) {
        if (::recv(sock, cookie, sizeof cookie, MSG_DONTWAIT) >= 0) return true;
        if (errno != EINTR) return false;
    }
}

} // namespace pipc::detail
