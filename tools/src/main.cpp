// SPDX-License-Identifier: BSL-1.0
// pipc - see, create, use and clean up POSIX IPC objects (the tool's entry point).
//
// Exit codes are a contract (README, --help): 0 ok, 2 usage, 3 existential, 4 permissions, 5 busy,
// 1 anything else. Every failure is one line on stderr.
#include "commands.hpp"
#include "common.hpp"
#include "inventory.hpp"

#include <pipc/log.hpp>
#include <pipc/version.hpp>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/system/system_error.hpp>

#include <cstdio>
#include <exception>
#include <optional>
#include <string>

#ifdef PIPC_HAVE_BENCH
#include <pipc_bench/cli.hpp>
#endif

namespace {

void print_error(const std::string& message) {
    if (!message.empty()) std::fprintf(stderr, "pipc: %s\n", message.c_str());
}

// CLI11's messages can span lines (e.g. lists of valid choices); the contract is one line.
std::string one_line(std::string s) {
    for (char& c : s)
        if (c == '\n') c = ' ';
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
}

// CLI11 says "A subcommand is required" or "arguments were not expected" for a word that names
// no command; say which word, and what the commands are. nullopt when the words are fine.
std::optional<std::string> unknown_command(CLI::App& app, int argc, char** argv) {
    CLI::App* current = &app;
    std::string path;
    for (int i = 1; i < argc; ++i) {
        const std::string word = argv[i];
        if (word == "--") return std::nullopt;
        if (!word.empty() && word[0] == '-') {
            if (current == &app && word == "--log-level") ++i; // the only option with a value
            continue;
        }
        const auto subs = current->get_subcommands({});
        if (subs.empty()) return std::nullopt; // a leaf command: the rest are its arguments
        path += (path.empty() ? "" : " ") + pipc_cli::escape_for_text(word);
        CLI::App* next = nullptr;
        for (auto* sub : subs)
            if (sub->get_name() == word) next = sub;
        if (next) {
            current = next;
            continue;
        }
#ifndef PIPC_HAVE_BENCH
        if (current == &app && word == "bench")
            return std::string("'bench' is not built into this pipc (the bench engine was not "
                               "built: configure with -DPIPC_BUILD_BENCH=ON)");
#endif
        std::string names;
        for (auto* sub : subs) {
            if (!names.empty()) names += ", ";
            names += sub->get_name();
        }
        std::string message = "unknown command '";
        message += path;
        message += "' (commands: ";
        message += names;
        message += ")";
        return message;
    }
    return std::nullopt;
}

} // namespace

int main(int argc, char** argv) {
    using namespace pipc_cli;

    // Registering a logger named "pipc" is how the library's debug events (create, open, unlink,
    // ...) become visible; the tool logs its own diagnostics through the same logger.
    auto log = spdlog::stderr_color_mt("pipc");
    log->set_pattern("pipc: [%l] %v");
    log->set_level(spdlog::level::warn);

    CLI::App app{"pipc " + std::string(pipc::version_string) +
                 " - see, create, use and clean up POSIX message queues, semaphores and shared "
                 "memory, and pipc's robust mutexes and channels"};
    app.name("pipc");
    app.footer(exit_code_help);
    app.set_version_flag("--version", std::string("pipc ") + pipc::version_string);
    app.require_subcommand(1);
    app.add_option("--log-level", "Diagnostics on stderr: trace, debug, info, warn, error, "
                                  "critical, off (default warn); debug shows pipc's lifecycle "
                                  "events")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
        ->each([log](const std::string& level) { log->set_level(spdlog::level::from_str(level)); });

    app.add_flag_callback(
        "--trust-pid-namespace", [] { set_trust_pid_namespace(true); },
        "In a PID namespace (a container): take its processes to be all that can hold its objects "
        "(true with a private IPC namespace and /dev/shm); without it, holders there are unknown");

    add_system_commands(app);
    add_rm_command(app);
    add_mq_commands(app);
    add_sem_commands(app);
    add_shm_commands(app);
    add_lock_commands(app);
    add_channel_commands(app);
#ifdef PIPC_HAVE_BENCH
    pipc_bench::add_bench_command(app);
#endif

    if (const auto unknown = unknown_command(app, argc, argv)) {
        print_error(*unknown);
        return exit_usage;
    }
    try {
        app.parse(argc, argv);
        return exit_ok;
    } catch (const CLI::Success& e) {
        return app.exit(e); // --help, --version: printed to stdout, exit 0
    } catch (const CLI::RuntimeError& e) {
        return e.get_exit_code(); // thrown by commands (bench) that printed their own message
    } catch (const CLI::ParseError& e) {
        print_error(one_line(e.what()) + " (see --help)");
        return exit_usage;
    } catch (const tool_error& e) {
        print_error(e.what());
        return e.code();
    } catch (const boost::system::system_error& e) {
        print_error(e.what());
        return exit_code_for(e.code());
    } catch (const std::exception& e) {
        print_error(e.what());
        return exit_failure;
    }
}
