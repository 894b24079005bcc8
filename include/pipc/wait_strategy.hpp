// SPDX-License-Identifier: BSL-1.0
// pipc/wait_strategy.hpp - how a blocking call waits: block at once, spin then block, or adapt.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <pipc/export.hpp>

namespace pipc {

namespace detail {
/// Number of CPUs online in the system (sysconf(_SC_NPROCESSORS_ONLN)); 1 if it cannot be read.
/// Not this thread's affinity: a thread pinned to one CPU may wait for a peer on another one.
PIPC_API unsigned online_cpu_count() noexcept;

/// True when the calling thread was preempted (an involuntary context switch: the kernel ran
/// another task on its CPU while it was runnable) since this thread's previous call, or since
/// it started at its first call. One getrusage(RUSAGE_THREAD) system call. A virtual CPU that
/// the hypervisor took away (steal time) is not a preemption: no other task of this system ran.
PIPC_API bool preempted_since_last_check() noexcept;

/// One CPU "pause": tells the core (and an SMT sibling) that this is a spin loop.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    asm volatile("yield" ::: "memory");
#else
    std::atomic_signal_fence(std::memory_order_seq_cst);
#endif
}
} // namespace detail

/// How a blocking call waits before it sleeps in the kernel, chosen per object.
///
/// - `block()` (the default): sleep at once. No CPU is spent waiting; a wake-up across CPUs costs
///   what the kernel's wake-up costs (tens of microseconds on a VM).
/// - `spin(budget)`: retry the non-blocking step with the CPU's pause instruction for up to
///   `budget`, then sleep. Costs up to `budget` of CPU per wait that is not served in time; pays
///   when the peer runs on another CPU and answers within the budget.
/// - `adaptive(max_budget)`: spins like `spin`, but only while spinning has recently been rewarded,
///   in the spirit of glibc's adaptive mutexes. Each wait served while spinning moves the budget
///   towards twice the time it took (a moving average, never above `max_budget`); a spin that
///   follows a miss uses `max_budget` (the peer may answer only after its own kernel wake-up);
///   after `collapse_after` consecutive spins that ran out of budget the budget collapses to zero,
///   and from then on only every 2^k-th wait (k growing to 6) probes with a spin of `max_budget`,
///   so a peer that moved to another CPU is noticed again. Callers try once before they spin: a
///   wait served by its first try says nothing about spinning and is not fed back. When the system
///   has a single CPU online (read when the strategy is made), it never spins: no peer can run
///   while this thread spins. The waiting thread's own affinity is not consulted: a thread pinned
///   to one CPU may wait for a peer pinned to another (where spinning pays most), so whether a peer
///   shares the CPU is learned from the outcomes (a peer on the same CPU answers only once the
///   spinner gives the CPU up, so its spins run out and the strategy collapses).
///
/// @par Thread safety
/// The learned state of `adaptive` is kept in relaxed atomics: concurrent waiters on one object
/// are safe and only make the estimate noisier. Copies copy the configuration and the state seen.
class PIPC_API wait_strategy {
public:
    /// Which of the three strategies this is (type()).
    enum class kind {
        block,   ///< Sleep at once.
        spin,    ///< Spin for a fixed budget, then sleep.
        adaptive ///< Spin for a learned budget, then sleep.
    };

    /// Consecutive unrewarded spins after which `adaptive` stops spinning.
    static constexpr unsigned collapse_after = 4;
    /// Largest probing interval of a collapsed `adaptive` strategy is 2^max_probe_shift waits.
    static constexpr unsigned max_probe_shift = 6;
    /// A spin served after a gap this long between two tries (and that gap most of the spin) may
    /// have been descheduled meanwhile: if the thread was indeed preempted
    /// (detail::preempted_since_last_check()), `adaptive` counts it as a miss, not as a spin that
    /// paid.
    static constexpr std::int64_t descheduled_gap_ns = 2000;

    /// Sleep at once (no spinning). This is what every object did before strategies existed.
    constexpr wait_strategy() noexcept = default;

