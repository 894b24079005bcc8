// SPDX-License-Identifier: BSL-1.0
// tools/src/common.hpp - what every `pipc` subcommand shares: exit codes, argument parsing
// (names, sizes, modes), error reporting, stdin/stdout, and the byte encodings used in JSON.
#pragma once

#include <pipc/error.hpp>
#include <pipc/name.hpp>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace spdlog {
class logger;
}

namespace pipc_cli {

/// The process exit codes; part of the tool's contract (README, --help).
enum exit_code : int {
    exit_ok = 0,
    exit_failure = 1,     ///< Anything not listed below.
    exit_usage = 2,       ///< Bad usage or argument (CLI11 parse errors, pipc invalid_* errors).
    exit_existential = 3, ///< Not found, or already exists with --exclusive.
    exit_permissions = 4, ///< Permission denied.
    exit_busy = 5,        ///< Timed out, queue full or empty, semaphore unavailable.
    exit_problems = 6,    ///< `doctor` found problems (checks with status "warn").
    exit_unknowable = 7,  ///< Refused: whether objects are in use cannot be known (rm --unused).
};

/// Maps a pipc or OS error to the exit code above.
int exit_code_for(const pipc::error_code& ec) noexcept;

/// A failure the tool reports as one line on stderr and turns into `code`.
class tool_error : public std::runtime_error {
public:
    tool_error(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
    int code() const noexcept { return code_; }

private:
    int code_;
};

/// Throws tool_error(exit_code_for(ec), context + ": " + ec.message()) when ec is set.
void check(const pipc::error_code& ec, const std::string& context);

/// Writes "pipc: MESSAGE" to stderr: warnings and notes that are not the command's output.
void note(const std::string& message);

/// Text of the footer every --help prints.
extern const char* const exit_code_help;

// --- argument parsing ------------------------------------------------------------------------

/// "4096", "4K", "4KiB", "1M", "2g", ... (K = 1024; K M G T P E; optional "iB" or "B").
/// nullopt for anything else, including overflow, signs, blanks and fractions.
std::optional<std::uint64_t> parse_size(std::string_view text);
/// Octal "644", "0644", "01777" (at most 07777). nullopt otherwise.
std::optional<::mode_t> parse_mode(std::string_view text);

/// The naming rule `name` breaks for `kind`, said precisely; empty when the name is valid.
std::string name_problem(pipc::object_kind kind, std::string_view name);

/// CLI11 validators; they run during parsing, before any command touches an object.
CLI::Validator name_validator(pipc::object_kind kind);
CLI::Validator size_validator();
CLI::Validator mode_validator();
CLI::Validator timeout_validator();

/// A size option's value after validation (always succeeds then).
std::uint64_t size_value(const std::string& text);
::mode_t mode_value(const std::string& text);

// --- output ------------------------------------------------------------------------------------

/// Writes all bytes to stdout (raw, unbuffered by iostreams); throws tool_error on failure.
void write_stdout(std::string_view bytes);
/// Reads stdin to EOF.
std::string read_stdin();

/// Writes a JSON value on one line to stdout.
void print_json(const boost::json::value& v);

/// True when `bytes` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool is_utf8(std::string_view bytes) noexcept;
std::string base64_encode(std::string_view bytes);
/// Sets obj[key] to the bytes as UTF-8 text when valid, else base64, and obj[encoding_key] to
/// "utf-8" or "base64".
void put_bytes(boost::json::object& obj, std::string_view key, std::string_view encoding_key,
               std::string_view bytes);
/// A name for a terminal: printable ASCII kept, everything else as \xNN.
std::string escape_for_text(std::string_view bytes);

/// An object name as the tool prints it (escape_for_text).
std::string shown(const std::string& name);
/// "0.5 s": a timeout as the tool prints it.
std::string seconds_text(double seconds);

/// "0644".
std::string mode_string(::mode_t mode);
/// "1.5 GiB"-style rendering for humans (exact byte counts go in JSON).
std::string human_size(std::uint64_t bytes);

/// The "pipc" logger the tool registers (stderr), for the tool's own debug messages.
std::shared_ptr<spdlog::logger> logger();

} // namespace pipc_cli
