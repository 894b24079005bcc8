// SPDX-License-Identifier: BSL-1.0
// pipc/log.hpp - opting in to pipc's diagnostics. spdlog itself stays out of this header.
#pragma once

#include <pipc/export.hpp>

#include <memory>

namespace spdlog {
class logger;
}

namespace pipc {

/// pipc logs nothing until the application either calls set_logger() or registers an spdlog
/// logger named "pipc" (spdlog::register_logger). It logs lifecycle events (create, open, unlink,
/// close, notification registration, helper threads) at debug level, never per message.
/// Passing nullptr goes back to looking up "pipc" in spdlog's registry. Thread-safe.
PIPC_API void set_logger(std::shared_ptr<spdlog::logger> logger);

/// The logger pipc uses now: the injected one, else the registered "pipc", else nullptr.
PIPC_API std::shared_ptr<spdlog::logger> get_logger();

} // namespace pipc
