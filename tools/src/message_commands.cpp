// SPDX-License-Identifier: BSL-1.0
#include "message_commands.hpp"

#include "common.hpp"

#include <boost/json.hpp>

#include <climits>

namespace pipc_cli {

void add_receive_flags(CLI::App& cmd, receive_options& o, const std::string& json_fields) {
    cmd.add_option("-t,--timeout", o.timeout,
                   "Wait at most this long for each message (default: forever; 0: do not wait)")
        ->check(timeout_validator());
    cmd.add_option("-n,--count", o.count, "Number of messages to receive")
        ->check(CLI::Range(1U, UINT_MAX))
        ->capture_default_str();
    auto* json_flag =
        cmd.add_flag("--json", o.json, "One JSON object per line per message: " + json_fields);
    cmd.add_flag("-z,--null", o.null,
                 "End each body with a NUL byte instead of a newline (for bodies that contain "
                 "newlines; xargs -0)")
        ->excludes(json_flag);
}

void receive_and_print(const receive_options& o, const std::string& context,
                       const receive_one_fn& receive_one) {
    for (unsigned i = 0; i < o.count; ++i) {
        pipc::error_code ec;
        const auto r = receive_one(o.timeout, ec);
        check(ec, context);
        if (!r) {
            std::string message = context + ": no message";
            if (o.timeout) message += " within " + seconds_text(*o.timeout);
            if (o.count > 1)
                message +=
                    " (received " + std::to_string(i) + " of " + std::to_string(o.count) + ")";
            throw tool_error(exit_busy, message);
        }
        if (o.json) {
            boost::json::object m;
            if (r->priority) m["priority"] = *r->priority;
            m["size"] = r->body.size();
            put_bytes(m, "data", "encoding", r->body);
            print_json(m);
        } else {
            std::string framed(r->body);
            framed += o.null ? '\0' : '\n';
            write_stdout(framed);
        }
    }
}

void send_or_fail(const std::optional<double>& timeout, const std::string& context,
                  const send_one_fn& send_one) {
    pipc::error_code ec;
    const bool sent = send_one(timeout, ec);
    check(ec, context);
    if (!sent)
        throw tool_error(exit_busy, context + ": still full" +
                                        (timeout ? " after " + seconds_text(*timeout) : ""));
}

} // namespace pipc_cli
