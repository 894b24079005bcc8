// SPDX-License-Identifier: BSL-1.0
// pipc/version.hpp - the library version.
#pragma once

#define PIPC_VERSION_MAJOR 0 ///< Major version of these headers.
#define PIPC_VERSION_MINOR 1 ///< Minor version of these headers.
#define PIPC_VERSION_PATCH 0 ///< Patch version of these headers.

namespace pipc {
/// "MAJOR.MINOR.PATCH" of these headers (posix_ipc's `VERSION`).
inline constexpr const char* version_string = "0.1.0";
} // namespace pipc
