// SPDX-License-Identifier: BSL-1.0
// pipc/asio/mq_backend.hpp - how an async_message_queue learns that it may proceed.
#pragma once

namespace pipc {

/// How an async_message_queue learns that it may proceed. Chosen per object.
enum class mq_backend {
    /// The default on Linux: the mqd_t itself is pollable, so receives wait for readability and
    /// sends for writability in the executor's reactor. No thread, no signal, no mq_notify.
    descriptor,
    /// For systems whose queue descriptor cannot be polled: receives wait for an mq_notify
    /// notification, which the kernel delivers as a cookie on a netlink socket that the reactor
    /// watches (the kernel protocol behind SIGEV_THREAD, without glibc's thread per event).
    /// The kernel allows one registered process per queue: another process's registration makes
    /// a receive that has to wait fail with EBUSY (condition::busy). Sends cannot be notified
    /// ("not full" has no notification): a send that finds the queue full retries on a timer
    /// with capped exponential back-off (50 us doubling to 5 ms).
    notify,
};

} // namespace pipc
