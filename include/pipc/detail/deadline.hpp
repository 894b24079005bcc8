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

/// Saturating `now + d`: huge durations become "infinite" instead of wrapping into the past, a
/// NaN is errc::invalid_timeout, negative durations mean "already expired" (a try).
template <class Rep, class Period>
deadline deadline_after(std::chrono::duration<Rep, Period> d, error_code& ec) noexcept {
    using namespace std::chrono;
    ec = {};
    const auto now = steady_clock::now();
    if constexpr (std::is_floating_point_v<Rep>) {
        const long double secs = duration<long double>(d).count();
        if (std::isnan(secs)) {
            ec = make_error_code(errc::invalid_timeout);
            return {now, false};
        }
        const long double remaining =
            duration<long double>(steady_clock::time_point::max() - now).count();
        if (secs >= remaining) return {{}, true};
        if (secs <= 0) return {now, false};
        return {now + duration_cast<steady_clock::duration>(duration<long double>(secs)), false};
    } else {
        if (d <= d.zero()) return {now, false};
        const auto remaining = steady_clock::time_point::max() - now;
        if (duration_cast<duration<long double>>(d) >=
            duration_cast<duration<long double>>(remaining))
            return {{}, true};
        const auto step = duration_cast<steady_clock::duration>(d);
        if (step >= remaining) return {{}, true};
        return {now + step, false};
    }
}

/// Any clock's time point as a steady deadline (the remaining time is measured once, now).
template <class Clock, class Duration>
deadline deadline_at(std::chrono::time_point<Clock, Duration> tp, error_code& ec) noexcept {
    if constexpr (std::is_same_v<Clock, std::chrono::steady_clock> &&
                  !std::is_floating_point_v<typename Duration::rep>) {
        ec = {};
        return {std::chrono::time_point_cast<std::chrono::steady_clock::duration>(tp), false};
    } else {
        return deadline_after(tp - Clock::now(), ec);
    }
}

} // namespace pipc::detail
