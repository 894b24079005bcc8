// SPDX-License-Identifier: BSL-1.0
#include "common.hpp"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

namespace pipc_cli {

const char* const exit_code_help =
    "Exit codes: 0 success; 2 bad usage or argument; 3 not found, or already exists with "
    "--exclusive; 4 permission denied; 5 busy (timed out, queue full or empty); 1 any other "
    "failure; 6 doctor found problems; 7 refused because holders cannot be known (rm "
    "--unused).\nSizes take K, M, G, T, P, E suffixes (powers of 1024; 'KiB' and 'KB' mean the "
    "same). Names need one leading '/'.";

int exit_code_for(const pipc::error_code& ec) noexcept {
    if (!ec) return exit_ok;
    if (ec.category() == pipc::pipc_category()) {
        switch (static_cast<pipc::errc>(ec.value())) {
        case pipc::errc::closed:
        case pipc::errc::damaged_semaphore:
        case pipc::errc::not_recoverable:
            return exit_existential;
        case pipc::errc::consumer_busy:
            return exit_busy;
        case pipc::errc::not_readable:
        case pipc::errc::not_writable:
        case pipc::errc::read_only:
        case pipc::errc::truncate_needs_write:
            return exit_permissions;
        case pipc::errc::queues_max_reached:
        case pipc::errc::rlimit_msgqueue_exceeded:
        case pipc::errc::no_space:
        case pipc::errc::name_generation_failed:
            return exit_failure;
        // invalid_*, name_too_long, message_too_long, msg_max_exceeded, msgsize_max_exceeded,
        // mapping_out_of_range, ...: an argument outside what the object or system allows.
        default:
            return exit_usage;
        }
    }
    if (ec == pipc::condition::existential) return exit_existential;
    if (ec == pipc::condition::permissions) return exit_permissions;
    if (ec == pipc::condition::busy) return exit_busy;
    if (ec.category() == boost::system::system_category() ||
        ec.category() == boost::system::generic_category()) {
        switch (ec.value()) {
        case EINVAL:
        case ENAMETOOLONG:
        case EMSGSIZE:
        case EOVERFLOW:
            return exit_usage; // e.g. sem post past SEM_VALUE_MAX
        default:
            break;
        }
    }
    return exit_failure;
}

void check(const pipc::error_code& ec, const std::string& context) {
    if (ec) throw tool_error(exit_code_for(ec), context + ": " + ec.message());
}

// --- argument parsing --------------------------------------------------------------------------

std::optional<std::uint64_t> parse_size(std::string_view text) {
    // CLI11's AsSizeValue does the units (K = 1024, KB, KiB, ... E) and the overflow check; it
    // trims blanks and takes signs and fractions to its integer conversion, so those are
    // refused here first.
    if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
    for (const char c : text)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            return std::nullopt;
    static const CLI::AsSizeValue as_size(false);
    std::string value(text);
    try {
        if (!as_size(value).empty()) return std::nullopt;
    } catch (const CLI::ValidationError&) {
        return std::nullopt;
    }
    std::uint64_t out = 0;
    if (!CLI::detail::lexical_cast(value, out)) return std::nullopt;
    return out;
}

std::optional<::mode_t> parse_mode(std::string_view text) {
    if (text.empty() || text.size() > 5) return std::nullopt;
    unsigned value = 0;
    for (const char c : text) {
        if (c < '0' || c > '7') return std::nullopt;
        value = value * 8 + static_cast<unsigned>(c - '0');
    }
    if (value > 07777) return std::nullopt;
    return static_cast<::mode_t>(value);
}

std::string name_problem(pipc::object_kind kind, std::string_view name) {
    if (!pipc::validate_name(kind, name)) return {};
    if (name.empty()) return "a name must not be empty";
    if (name.front() != '/') return "a name must start with '/'";
    const std::string_view rest = name.substr(1);
    if (rest.empty()) return "a name needs at least one character after the '/'";
    if (rest == "." || rest == "..") return "a name must not be \"/.\" or \"/..\"";
    if (const auto at = rest.find('/'); at != std::string_view::npos)
        return "a name must not contain a '/' after the first (found at byte " +
               std::to_string(at + 1) + ")";
    if (rest.find('\0') != std::string_view::npos) return "a name must not contain a NUL byte";
    if (kind == pipc::object_kind::shared_memory && rest.substr(0, 4) == "sem.")
        return "a shared-memory name must not start with \"/sem.\": /dev/shm/sem." +
               escape_for_text(rest.substr(4)) + " is the file of semaphore /" +
               escape_for_text(rest.substr(4));
    if (rest.size() > pipc::max_name_length(kind))
        return "a name may have at most " + std::to_string(pipc::max_name_length(kind)) +
               " bytes after the '/' (this one has " + std::to_string(rest.size()) + ")";
    return pipc::validate_name(kind, name).message();
}

CLI::Validator name_validator(pipc::object_kind kind) {
    return CLI::Validator(
        [kind](std::string& name) -> std::string {
            const auto problem = name_problem(kind, name);
            if (problem.empty()) return {};
            return "\"" + escape_for_text(name) + "\": " + problem;
        },
        "NAME");
}

CLI::Validator size_validator() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            if (parse_size(text)) return {};
            return "\"" + escape_for_text(text) +
                   "\" is not a size (a whole number of bytes, optionally with a K, M, G, T, P "
                   "or E suffix)";
        },
        "SIZE");
}

