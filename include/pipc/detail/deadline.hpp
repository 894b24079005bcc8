// SPDX-License-Identifier: BSL-1.0
// pipc/detail/deadline.hpp - turning any std::chrono duration or time point into a steady deadline.
#pragma once

#include <pipc/error.hpp>

#include <chrono>
#include <cmath>
#include <type_traits>

namespace pipc::detail {

/// A deadline on the steady clock; `infinite` means "no deadline".
struct deadline {
    std::chrono::steady_clock::time_point when{};
    bool infinite = false;
};

/// Waits longer than this are treated as infinite: no arithmetic on them can overflow.
inline constexpr std::chrono::nanoseconds longest_finite_wait = std::chrono::hours(24 * 365 * 100);

/// Saturating `now + d`: NaN is errc::invalid_timeout, +inf or anything past a century is
/// "infinite", zero, negative and -inf are "already expired" (a single try). Reads the clock once.
template <class Rep, class Period>
deadline deadline_after(std::chrono::duration<Rep, Period> d, error_code& ec) noexcept {
    using namespace std::chrono;
    ec = {};
    const auto now = steady_clock::now();
    if constexpr (std::is_floating_point_v<Rep>) {
        if (std::isnan(d.count())) {
            ec = make_error_code(errc::invalid_timeout);
            return {now, false};
        }
    }
    if (d <= d.zero()) return {now, false};
    // The range check happens in floating point, before any integral conversion could overflow.
    if (duration<long double, std::nano>(d).count() >=
        static_cast<long double>(longest_finite_wait.count()))
        return {{}, true};
    return {now + ceil<steady_clock::duration>(d), false};
}

/// Any clock's time point as a steady deadline (the remaining time is measured once, now).
template <class Clock, class Duration>
deadline deadline_at(std::chrono::time_point<Clock, Duration> tp, error_code& ec) noexcept {
    using namespace std::chrono;
    if constexpr (std::is_floating_point_v<typename Duration::rep>) {
        const long double at = duration<long double>(tp.time_since_epoch()).count();
        const long double now = duration<long double>(Clock::now().time_since_epoch()).count();
        return deadline_after(duration<long double>(at - now), ec); // NaN and +-inf flow through
    } else {
        // Compare in tp's own units: casting a far tp into finer units would overflow.
        const auto now = time_point_cast<Duration>(Clock::now());
        if (tp <= now) {
            ec = {};
            return {steady_clock::now(), false};
        }
        return deadline_after(tp - now, ec);
    }
}

} // namespace pipc::detail
