// SPDX-License-Identifier: BSL-1.0
// tests/common/pipc_test/fault.hpp - swapping entries of pipc's syscall table for one scope.
#pragma once

#include "sys.hpp"

namespace pipc_test {

/// Restores the real syscall table when it goes out of scope, so a failing assertion cannot leak
/// an injected fault into the next test case.
class fault_scope {
public:
    fault_scope() = default;
    ~fault_scope() { pipc::detail::sys() = pipc::detail::real_sys(); }
    fault_scope(const fault_scope&) = delete;
    fault_scope& operator=(const fault_scope&) = delete;
    pipc::detail::sys_table& table() { return pipc::detail::sys(); }
};

} // namespace pipc_test
