// SPDX-License-Identifier: BSL-1.0
// pipc/asio.hpp - the Boost.Asio layer: message queues, semaphores and channels as Asio I/O
// objects.
// The blocking core (<pipc/pipc.hpp>) knows nothing of Asio; this layer wraps it.
#pragma once

#include <pipc/asio/async_channel.hpp>
#include <pipc/asio/async_message_queue.hpp>
#include <pipc/asio/async_robust_mutex.hpp>
#include <pipc/asio/async_semaphore.hpp>
#include <pipc/asio/process_watcher.hpp>
#include <pipc/asio/semaphore_waiter_service.hpp>
#include <pipc/pipc.hpp>