CLI::Validator mode_validator() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            if (parse_mode(text)) return {};
            return "\"" + escape_for_text(text) + "\" is not an octal mode between 0 and 7777";
        },
        "OCTAL");
}

CLI::Validator timeout_validator() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            double d = 0;
            std::size_t used = 0;
            try {
                d = std::stod(text, &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used != text.size() || used == 0 || !(d >= 0) ||
                d == std::numeric_limits<double>::infinity())
                return "\"" + escape_for_text(text) +
                       "\" is not a timeout (a finite number of seconds, 0 or more)";
            return {};
        },
        "SECONDS");
}

std::uint64_t size_value(const std::string& text) {
    const auto v = parse_size(text);
    if (!v) throw tool_error(exit_usage, "\"" + escape_for_text(text) + "\" is not a size");
    return *v;
}

::mode_t mode_value(const std::string& text) {
    const auto v = parse_mode(text);
    if (!v) throw tool_error(exit_usage, "\"" + escape_for_text(text) + "\" is not an octal mode");
    return *v;
}

// --- output ------------------------------------------------------------------------------------

void write_stdout(std::string_view bytes) {
    std::fflush(stdout);
    while (!bytes.empty()) {
        const ssize_t n = ::write(STDOUT_FILENO, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            throw tool_error(exit_failure,
                             std::string("cannot write to stdout: ") + std::strerror(errno));
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

std::string read_stdin() {
    std::string data;
    std::array<char, 65536> buffer{};
    for (;;) {
        const ssize_t n = ::read(STDIN_FILENO, buffer.data(), buffer.size());
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            throw tool_error(exit_failure,
                             std::string("cannot read stdin: ") + std::strerror(errno));
        }
        data.append(buffer.data(), static_cast<std::size_t>(n));
    }
    return data;
}

void print_json(const boost::json::value& v) {
    write_stdout(boost::json::serialize(v) + "\n");
}

bool is_utf8(std::string_view s) noexcept {
    std::size_t i = 0;
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    while (i < s.size()) {
        const unsigned c = byte(i);
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        unsigned cp = 0;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > s.size()) return false;
        for (std::size_t k = 1; k < len; ++k) {
            const unsigned cc = byte(i + k);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

std::string base64_encode(std::string_view bytes) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    const auto at = [&](std::size_t k) -> std::uint32_t {
        return static_cast<unsigned char>(bytes[k]);
    };
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    if (const std::size_t rest = bytes.size() - i; rest > 0) {
        const std::uint32_t v = (at(i) << 16) | (rest == 2 ? at(i + 1) << 8 : 0);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += rest == 2 ? alphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

void put_bytes(boost::json::object& obj, std::string_view key, std::string_view encoding_key,
               std::string_view bytes) {
    if (is_utf8(bytes)) {
        obj[key] = bytes;
        obj[encoding_key] = "utf-8";
    } else {
        obj[key] = base64_encode(bytes);
        obj[encoding_key] = "base64";
    }
}

std::string escape_for_text(std::string_view bytes) {
    std::string out;
    for (const char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x21 && c < 0x7F && c != '\\') {
            out += ch;
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    return out;
}

std::string mode_string(::mode_t mode) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
    return buf;
}

std::string human_size(std::uint64_t bytes) {
    static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) return std::to_string(bytes) + " B";
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 6) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

std::string shown(const std::string& name) {
    return escape_for_text(name);
}

std::string seconds_text(double seconds) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", seconds);
    return std::string(buf) + " s";
}

void note(const std::string& message) {
    std::fprintf(stderr, "pipc: %s\n", message.c_str());
}

std::shared_ptr<spdlog::logger> logger() {
    return spdlog::get("pipc");
}

} // namespace pipc_cli
