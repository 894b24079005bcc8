// SPDX-License-Identifier: BSL-1.0
// tests/common/pipc_test/asio_run.hpp - running an io_context in an Asio test with a watchdog.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>

namespace pipc_test {

/// Runs `ctx` until `done()` holds or `bound` passes (the watchdog); false on timeout. Restarts
/// a context that ran out of work, so a test can run it again after each step.
template <class Pred>
bool run_until(boost::asio::io_context& ctx, Pred done,
               std::chrono::milliseconds bound = std::chrono::seconds(20)) {
    const auto until = std::chrono::steady_clock::now() + bound;
    ctx.restart();
    while (!done()) {
        if (std::chrono::steady_clock::now() > until) return false;
        ctx.run_one_for(std::chrono::milliseconds(50));
        if (ctx.stopped()) ctx.restart();
    }
    return true;
}

/// Runs `ctx` until it runs out of work (or is stopped), for at most `bound` (the watchdog);
/// false when the bound passed with work left, e.g. an operation that never completes.
inline bool run_to_completion(boost::asio::io_context& ctx,
                              std::chrono::seconds bound = std::chrono::seconds(60)) {
    ctx.run_for(bound);
    return ctx.stopped();
}

} // namespace pipc_test
