# SPDX-License-Identifier: BSL-1.0
# Asio message-queue examples (included from examples/CMakeLists.txt). Each forks its own peer,
# runs to completion, removes its queues and exits 0.
pipc_add_example(asio_mq_request_reply)
pipc_add_example(asio_mq_daemon)
pipc_add_example(asio_mq_tcp_frontend)
