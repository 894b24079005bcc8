# SPDX-License-Identifier: BSL-1.0
# Warning and sanitizer flags for pipc's own targets only; consumers never inherit them.
function(pipc_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                           -Wno-sign-conversion)
  if(PIPC_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${PIPC_SANITIZE} -fno-omit-frame-pointer
                                             -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=${PIPC_SANITIZE})
  endif()
endfunction()
