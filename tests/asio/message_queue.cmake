# SPDX-License-Identifier: BSL-1.0
# Tests of include/pipc/asio/async_message_queue.hpp (both backends run every test).
pipc_add_test(asio_async_message_queue SOURCES ${CMAKE_CURRENT_LIST_DIR}/async_message_queue.cpp)
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/async_message_queue_threaded.cpp)
  pipc_add_test(asio_async_message_queue_threaded
                SOURCES ${CMAKE_CURRENT_LIST_DIR}/async_message_queue_threaded.cpp LABELS threaded)
endif()
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/async_message_queue_stress.cpp)
  pipc_add_test(asio_async_message_queue_stress
                SOURCES ${CMAKE_CURRENT_LIST_DIR}/async_message_queue_stress.cpp)
endif()
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/async_message_queue_open_failure.cpp)
  pipc_add_test(asio_async_message_queue_open_failure
                SOURCES ${CMAKE_CURRENT_LIST_DIR}/async_message_queue_open_failure.cpp)
endif()
# Completion at once (both objects): the immediate executor on Boost >= 1.82, a post before.
pipc_add_test(asio_immediate_completion SOURCES ${CMAKE_CURRENT_LIST_DIR}/immediate_completion.cpp)
# Timed operations (async_send_for/until, async_receive_for/until).
pipc_add_test(asio_async_message_queue_timed
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/async_message_queue_timed.cpp)
# On an io_context made for one thread (concurrency hint 1): one failed call per wait.
pipc_add_test(asio_async_message_queue_one_thread
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/async_message_queue_one_thread.cpp)
