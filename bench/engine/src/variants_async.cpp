// The co_await variants (pipc-async, pipc-async-notify). HOOK: filled in when the Asio layer
// (include/pipc/asio/async_message_queue.hpp, async_semaphore.hpp) lands; until then this
// build registers none and the table says so.
#include "cell.hpp"

namespace pipc_bench::detail {

void register_async_variants(std::vector<variant>&) {}

} // namespace pipc_bench::detail
