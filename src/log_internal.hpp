// SPDX-License-Identifier: BSL-1.0
// src/log_internal.hpp - pipc's own logging calls. Internal; spdlog never reaches public headers.
#pragma once

#include <pipc/log.hpp>

#include <spdlog/spdlog.h>

#include <utility>

namespace pipc::detail {

/// Logs at debug level if the application opted in. Lifecycle events only: never per message.
template <class... Args>
void log_debug(spdlog::format_string_t<Args...> fmt, Args&&... args) {
    if (auto logger = get_logger()) logger->debug(fmt, std::forward<Args>(args)...);
}

} // namespace pipc::detail
