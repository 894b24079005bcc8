# SPDX-License-Identifier: BSL-1.0
# Tests of pipc/asio/process_watcher.hpp (and the Asio side of the robust mutex).
pipc_add_test(asio_process_watcher SOURCES ${CMAKE_CURRENT_LIST_DIR}/process_watcher.cpp
              LABELS threaded)
pipc_add_test(asio_async_robust_mutex SOURCES ${CMAKE_CURRENT_LIST_DIR}/async_robust_mutex.cpp
              LABELS threaded)
