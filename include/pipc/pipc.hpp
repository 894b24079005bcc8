// SPDX-License-Identifier: BSL-1.0
// pipc/pipc.hpp - the blocking core of pipc: semaphores, shared memory, message queues.
// The Boost.Asio layer lives in <pipc/asio.hpp>.
#pragma once

#include <pipc/channel.hpp>
#include <pipc/error.hpp>
#include <pipc/inspect.hpp>
#include <pipc/limits.hpp>
#include <pipc/log.hpp>
#include <pipc/mapping.hpp>
#include <pipc/message_queue.hpp>
#include <pipc/name.hpp>
#include <pipc/open_mode.hpp>
#include <pipc/robust_mutex.hpp>
#include <pipc/semaphore.hpp>
#include <pipc/shared_memory.hpp>
#include <pipc/version.hpp>
#include <pipc/wait_strategy.hpp>

/// POSIX IPC for modern C++: named message queues, semaphores and shared memory as blocking RAII
/// objects (<pipc/pipc.hpp>) and as Boost.Asio I/O objects (<pipc/asio.hpp>).
namespace pipc {}
