// SPDX-License-Identifier: BSL-1.0
// pipc/shared_memory.hpp - a named POSIX shared-memory segment (shm_open), blocking and RAII.
#pragma once

#include <pipc/export.hpp>

#include <pipc/error.hpp>
#include <pipc/mapping.hpp>
#include <pipc/open_mode.hpp>

#include <sys/types.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace pipc {

/// Options for shared_memory::open.
struct shared_memory_options {
    /// Open an existing segment, create one, or either (posix_ipc's O_CREAT/O_EXCL flags).
    open_mode open = open_mode::open_existing;
    /// Mode bits of a created segment, applied exactly whatever the umask (fchmod after create).
    ::mode_t permissions = 0600;
    /// Size of a created segment (0 leaves it empty). Ignored when an existing one is opened,
    /// unless `truncate` is set.
    std::uint64_t size = 0;
    /// Open O_RDONLY: only const_mapping, no resize. Creating read-only needs size 0.
    bool read_only = false;
    /// O_TRUNC: an existing segment becomes `size` zero-filled bytes (0 by default), as
    /// posix_ipc's O_TRUNC with a size. The space is reserved before any byte is cleared, so when
    /// it does not fit (errc::no_space) the segment keeps its data and size. Needs a read-write
    /// handle.
    bool truncate = false;
};

/// A named shared-memory segment, posix_ipc's `SharedMemory`, plus the mapping it lacks.
///
/// Creating a segment with a size reserves the space (posix_fallocate), so a full /dev/shm is
/// errc::no_space at creation instead of a SIGBUS on first touch, and the half-made segment is
/// removed again. Unlike posix_ipc, opening an existing segment never resizes it (use resize()).
///
/// The destructor closes the descriptor and never unlinks; mappings outlive the handle.
///
/// @par Thread safety
/// Distinct objects: safe. Shared object: const calls may run concurrently; `open`, `close`,
/// `resize` and moves may not overlap with anything else.
///
/// @par Errors
/// Each throwing call throws pipc::error (a subclass by condition, see pipc::condition); its
/// twin taking `error_code& ec` sets `ec` instead and never throws. A closed handle reports
/// errc::closed.
///
/// @par Exception safety
/// A failed call changes nothing; a segment a failed open created is removed again.
class PIPC_API shared_memory {
public:
    /// As a `length`: everything from the offset to the end of the segment.
    static constexpr std::uint64_t whole = std::numeric_limits<std::uint64_t>::max();

    /// The options type, for `shared_memory::options{...}`.
    using options = shared_memory_options;

    /// A closed handle; open it with open() or by move-assignment.
    shared_memory() noexcept = default;
    /// Opens or creates the segment `name` as `opts` says. @throws pipc::error
    explicit shared_memory(std::string_view name, const options& opts = {});
    /// Creates a segment under a fresh unique name (name() tells it). @throws pipc::error
    shared_memory(unique_name_t, const options& opts = {});
    /// Takes over `other`'s descriptor; `other` is left closed.
    shared_memory(shared_memory&& other) noexcept;
    /// Closes this handle, then takes over `other`'s; `other` is left closed.
    shared_memory& operator=(shared_memory&& other) noexcept;
    shared_memory(const shared_memory&) = delete;
    shared_memory& operator=(const shared_memory&) = delete;
    /// Closes the descriptor; never unlinks. Mappings stay valid.
    ~shared_memory();

    /// @{
    /// Opens or creates the segment `name` as `opts` says; an open handle lets go of its
    /// segment only once the new one is open. @throws pipc::error (the `ec` form sets `ec`).
    void open(std::string_view name, const options& opts);
    void open(std::string_view name, const options& opts, error_code& ec);
    /// @}
    /// @{
    /// Creates a segment under a fresh unguessable name (exclusive; a few retries on collision).
    void open(unique_name_t, const options& opts);
    void open(unique_name_t, const options& opts, error_code& ec);
    /// @}

    /// True between a successful open and close.
    bool is_open() const noexcept { return fd_ >= 0; }
    /// The name it was opened with (kept after close(), so unlink() still works).
    const std::string& name() const noexcept { return name_; }
    /// True when the last open() created the segment rather than opening an existing one.
    bool created() const noexcept { return created_; }
    /// True when opened O_RDONLY (only map_read_only() works).
    bool read_only() const noexcept { return read_only_; }
    /// The requested mode bits (posix_ipc's `mode`), not those of a pre-existing segment.
    ::mode_t permissions() const noexcept { return permissions_; }
    /// The descriptor (posix_ipc's `fd`), -1 when closed. Still owned by this object.
    int native_handle() const noexcept { return fd_; }

    /// @{
    /// The size now (fstat on every call: another process may have resized it).
    std::uint64_t size() const;
    std::uint64_t size(error_code& ec) const;
    /// @}
    /// @{
    /// Grows (reserving the space) or shrinks the segment. Shrinking under another process's
    /// mapping makes its access to the lost pages raise SIGBUS.
    void resize(std::uint64_t new_size);
    void resize(std::uint64_t new_size, error_code& ec);
    /// @}

    /// @{
    /// Maps [offset, offset+length) read-write; `whole` means "to the end". Any offset is fine
    /// (pipc aligns the mmap itself). Fails with errc::read_only on a read-only handle,
    /// errc::empty_segment for a 0-byte segment, errc::mapping_out_of_range past the end.
    mapping map(std::uint64_t offset = 0, std::uint64_t length = whole) const;
    mapping map(std::uint64_t offset, std::uint64_t length, error_code& ec) const;
    /// @}
    /// @{
    /// Maps [offset, offset+length) read-only, with the rules of map(); works on read-only and
    /// read-write handles.
    const_mapping map_read_only(std::uint64_t offset = 0, std::uint64_t length = whole) const;
    const_mapping map_read_only(std::uint64_t offset, std::uint64_t length, error_code& ec) const;
    /// @}

    /// @{
    /// Closes the descriptor (posix_ipc's close_fd); mappings stay valid. Closing twice does
    /// nothing.
    void close();
    void close(error_code& ec);
    /// @}
    /// @{
    /// Removes the name (shm_unlink); works before or after close(). Missing name:
    /// condition::existential.
    void unlink();
    void unlink(error_code& ec);
    /// @}
    /// @{
    /// Removes the segment `name` (shm_unlink), as unlink_shared_memory().
    static void unlink(std::string_view name);
    static void unlink(std::string_view name, error_code& ec);
    /// @}

private:
    struct raw_mapping {
        void* base;
        std::size_t mapped_length;
        std::size_t lead;
        std::size_t length;
    };
    raw_mapping map_raw(std::uint64_t offset, std::uint64_t length, bool writable,
                        error_code& ec) const;

    int fd_ = -1;
    std::string name_;
    ::mode_t permissions_ = 0600;
    bool created_ = false;
    bool read_only_ = false;
};

/// @{
/// Removes a shared-memory segment by name; the same as shared_memory::unlink(name).
PIPC_API void unlink_shared_memory(std::string_view name);
PIPC_API void unlink_shared_memory(std::string_view name, error_code& ec);
/// @}

} // namespace pipc
