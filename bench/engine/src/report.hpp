// SPDX-License-Identifier: BSL-1.0
// report.hpp - rendering a run: terminal table, JSON, SVG, comparison with a previous run.
#pragma once

#include <pipc_bench/engine.hpp>

#include <cstdio>
#include <string>

namespace pipc_bench::detail {

/// "mq/raw" etc.: the floor a cell is compared with ("" for the floors themselves).
std::string floor_of(const cell_result& c);

void print_table(const run_result& r, const options& o, std::FILE* out);
std::string to_json(const run_result& r, const options& o);
/// The table as Markdown (one table per pinning, with the command, date and machine).
void write_markdown(const run_result& r, const options& o, const std::string& path);
void write_svg(const run_result& r, const std::string& path);
/// Prints p50 now vs `path`'s p50 per matching cell; returns false if the file is unusable.
void print_comparison(const run_result& r, const std::string& path, std::FILE* out);

} // namespace pipc_bench::detail
