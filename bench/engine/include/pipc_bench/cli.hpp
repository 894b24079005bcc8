// SPDX-License-Identifier: BSL-1.0
// pipc_bench/cli.hpp - the command-line face of the benchmark engine, shared by `pipc-bench`
// and `pipc bench` so both take exactly the same options.
#pragma once

#include <pipc_bench/engine.hpp>

#include <CLI/CLI.hpp>

#include <memory>

namespace pipc_bench {

/// Registers every bench option on `app` (a root app or a subcommand), storing into `opts`.
void add_bench_options(CLI::App& app, const std::shared_ptr<options>& opts);

/// Runs the bench with `opts`; on failure prints one line to stderr and throws
/// CLI::RuntimeError(exit_code), as a CLI11 callback should.
void run_bench_or_throw(const options& opts, const std::string& command_line);

/// Registers a `bench` subcommand with all options; its callback runs the bench.
CLI::App* add_bench_command(CLI::App& app);

} // namespace pipc_bench
