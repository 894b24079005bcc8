// SPDX-License-Identifier: BSL-1.0
#define BOOST_TEST_MODULE pipc wait_strategy
#include <boost/test/unit_test.hpp>

#include <pipc/wait_strategy.hpp>

#include <pipc_test/support.hpp>

#include <sched.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <thread>

using namespace std::chrono_literals;
using pipc::wait_strategy;

namespace {
// A step that never succeeds: every spin runs out of budget.
bool never() {
    return false;
}

// The calling thread's involuntary context switches so far.
long involuntary_switches() {
    ::rusage usage{};
    ::getrusage(RUSAGE_THREAD, &usage);
    return usage.ru_nivcsw;
}

void busy_for(std::chrono::microseconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
    }
}

// Pins the calling thread (and the threads it starts from then on) to one CPU.
bool pin_to_first_allowed_cpu() {
    ::cpu_set_t allowed;
    if (::sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return false;
    for (int c = 0; c < CPU_SETSIZE; ++c) {
        if (!CPU_ISSET(c, &allowed)) continue;
        ::cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(c, &set);
        return ::sched_setaffinity(0, sizeof(set), &set) == 0;
    }
    return false;
}

// A second thread on the caller's CPU (it inherits the pin), always runnable: a yield of the
// caller hands the CPU to it, which the kernel counts as an involuntary switch of the caller.
class same_cpu_rival {
public:
    same_cpu_rival()
        : thread_([this] {
              while (!stop_.load()) ::sched_yield();
          }) {}
    ~same_cpu_rival() {
        stop_ = true;
        thread_.join();
    }
    same_cpu_rival(const same_cpu_rival&) = delete;
    same_cpu_rival& operator=(const same_cpu_rival&) = delete;

    // Returns once the kernel has switched the caller out at least once (bounded by the
    // child process's watchdog).
    static void yield_until_preempted() {
        const long before = involuntary_switches();
        while (involuntary_switches() == before) ::sched_yield();
    }

private:
    std::atomic<bool> stop_{false};
    std::thread thread_;
};
} // namespace

BOOST_AUTO_TEST_CASE(block_never_spins_or_calls_the_step) {
    wait_strategy s;
    BOOST_TEST((s.type() == wait_strategy::kind::block));
    BOOST_TEST(s.current_budget().count() == 0);
    int calls = 0;
    BOOST_TEST(!s.spin_until([&] {
        ++calls;
        return true;
    }));
    BOOST_TEST(calls == 0);
}

BOOST_AUTO_TEST_CASE(spin_keeps_its_budget_and_returns_on_success) {
    auto s = wait_strategy::spin(5us);
    BOOST_TEST(s.current_budget() == 5us);
    int calls = 0;
    BOOST_TEST(s.spin_until([&] { return ++calls == 3; }));
    BOOST_TEST(calls == 3);
    for (int i = 0; i < 10; ++i) BOOST_TEST(!s.spin_until(never));
    BOOST_TEST(s.current_budget() == 5us); // a fixed spin never learns
    BOOST_TEST(wait_strategy::spin(-1s).current_budget().count() == 0);
    BOOST_TEST(wait_strategy::spin(1h).max_budget() == 1s); // clamped
}

BOOST_AUTO_TEST_CASE(adaptive_collapses_after_unrewarded_spins) {
    auto s = wait_strategy::adaptive(4us, 2);
    BOOST_TEST(!s.single_cpu());
    BOOST_TEST(s.current_budget().count() > 0);
    for (unsigned i = 0; i < wait_strategy::collapse_after; ++i) {
        BOOST_TEST(!s.collapsed());
        BOOST_TEST(!s.spin_until(never));
    }
    BOOST_TEST(s.collapsed());
    // Collapsed: most waits do not spin at all (the step is not even tried), a few probe, and
    // the probes grow rarer as they keep failing.
    int probing_waits = 0;
    for (int waits = 0; waits < 256; ++waits) {
        bool tried = false;
        s.spin_until([&] {
            tried = true;
            return false;
        });
        probing_waits += tried ? 1 : 0;
    }
    BOOST_TEST(probing_waits > 0);
    BOOST_TEST(probing_waits < 256 / 8);
    BOOST_TEST(s.collapsed());
}

BOOST_AUTO_TEST_CASE(adaptive_probe_that_pays_restores_spinning) {
    auto s = wait_strategy::adaptive(4us, 2);
    for (unsigned i = 0; i < wait_strategy::collapse_after; ++i) s.spin_until(never);
    BOOST_TEST(s.collapsed());
    // The next waits include a probe within 2^max_probe_shift tries; make it succeed.
    for (unsigned i = 0; i < (1U << wait_strategy::max_probe_shift) && s.collapsed(); ++i)
        s.spin_until([] { return true; });
    BOOST_TEST(!s.collapsed());
    BOOST_TEST(s.current_budget().count() > 0);
}

BOOST_AUTO_TEST_CASE(adaptive_budget_follows_rewarded_spins) {
    auto s = wait_strategy::adaptive(20us, 2);
    const auto before = s.current_budget();
    for (int i = 0; i < 64; ++i) s.record(true, 100ns);
    const auto after = s.current_budget();
    BOOST_TEST(after.count() < before.count());
    BOOST_TEST(after.count() <= 2 * 110 + 500); // moved towards 2 x 100 ns + the floor
    for (int i = 0; i < 64; ++i) s.record(true, 1s);
    BOOST_TEST(s.current_budget() == 20us); // never above the maximum
}

