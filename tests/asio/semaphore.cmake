# SPDX-License-Identifier: BSL-1.0
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
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/async_semaphore_fanout.cpp)
  pipc_add_test(asio_async_semaphore_fanout
                SOURCES ${CMAKE_CURRENT_LIST_DIR}/async_semaphore_fanout.cpp LABELS threaded
                TIMEOUT 600)
endif()
# The same tests on the fallback helpers (one sem_clockwait thread per semaphore), which the
# service uses where futex_waitv or glibc's sem_t layout is not available.
foreach(t asio_async_semaphore asio_async_semaphore_threaded asio_async_semaphore_stress
          asio_async_semaphore_fanout)
  if(TARGET ${t})
    get_test_property(${t} LABELS labels)
    get_test_property(${t} TIMEOUT timeout)
    add_test(NAME ${t}_fallback COMMAND ${t} --log_level=message --report_level=short)
    set_tests_properties(${t}_fallback PROPERTIES ENVIRONMENT PIPC_SEMAPHORE_WAITV=0
                                                  TIMEOUT ${timeout})
    if(labels)
      set_tests_properties(${t}_fallback PROPERTIES LABELS "${labels}")
    endif()
  endif()
endforeach()