    /// Sleep at once: the right choice when CPUs are shared or scarce, as spinning then only
    /// steals time from the peer it waits for.
    static wait_strategy block() noexcept { return {}; }
    /// Spin for up to `budget` (negative counts as zero), then block.
    static wait_strategy spin(std::chrono::nanoseconds budget = std::chrono::microseconds(20)) {
        wait_strategy s;
        s.kind_ = kind::spin;
        s.max_budget_ns_ = clamp(budget);
        s.estimate_ns_.store(s.max_budget_ns_, std::memory_order_relaxed);
        return s;
    }
    /// Spin adaptively for up to `max_budget`, then block; never spins when the system has a
    /// single CPU online (detail::online_cpu_count(), not this thread's affinity).
    static wait_strategy
    adaptive(std::chrono::nanoseconds max_budget = std::chrono::microseconds(20)) {
        return adaptive(max_budget, detail::online_cpu_count());
    }
    /// As above with the number of CPUs the waiter and its peer may share given: 1 (or 0) never
    /// spins, e.g. for a caller that knows both sides are confined to one CPU.
    static wait_strategy adaptive(std::chrono::nanoseconds max_budget, unsigned cpus) {
        wait_strategy s;
        s.kind_ = kind::adaptive;
        s.max_budget_ns_ = clamp(max_budget);
        s.single_cpu_ = cpus <= 1;
        // Start optimistic at half the maximum: the first waits tell whether spinning pays.
        s.estimate_ns_.store(s.max_budget_ns_ / 2, std::memory_order_relaxed);
        return s;
    }

    /// Copies the configuration and the learned state as seen now (field by field: a copy made
    /// while `o` is in use may mix two moments, which only makes the estimate noisier).
    wait_strategy(const wait_strategy& o) noexcept
        : kind_(o.kind_), single_cpu_(o.single_cpu_), max_budget_ns_(o.max_budget_ns_),
          estimate_ns_(o.estimate_ns_.load(std::memory_order_relaxed)),
          misses_(o.misses_.load(std::memory_order_relaxed)),
          waits_(o.waits_.load(std::memory_order_relaxed)) {}
    /// Replaces configuration and learned state with `o`'s. The configuration is not atomic:
    /// no wait may use this object meanwhile.
    wait_strategy& operator=(const wait_strategy& o) noexcept {
        kind_ = o.kind_;
        single_cpu_ = o.single_cpu_;
        max_budget_ns_ = o.max_budget_ns_;
        estimate_ns_.store(o.estimate_ns_.load(std::memory_order_relaxed),
                           std::memory_order_relaxed);
        misses_.store(o.misses_.load(std::memory_order_relaxed), std::memory_order_relaxed);
        waits_.store(o.waits_.load(std::memory_order_relaxed), std::memory_order_relaxed);
        return *this;
    }

    /// Which strategy this is.
    kind type() const noexcept { return kind_; }
    /// The configured budget (`spin`, `adaptive`); zero for `block`.
    std::chrono::nanoseconds max_budget() const noexcept {
        return std::chrono::nanoseconds(max_budget_ns_);
    }
    /// True when `adaptive` was made for a single CPU (one online, or `cpus` <= 1) and will
    /// never spin.
    bool single_cpu() const noexcept { return single_cpu_; }
    /// True when `adaptive` has stopped spinning after repeated unrewarded spins.
    bool collapsed() const noexcept {
        return kind_ == kind::adaptive && misses_.load(std::memory_order_relaxed) >= collapse_after;
    }

    /// What the next wait would spin for before blocking, without counting it as a wait.
    std::chrono::nanoseconds current_budget() const noexcept {
        return std::chrono::nanoseconds(budget_for(waits_.load(std::memory_order_relaxed)));
    }

    /// Retries `try_step()` (returns true when the non-blocking step succeeded) with the pause
    /// instruction in between for up to this wait's budget. @returns true when the step succeeded
    /// while spinning; false when the caller must block. `try_step` is not called when the
    /// budget is zero. Feeds the outcome back into `adaptive`.
    template <class TryStep>
    bool spin_until(TryStep&& try_step) {
        return spin_capped(try_step, nullptr);
    }

    /// As spin_until(try_step), but never spins past `limit` (the deadline of a timed wait). A spin
    /// that `limit` cut short of the budget is not fed back into `adaptive`: it says nothing about
    /// whether spinning pays.
    template <class TryStep>
    bool spin_until(TryStep&& try_step, std::chrono::steady_clock::time_point limit) {
        return spin_capped(try_step, &limit);
    }

