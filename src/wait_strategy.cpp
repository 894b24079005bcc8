// SPDX-License-Identifier: BSL-1.0
#include <pipc/wait_strategy.hpp>

#include <sched.h>

namespace pipc::detail {

unsigned allowed_cpu_count() noexcept {
    ::cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof(set), &set) != 0) return 1; // unknown: do not spin
    const int n = CPU_COUNT(&set);
    return n > 0 ? static_cast<unsigned>(n) : 1U;
}

} // namespace pipc::detail
