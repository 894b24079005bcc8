// SPDX-License-Identifier: BSL-1.0
// tests/common/pipc_test/sanitizers.hpp - skipping what a sanitizer cannot run.
#pragma once

#include <boost/test/detail/global_typedef.hpp>
#include <boost/test/tools/assertion_result.hpp>

namespace pipc_test {

/// A Boost.Test precondition (`*boost::unit_test::precondition(not_under_thread_sanitizer)`) for
/// tests that ThreadSanitizer cannot run, such as threads it does not see start (glibc's
/// SIGEV_THREAD helper) or threads started in the child of a multi-threaded fork, which it
/// stops. The normal and ASan builds run them.
inline boost::test_tools::assertion_result
not_under_thread_sanitizer(boost::unit_test::test_unit_id /*unused*/) {
#if defined(__SANITIZE_THREAD__)
    return {false};
#else
    return {true};
#endif
}

} // namespace pipc_test
