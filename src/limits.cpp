// SPDX-License-Identifier: BSL-1.0
#include <pipc/limits.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <climits>
#include <fstream>
#include <mqueue.h>
#include <semaphore.h>
#include <string>

namespace pipc {
namespace {
std::optional<long> read_proc_long(const char* path) {
    std::ifstream in(path);
    long value = 0;
    if (in >> value) return value;
    return std::nullopt;
}
} // namespace

long page_size() noexcept {
    return ::sysconf(_SC_PAGESIZE);
}

long semaphore_value_max() noexcept {
    const long v = ::sysconf(_SC_SEM_VALUE_MAX);
    return v > 0 ? v : SEM_VALUE_MAX;
}

long message_priority_max() noexcept {
    const long v = ::sysconf(_SC_MQ_PRIO_MAX);
    return v > 0 ? v : MQ_PRIO_MAX;
}

mqueue_limits read_mqueue_limits() {
    return {
        read_proc_long("/proc/sys/fs/mqueue/msg_max"),
        read_proc_long("/proc/sys/fs/mqueue/msg_default"),
        read_proc_long("/proc/sys/fs/mqueue/msgsize_max"),
        read_proc_long("/proc/sys/fs/mqueue/msgsize_default"),
        read_proc_long("/proc/sys/fs/mqueue/queues_max"),
    };
}

rlimit_value read_rlimit_msgqueue() noexcept {
    ::rlimit rl{};
    rlimit_value out;
    if (::getrlimit(RLIMIT_MSGQUEUE, &rl) != 0) return out;
    out.soft_unlimited = rl.rlim_cur == RLIM_INFINITY;
    out.hard_unlimited = rl.rlim_max == RLIM_INFINITY;
    out.soft = out.soft_unlimited ? 0 : rl.rlim_cur;
    out.hard = out.hard_unlimited ? 0 : rl.rlim_max;
    return out;
}

} // namespace pipc
