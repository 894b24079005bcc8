// SPDX-License-Identifier: BSL-1.0
// tests/asio/async_channel_support.hpp - what the async channel tests share.
#pragma once

#include <pipc/channel.hpp>

#include <pipc_test/asio_run.hpp>
#include <pipc_test/support.hpp>

#include <string>
#include <string_view>

namespace channel_test {

/// A unique channel name, removed (with its doorbells) on entry and exit.
struct channel_name {
    std::string name;
    explicit channel_name(const char* tag = "ach") : name(pipc_test::unique_name(tag)) { remove(); }
    ~channel_name() { remove(); }
    channel_name(const channel_name&) = delete;
    channel_name& operator=(const channel_name&) = delete;
    void remove() const {
        pipc::error_code ignored;
        pipc::unlink_channel(name, ignored);
    }
    operator std::string_view() const { return name; } // NOLINT: used as a name
};

} // namespace channel_test
