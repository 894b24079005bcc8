// SPDX-License-Identifier: BSL-1.0
// src/helper_thread.hpp - a thread pipc starts for itself (the semaphore waiter service's helpers,
// the async robust mutex's holder). It is started through sys().pthread_create, so that tests can
// make the start fail, and joined at most once. Internal; not installed.
#pragma once

#include "log_internal.hpp"
#include "sys.hpp"

#include <pthread.h>

#include <utility>

namespace pipc::detail {

struct helper_thread {
    ::pthread_t id{};
    bool joinable = false;
};

/// Starts `main(arg)` in a new thread. Returns 0, or the error of the failed start (then
/// nothing was started).
inline int start_helper_thread(helper_thread& t, void* (*main)(void*), void* arg) noexcept {
    ::pthread_t id{};
    if (const int err = sys().pthread_create(&id, nullptr, main, arg); err != 0) return err;
    t = helper_thread{id, true};
    return 0;
}

/// Joins `t` if it was started and not joined yet.
inline void join(helper_thread& t) noexcept {
    if (!std::exchange(t.joinable, false)) return;
    if (const int err = ::pthread_join(t.id, nullptr); err != 0)
        log_debug("joining a pipc helper thread failed: errno {}", err);
}

} // namespace pipc::detail
