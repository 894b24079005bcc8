// SPDX-License-Identifier: BSL-1.0
#include <pipc/log.hpp>

#include <spdlog/spdlog.h>

#include <mutex>

namespace pipc {
namespace {
std::mutex logger_mutex;
std::shared_ptr<spdlog::logger> injected_logger; // guarded by logger_mutex
} // namespace

void set_logger(std::shared_ptr<spdlog::logger> logger) {
    const std::lock_guard lock(logger_mutex);
    injected_logger = std::move(logger);
}

std::shared_ptr<spdlog::logger> get_logger() {
    {
        const std::lock_guard lock(logger_mutex);
        if (injected_logger) return injected_logger;
    }
    return spdlog::get("pipc"); // nullptr unless the application registered one: pipc stays silent
}

} // namespace pipc
