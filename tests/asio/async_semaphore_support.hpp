// SPDX-License-Identifier: BSL-1.0
// tests/asio/async_semaphore_support.hpp - helpers shared by the async_semaphore tests.
#pragma once

#include <pipc/asio/async_semaphore.hpp>
#include <pipc_test/asio_run.hpp>
#include <pipc_test/support.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdlib>
#include <string>

namespace sem_test {

namespace asio = boost::asio;
using pipc::error_code;

inline pipc::semaphore::options create_opts(unsigned initial = 0) {
    pipc::semaphore::options o;
    o.open = pipc::open_mode::create_exclusive;
    o.initial_value = initial;
    return o;
}

using pipc_test::run_until;

/// Scales iteration counts down under sanitizers: PIPC_STRESS_DIVISOR=10 runs a tenth.
inline long scaled(long n) {
    if (const char* d = std::getenv("PIPC_STRESS_DIVISOR")) {
        const long div = std::atol(d);
        if (div > 1) return n / div;
    }
    return n;
}

} // namespace sem_test
