# SPDX-License-Identifier: BSL-1.0
# Spinning waits (pipc::wait_strategy) of async_semaphore and async_message_queue.
pipc_add_test(asio_async_wait_strategy SOURCES ${CMAKE_CURRENT_LIST_DIR}/async_wait_strategy.cpp
              LABELS threaded)
