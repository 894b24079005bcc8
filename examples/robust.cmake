# SPDX-License-Identifier: BSL-1.0
# Examples of pipc/robust_mutex.hpp and pipc/asio/process_watcher.hpp (included from
# examples/CMakeLists.txt).
pipc_add_example(robust_mutex_supervisor)
