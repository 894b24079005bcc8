// SPDX-License-Identifier: BSL-1.0
// pipc/mapping.hpp - a RAII view of (part of) a shared-memory segment.
#pragma once

#include <pipc/export.hpp>

#include <pipc/error.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

namespace pipc {

namespace detail {
/// Owns one mmap; the user-visible bytes may start after the page boundary mmap needs.
class PIPC_API mapping_base {
public:
    mapping_base() noexcept = default;
    mapping_base(mapping_base&& other) noexcept;
    mapping_base& operator=(mapping_base&& other) noexcept;
    mapping_base(const mapping_base&) = delete;
    mapping_base& operator=(const mapping_base&) = delete;
    ~mapping_base();

    bool is_mapped() const noexcept { return base_ != nullptr; }
    std::size_t size() const noexcept { return length_; }
    /// Offset of the first byte within the segment.
    std::uint64_t offset() const noexcept { return offset_; }
    /// msync(MS_SYNC): only needed to order writes with readers that read() the segment.
    void flush();
    void flush(error_code& ec);
    /// Unmaps now; the destructor does it otherwise. Unmapping twice does nothing.
    void unmap() noexcept;

protected:
    mapping_base(void* base, std::size_t mapped_length, std::size_t lead, std::size_t length,
                 std::uint64_t offset) noexcept;
    std::byte* data_ptr() const noexcept { return static_cast<std::byte*>(base_) + lead_; }
    /// Throws errc::mapping_out_of_range unless [offset, offset+size) fits and is aligned.
    void check_view(std::size_t offset, std::size_t size, std::size_t align) const;

private:
    void* base_ = nullptr;
    std::size_t mapped_length_ = 0;
    std::size_t lead_ = 0;
    std::size_t length_ = 0;
    std::uint64_t offset_ = 0;
};
} // namespace detail

/// A read-write mapping (MAP_SHARED): writes are seen by every process mapping the segment.
///
/// The mapping stays valid after the shared_memory handle is closed or its name unlinked. It never
/// reaches past the end of the segment as it was when mapped; if another process later shrinks the
/// segment, touching the lost pages raises SIGBUS, as with any mmap.
///
/// Common to both mapping kinds (members of their base): `is_mapped()`, `size()` (bytes viewed),
/// `offset()` (of the first byte within the segment), `flush()` / `flush(ec)` (msync(MS_SYNC),
/// only needed to order writes with readers that read() the segment) and `unmap()` (the
/// destructor does it otherwise; twice does nothing). Move-only.
///
/// @par Thread safety
/// The object: like a std::span. The bytes: shared with other processes; synchronise with a
/// semaphore or atomics.
class PIPC_API mapping : public detail::mapping_base {
public:
    /// An empty mapping (maps nothing).
    mapping() noexcept = default;
    /// The mapped bytes.
    std::span<std::byte> bytes() const noexcept { return {data_ptr(), size()}; }
    /// The first mapped byte (nullptr when empty).
    std::byte* data() const noexcept { return data_ptr(); }

    /// A reference to a trivially copyable T at `offset`, checked for bounds and alignment
    /// (throws errc::mapping_out_of_range otherwise).
    template <class T>
    T& as(std::size_t offset = 0) const {
        static_assert(std::is_trivially_copyable_v<T>,
                      "only trivially copyable types can be shared");
        check_view(offset, sizeof(T), alignof(T));
        return *reinterpret_cast<T*>(data_ptr() + offset);
    }

private:
    using mapping_base::mapping_base;
    friend class shared_memory;
};

/// A read-only mapping, the only kind a read-only shared_memory handle can make. Its members
/// are those of pipc::mapping, const.
class PIPC_API const_mapping : public detail::mapping_base {
public:
    /// An empty mapping (maps nothing).
    const_mapping() noexcept = default;
    /// The mapped bytes.
    std::span<const std::byte> bytes() const noexcept { return {data_ptr(), size()}; }
    /// The first mapped byte (nullptr when empty).
    const std::byte* data() const noexcept { return data_ptr(); }

    /// A const reference to a trivially copyable T at `offset`, checked for bounds and
    /// alignment (throws errc::mapping_out_of_range otherwise).
    template <class T>
    const T& as(std::size_t offset = 0) const {
        static_assert(std::is_trivially_copyable_v<T>,
                      "only trivially copyable types can be shared");
        check_view(offset, sizeof(T), alignof(T));
        return *reinterpret_cast<const T*>(data_ptr() + offset);
    }

private:
    using mapping_base::mapping_base;
    friend class shared_memory;
};

} // namespace pipc
