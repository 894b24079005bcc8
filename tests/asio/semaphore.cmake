# Tests of pipc/asio/async_semaphore.hpp and its waiter service. The stress test forks a peer
# and races acquires against cancellations; PIPC_STRESS_DIVISOR scales it down (set under
# sanitizers).
pipc_add_test(asio_async_semaphore SOURCES ${CMAKE_CURRENT_LIST_DIR}/async_semaphore.cpp)
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/async_semaphore_threaded.cpp)
  pipc_add_test(asio_async_semaphore_threaded
                SOURCES ${CMAKE_CURRENT_LIST_DIR}/async_semaphore_threaded.cpp LABELS threaded)
endif()
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/async_semaphore_stress.cpp)
  pipc_add_test(asio_async_semaphore_stress
                SOURCES ${CMAKE_CURRENT_LIST_DIR}/async_semaphore_stress.cpp TIMEOUT 240)
endif()
