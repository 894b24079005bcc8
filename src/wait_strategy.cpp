// SPDX-License-Identifier: BSL-1.0
#include <pipc/wait_strategy.hpp>

#include <sys/resource.h>
#include <unistd.h>

namespace pipc::detail {

unsigned online_cpu_count() noexcept {
    // The system's CPUs, not sched_getaffinity(): the waiter's own mask says nothing about where
    // its peer (another thread or process) runs. Unknown counts as one CPU: do not spin.
    const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<unsigned>(n) : 1U;
}

bool preempted_since_last_check() noexcept {
    // Not through the system-call table: RUSAGE_THREAD on the calling thread cannot fail but
    // for a bad pointer, and there is no fault of the environment to inject.
    thread_local long last_seen = 0;
    ::rusage usage{};
    if (::getrusage(RUSAGE_THREAD, &usage) != 0) return true; // unknown: assume the worst
    const bool preempted = usage.ru_nivcsw != last_seen;
    last_seen = usage.ru_nivcsw;
    return preempted;
}

} // namespace pipc::detail
