# SPDX-License-Identifier: BSL-1.0
# Asio channel example (included from examples/CMakeLists.txt): forks its clients, runs to
# completion, removes its channels and exits 0.
pipc_add_example(asio_channel_server)