    /// Feeds one outcome into `adaptive` (ignored by the others): `rewarded` when spinning served
    /// the wait after `spent`, otherwise the budget ran out. spin_until calls it; a caller that
    /// spins itself (e.g. the Asio layer) calls it too.
    void record(bool rewarded, std::chrono::nanoseconds spent) noexcept {
        if (kind_ != kind::adaptive) return;
        const std::int64_t est = estimate_ns_.load(std::memory_order_relaxed);
        if (rewarded) {
            misses_.store(0, std::memory_order_relaxed);
            // Moving average with weight 1/8, as glibc's adaptive mutex keeps its spin count.
            estimate_ns_.store(est + (spent.count() - est) / 8, std::memory_order_relaxed);
        } else {
            misses_.fetch_add(1, std::memory_order_relaxed);
        }
    }

private:
    template <class TryStep>
    bool spin_capped(TryStep& try_step, const std::chrono::steady_clock::time_point* limit) {
        if (kind_ == kind::block) return false;
        const std::uint64_t wait_no = waits_.fetch_add(1, std::memory_order_relaxed);
        std::int64_t budget = budget_for(wait_no);
        if (budget <= 0) return false;
        const auto start = std::chrono::steady_clock::now();
        bool capped = false;
        if (limit) {
            const std::int64_t left =
                std::chrono::duration_cast<std::chrono::nanoseconds>(*limit - start).count();
            if (left < budget) {
                budget = left;
                capped = true;
            }
            if (budget <= 0) return false;
        }
        // The clock is read after every try (a vDSO read, far below a spin's budget): it bounds
        // the spin, and the longest gap between two tries tells whether this thread was off the
        // CPU meanwhile.
        auto prev = start;
        std::int64_t longest_gap = 0;
        for (;;) {
            const bool served = try_step();
            // Only adaptive learns from a served spin: the others return without the clock
            // read, which sits between seeing the peer's message and acting on it.
            if (served && kind_ != kind::adaptive) return true;
            const auto now = std::chrono::steady_clock::now();
            const std::int64_t gap = std::chrono::nanoseconds(now - prev).count();
            longest_gap = gap > longest_gap ? gap : longest_gap;
            prev = now;
            const auto spent = std::chrono::nanoseconds(now - start);
            if (served) { // adaptive: the others returned above
                // Served after most of the wait went by in one gap of over 2 us (longer than a
                // system call, shorter than a peer's turn on this CPU): this thread was off its
                // CPU. If the kernel preempted it, the peer may well have run on this very CPU
                // meanwhile: that proves nothing for spinning, and adaptive counts it as a miss.
                // A gap without a preemption is the hypervisor's (steal time on a VM): the peer
                // ran on its own CPU, so the spin paid. Counting those as misses made adaptive
                // stop spinning across CPUs on a noisy VM. The system call is made only here.
                const bool descheduled = longest_gap > descheduled_gap_ns &&
                                         2 * longest_gap > spent.count() &&
                                         detail::preempted_since_last_check();
                record(!descheduled, spent);
                return true;
            }
            if (spent.count() >= budget) {
                if (!capped) record(false, std::chrono::nanoseconds(budget));
                return false;
            }
            detail::cpu_relax();
        }
    }

    static std::int64_t clamp(std::chrono::nanoseconds d) noexcept {
        constexpr std::int64_t one_second = 1'000'000'000;
        if (d.count() <= 0) return 0;
        return d.count() > one_second ? one_second : d.count();
    }

    std::int64_t budget_for(std::uint64_t wait_no) const noexcept {
        switch (kind_) {
        case kind::block:
            return 0;
        case kind::spin:
            return max_budget_ns_;
        case kind::adaptive:
            break;
        }
        if (single_cpu_) return 0;
        const unsigned misses = misses_.load(std::memory_order_relaxed);
        if (misses >= collapse_after) {
            // Collapsed: probe every 2^k-th wait; k grows with the misses. A probe spins the full
            // budget: a peer that sleeps itself (it stopped spinning too) answers only after its
            // kernel wake-up, and a shorter probe would never see that, so two collapsed peers
            // would never find each other again.
            unsigned shift = misses - collapse_after + 1;
            if (shift > max_probe_shift) shift = max_probe_shift;
            const std::uint64_t period = std::uint64_t{1} << shift;
            return wait_no % period == 0 ? max_budget_ns_ : 0;
        }
        // After a miss (not yet collapsed) the next spin gets the full budget. A miss sends this
        // side to its slow path, so the peer's next answer comes after a kernel wake-up (two on
        // the Asio layer: the waiter's helper, then the io_context), far past a budget learned
        // from fast answers: the peer misses too, and the short budgets then ping-pong misses
        // until both sides collapse. One full-budget spin outlasts that wake-up and ends it.
        if (misses > 0) return max_budget_ns_;
        const std::int64_t want = 2 * estimate_ns_.load(std::memory_order_relaxed) + 500;
        return want > max_budget_ns_ ? max_budget_ns_ : want;
    }

    kind kind_ = kind::block;
    bool single_cpu_ = false;
    std::int64_t max_budget_ns_ = 0;
    std::atomic<std::int64_t> estimate_ns_{0};
    std::atomic<unsigned> misses_{0};
    std::atomic<std::uint64_t> waits_{0};
};

} // namespace pipc