BOOST_AUTO_TEST_CASE(adaptive_spins_full_budget_after_a_miss) {
    // A miss sends the peer a slow answer back: the next spin must outlast a kernel wake-up,
    // not the short learned budget, or two adaptive peers ping-pong misses until both collapse.
    auto s = wait_strategy::adaptive(20us, 2);
    for (int i = 0; i < 64; ++i) s.record(true, 100ns);
    BOOST_TEST(s.current_budget() < 20us);
    s.record(false, s.current_budget());
    BOOST_TEST(!s.collapsed());
    BOOST_TEST(s.current_budget() == 20us);
    s.record(true, 100ns); // served: back to the learned budget
    BOOST_TEST(s.current_budget() < 20us);
}

BOOST_AUTO_TEST_CASE(adaptive_never_spins_on_one_cpu) {
    auto s = wait_strategy::adaptive(20us, 1);
    BOOST_TEST(s.single_cpu());
    BOOST_TEST(s.current_budget().count() == 0);
    int calls = 0;
    BOOST_TEST(!s.spin_until([&] {
        ++calls;
        return true;
    }));
    BOOST_TEST(calls == 0);
}

BOOST_AUTO_TEST_CASE(adaptive_counts_the_systems_cpus_not_the_threads_affinity) {
    // A thread pinned to one CPU may still have its peer on another one: the default counts the
    // CPUs online in the system, so the pinned thread spins (and learns from the outcomes) unless
    // the whole system has a single CPU.
    const unsigned online = pipc::detail::online_cpu_count();
    BOOST_TEST(online >= 1U);
    pipc_test::child_process child([online] {
        ::cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(0, &set);
        if (::sched_setaffinity(0, sizeof(set), &set) != 0) return false;
        const auto s = wait_strategy::adaptive();
        if (online <= 1) return s.single_cpu() && s.current_budget().count() == 0;
        return !s.single_cpu() && s.current_budget().count() > 0;
    });
    BOOST_TEST(child.succeeded());
    BOOST_TEST(wait_strategy::adaptive().single_cpu() == (online <= 1));
}

BOOST_AUTO_TEST_CASE(copies_keep_the_learned_state) {
    auto s = wait_strategy::adaptive(4us, 2);
    for (unsigned i = 0; i < wait_strategy::collapse_after; ++i) s.spin_until(never);
    const wait_strategy copy = s;
    BOOST_TEST(copy.collapsed());
    wait_strategy assigned;
    assigned = s;
    BOOST_TEST(assigned.collapsed());
    BOOST_TEST((assigned.type() == wait_strategy::kind::adaptive));
}

BOOST_AUTO_TEST_CASE(adaptive_counts_a_spin_served_after_a_preemption_as_a_miss) {
    // A step served only after one long gap between tries, during which the spinner was
    // preempted, looks like a spinner whose peer ran on its CPU meanwhile: that proves nothing,
    // so it is a miss. The preemption is real: a second thread on the same CPU takes it over.
    pipc_test::child_process child([] {
        if (!pin_to_first_allowed_cpu()) return false;
        same_cpu_rival rival;
        auto s = wait_strategy::adaptive(1s, 2);
        bool ok = true;
        for (unsigned i = 0; i < wait_strategy::collapse_after && ok; ++i) {
            ok = !s.collapsed();
            int calls = 0;
            ok = ok && s.spin_until([&] {
                if (++calls == 1) return false;
                // Off the CPU while the rival runs, then a gap far past descheduled_gap_ns.
                same_cpu_rival::yield_until_preempted();
                busy_for(50us);
                return true;
            });
        }
        return ok && s.collapsed();
    });
    BOOST_TEST(child.succeeded());
}

BOOST_AUTO_TEST_CASE(adaptive_counts_a_long_gap_without_preemption_as_a_spin_that_paid) {
    // The same long gap with the thread never taken off its CPU by the kernel (on a VM: the
    // hypervisor's steal time) means the peer ran elsewhere: the spin paid. A loaded machine may
    // preempt the test thread anyway; such attempts prove nothing and are tried again.
    int clean_attempts = 0;
    for (int attempt = 0; attempt < 50 && clean_attempts < 3; ++attempt) {
        auto s = wait_strategy::adaptive(1s, 2);
        pipc::detail::preempted_since_last_check(); // this thread's earlier history is not ours
        const long before = involuntary_switches();
        bool served = true;
        for (unsigned i = 0; i < wait_strategy::collapse_after; ++i) {
            int calls = 0;
            served = s.spin_until([&] {
                if (++calls == 1) return false;
                busy_for(50us);
                return true;
            }) && served;
        }
        if (involuntary_switches() != before) continue;
        ++clean_attempts;
        BOOST_TEST(served);
        BOOST_TEST(!s.collapsed());
        BOOST_TEST(s.current_budget() < 1s); // rewarded: the estimate moved towards the short wait
    }
    BOOST_TEST(clean_attempts > 0);
}

BOOST_AUTO_TEST_CASE(preempted_since_last_check_reports_each_preemption_once) {
    pipc_test::child_process child([] {
        if (!pin_to_first_allowed_cpu()) return false;
        pipc::detail::preempted_since_last_check();
        {
            same_cpu_rival rival;
            same_cpu_rival::yield_until_preempted();
        }
        const long first = involuntary_switches();
        const bool seen = pipc::detail::preempted_since_last_check();
        const bool again = pipc::detail::preempted_since_last_check();
        // A second report needs a new preemption between the two calls (rare, and then the
        // count moved); otherwise the one already reported is not reported again.
        return seen && (!again || involuntary_switches() != first);
    });
    BOOST_TEST(child.succeeded());
}
