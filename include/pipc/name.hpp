// SPDX-License-Identifier: BSL-1.0
// pipc/name.hpp - validation and generation of IPC object names.
#pragma once

#include <pipc/export.hpp>

#include <pipc/error.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace pipc {

/// The three kinds of POSIX IPC object.
enum class object_kind { semaphore, shared_memory, message_queue };

/// Longest name (in bytes, after the leading '/') the kernel accepts for `kind`: 255 for queues and
/// shared memory, 251 for semaphores (glibc stores them as /dev/shm/sem.NAME).
PIPC_API std::size_t max_name_length(object_kind kind) noexcept;

/// Checks `name` the same way for every kind: exactly one leading '/', no other '/', not "/." or
/// "/..", no NUL byte, at most max_name_length(kind) bytes after the '/'. The kernel's own answers
/// differ per kind and some bad names silently alias others ("//x" is "/x" for shm), hence this.
/// @returns an empty code, errc::invalid_name or errc::name_too_long.
PIPC_API error_code validate_name(object_kind kind, std::string_view name) noexcept;

/// A fresh name "/pipc-" followed by 20 random base-32 characters read from getrandom(2): 100 bits,
/// so names cannot be guessed by other users. Does not check that the name is unused.
PIPC_API std::string generate_name();

} // namespace pipc
