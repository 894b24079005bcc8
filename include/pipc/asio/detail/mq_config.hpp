// SPDX-License-Identifier: BSL-1.0
// pipc/asio/detail/mq_config.hpp - which way an async_message_queue waits in the reactor.
#pragma once

#include <boost/asio/detail/config.hpp>
#include <boost/asio/version.hpp>

// Asio before 1.27 (Boost 1.81 ships 1.26) takes io_uring submission entries without clearing
// their user data, so the completion of its own cancellation reaches another operation: a wait
// pipc cancels can stay pending for good (docs/asio-message-queue.md). Refused here rather than
// left to hang at run time.
#if defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT) && BOOST_ASIO_VERSION < 102700
#error "pipc: Asio's io_uring backend needs Asio 1.27 (Boost 1.82) or newer; this Asio loses \
cancellations (chriskohlhoff/asio PR #1215). Keep the epoll reactor or use a newer Boost."
#endif

// Two ways to wait, chosen at compile time:
// - the reactor path (default on the epoll reactor): reactor operations of our own that perform
//   the queue call under the reactor's descriptor lock, through Asio's private detail::reactor
//   (mq_reactor_op.hpp). Fastest, but that API exists only in this shape for epoll_reactor.
// - the public path: posix::stream_descriptor::async_wait plus the non-blocking call, ordered by
//   tickets (mq_wait_op.hpp). Works on every reactor Asio has (select, io_uring, ...).
// Define PIPC_ASIO_PUBLIC_REACTOR_PATH to force the public path; it is defined here whenever the
// executor's reactor is not epoll (-DBOOST_ASIO_DISABLE_EPOLL, io_uring as Asio's backend).
#if !defined(PIPC_ASIO_PUBLIC_REACTOR_PATH)
#if !defined(BOOST_ASIO_HAS_EPOLL) || defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
#define PIPC_ASIO_PUBLIC_REACTOR_PATH 1
#endif
#endif

// The two paths give the queue's types different definitions. An inline namespace per path keeps
// translation units built with different choices from violating the one-definition rule when
// they are linked together (the bench compares both paths in one binary).
#if defined(PIPC_ASIO_PUBLIC_REACTOR_PATH)
#define PIPC_ASIO_MQ_PATH_NAMESPACE mq_public_path
#else
#define PIPC_ASIO_MQ_PATH_NAMESPACE mq_reactor_path
#endif

// Boost 1.82 (Asio 1.28) added associated immediate executors.
#if BOOST_ASIO_VERSION >= 102800
#define PIPC_ASIO_HAS_IMMEDIATE_EXECUTOR 1
#endif
