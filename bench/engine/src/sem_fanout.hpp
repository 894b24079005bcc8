// SPDX-License-Identifier: BSL-1.0
// The sem-fanout scenario: async semaphore wake-up latency against the number of semaphores
// with waiters in one io_context.
#pragma once

#include <pipc_bench/engine.hpp>

#include <string>

namespace pipc_bench::detail {

/// Runs `--scenario sem-fanout`; returns the exit code like run().
int run_sem_fanout(const options& o, const std::string& command_line);

} // namespace pipc_bench::detail
