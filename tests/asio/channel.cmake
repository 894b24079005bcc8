# SPDX-License-Identifier: BSL-1.0
# Tests of include/pipc/asio/async_channel.hpp.
pipc_add_test(asio_async_channel SOURCES ${CMAKE_CURRENT_LIST_DIR}/async_channel.cpp LABELS threaded)
# Spinning waits (pipc::wait_strategy) of async_channel.
pipc_add_test(asio_async_channel_wait_strategy
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/async_channel_wait_strategy.cpp LABELS threaded)
