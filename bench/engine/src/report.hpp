// SPDX-License-Identifier: BSL-1.0
// report.hpp - rendering a run: terminal table, JSON, SVG, comparison with a previous run.
#pragma once

#include <pipc_bench/engine.hpp>

#include <cstddef>
#include <cstdio>
#include <ostream>
#include <string>

namespace pipc_bench::detail {

/// "mq/raw" etc.: the floor a cell is compared with ("" for the floors themselves).
std::string floor_of(const cell_result& c);

void print_table(const run_result& r, const options& o, std::FILE* out);
std::string to_json(const run_result& r, const options& o);
/// The table as Markdown (one table per pinning, with the command, date and machine).
void write_markdown(const run_result& r, const options& o, const std::string& path);
void write_svg(const run_result& r, const std::string& path);
// ---- SVG pieces shared by the plots of the matrix (write_svg) and of sem-fanout -------------

/// Text with <, > and & escaped for SVG.
std::string svg_escape(const std::string& s);
/// The i-th colour of the plots' palette (wraps around).
const char* svg_colour(std::size_t i);
/// A log10 scale from values to pixels: value 10^lo sits at pixel p0, 10^hi at p1.
struct log_axis {
    /// Covers [vmin, vmax] (vmin at least 0.01): in whole decades, at least one, or else with a
    /// small margin either side (a single value gets half a decade each way).
    log_axis(double vmin, double vmax, double pixel_lo, double pixel_hi, bool whole_decades = true);
    double operator()(double v) const;
    double lo = 0, hi = 1, p0 = 0, p1 = 1;
};
/// Horizontal grid lines and labels at 1, 2, 5 per decade of `y`, from x0 to x1.
void svg_log_grid_y(std::ostream& s, const log_axis& y, double x0, double x1);
/// Opens the <svg> element: white background and a bold title naming pipc's version, `title`
/// and the CPU model.
void svg_begin(std::ostream& s, double width, double height, const std::string& title);
/// Writes `text` to `path`, throwing std::runtime_error if that fails.
void write_text_file(const std::string& path, const std::string& text);

/// Prints p50 now vs `path`'s p50 per matching cell; returns false if the file is unusable.
void print_comparison(const run_result& r, const std::string& path, std::FILE* out);

} // namespace pipc_bench::detail
