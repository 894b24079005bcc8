// SPDX-License-Identifier: BSL-1.0
#include <pipc/wait_strategy.hpp>

#include <unistd.h>

namespace pipc::detail {

unsigned online_cpu_count() noexcept {
    // The system's CPUs, not sched_getaffinity(): the waiter's own mask says nothing about where
    // its peer (another thread or process) runs. Unknown counts as one CPU: do not spin.
    const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<unsigned>(n) : 1U;
}

} // namespace pipc::detail
