// SPDX-License-Identifier: BSL-1.0
// pipc-bench: the benchmark engine's own front end; `pipc bench` takes the same options.
#include <pipc_bench/cli.hpp>

#include <memory>
#include <string>

int main(int argc, char** argv) {
    CLI::App app{"pipc-bench: round-trip latency and throughput of pipc against the raw POSIX "
                 "floors (see bench/README.md)"};
    auto opts = std::make_shared<pipc_bench::options>();
    pipc_bench::add_bench_options(app, opts);
    CLI11_PARSE(app, argc, argv);
    std::string cmd;
    for (int i = 0; i < argc; ++i) cmd += (i ? " " : "") + std::string(argv[i]);
    try {
        pipc_bench::run_bench_or_throw(*opts, cmd);
    } catch (const CLI::Error& e) {
        return e.get_exit_code();
    }
    return 0;
}
