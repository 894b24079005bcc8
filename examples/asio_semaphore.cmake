# SPDX-License-Identifier: BSL-1.0
# Examples of pipc/asio/async_semaphore.hpp (included from examples/CMakeLists.txt).
pipc_add_example(asio_semaphore_lock)
pipc_add_example(asio_semaphore_producer_consumer)
