// SPDX-License-Identifier: BSL-1.0
// pipc/open_mode.hpp - how an open call treats an existing or missing object.
#pragma once

namespace pipc {

/// posix_ipc's flags 0, O_CREAT and O_CREAT|O_EXCL, as a closed set instead of raw bits.
enum class open_mode {
    open_existing,    ///< The object must exist (missing: no_such_file_or_directory, existential).
    open_or_create,   ///< Open it, or create it when missing; `created()` tells which happened.
    create_exclusive, ///< Create it; an existing object is an error (file_exists, existential).
};

/// Passed instead of a name: pipc generates an unused, unguessable name (from getrandom) and
/// creates the object exclusively, retrying a bounded number of times on a collision. The
/// options' open mode is ignored: a generated name is always created.
struct unique_name_t {
    explicit unique_name_t() = default;
};
/// The tag to pass instead of a name, e.g. `pipc::semaphore s(pipc::unique_name);`.
inline constexpr unique_name_t unique_name{};

/// What a blocking wait does when a signal handler interrupts it (EINTR).
enum class signal_policy {
    retry,  ///< Resume waiting for the remaining time (the default).
    report, ///< Return boost::system::errc::interrupted (condition::signal) to the caller.
};

} // namespace pipc
