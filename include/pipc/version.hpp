// pipc/version.hpp - the library version.
#pragma once

#define PIPC_VERSION_MAJOR 0
#define PIPC_VERSION_MINOR 1
#define PIPC_VERSION_PATCH 0

namespace pipc {
inline constexpr const char* version_string = "0.1.0";
}
