// SPDX-License-Identifier: BSL-1.0
// tools/src/commands.hpp - registration of the `pipc` subcommands with CLI11.
//
// Every command validates all of its arguments while CLI11 parses (names, sizes, modes,
// timeouts), so bad input fails with exit code 2 before any object is touched. Commands run as
// CLI11 callbacks and report failure by throwing tool_error (see common.hpp).
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace pipc_cli {

/// A subcommand with the common help footer (exit codes) and a required sub-subcommand when
/// `needs_subcommand`.
CLI::App* add_command(CLI::App& parent, const std::string& name, const std::string& description,
                      bool needs_subcommand = false);

void add_mq_commands(CLI::App& app);
void add_sem_commands(CLI::App& app);
void add_shm_commands(CLI::App& app);
void add_lock_commands(CLI::App& app);    ///< lock info|rm (robust mutexes)
void add_channel_commands(CLI::App& app); ///< channel create|send|recv|info|rm
void add_system_commands(CLI::App& app);  ///< ls, limits, doctor
void add_rm_command(CLI::App& app);       ///< rm (any kind, by name or --unused)

} // namespace pipc_cli
