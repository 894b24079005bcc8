// SPDX-License-Identifier: BSL-1.0
// tools/src/message_commands.hpp - what `pipc mq send|recv` and `pipc channel send|recv` share:
// the receive flags, the output framing (text, NUL-terminated or JSON) and the exit codes of a
// wait that runs out. Queues and channels differ only in how one message is sent or received.
#pragma once

#include <pipc/error.hpp>

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace pipc_cli {

/// The options of `pipc mq recv` and `pipc channel recv`.
struct receive_options {
    std::string name;
    std::optional<double> timeout; ///< Seconds per message; nullopt waits forever.
    unsigned count = 1;
    bool json = false;
    bool null = false;
};

/// Adds -t/--timeout, -n/--count, --json (whose help lists `json_fields`) and -z/--null.
void add_receive_flags(CLI::App& cmd, receive_options& o, const std::string& json_fields);

/// One message as `receive_one` hands it over: its body, and a queue message's priority.
struct received_body {
    std::string_view body;
    std::optional<unsigned> priority;
};

/// Waits for the next message (up to `timeout` when set, forever otherwise); nullopt when the
/// wait ran out. Errors go to `ec`.
using receive_one_fn = std::function<std::optional<received_body>(
    const std::optional<double>& timeout, pipc::error_code& ec)>;

/// Receives `o.count` messages and prints each: the body and a newline (or NUL with --null), or
/// one JSON object per line. An error throws tool_error with `context`; a wait that runs out
/// throws exit_busy, saying how many of the requested messages arrived.
void receive_and_print(const receive_options& o, const std::string& context,
                       const receive_one_fn& receive_one);

/// Sends one message (waiting up to `timeout` when set, forever otherwise); false when the wait
/// ran out. Errors go to `ec`.
using send_one_fn = std::function<bool(const std::optional<double>& timeout, pipc::error_code& ec)>;

/// Sends through `send_one`; an error throws tool_error with `context`, a wait that runs out
/// throws exit_busy ("still full after ...").
void send_or_fail(const std::optional<double>& timeout, const std::string& context,
                  const send_one_fn& send_one);

} // namespace pipc_cli
