// SPDX-License-Identifier: BSL-1.0
#include <pipc/mapping.hpp>

#include "common.hpp"
#include "sys.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <utility>

namespace pipc::detail {

mapping_base::mapping_base(void* base, std::size_t mapped_length, std::size_t lead,
                           std::size_t length, std::uint64_t offset) noexcept
    : base_(base), mapped_length_(mapped_length), lead_(lead), length_(length), offset_(offset) {}

mapping_base::mapping_base(mapping_base&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)),
      mapped_length_(std::exchange(other.mapped_length_, 0)), lead_(std::exchange(other.lead_, 0)),
      length_(std::exchange(other.length_, 0)), offset_(std::exchange(other.offset_, 0)) {}

mapping_base& mapping_base::operator=(mapping_base&& other) noexcept {
    if (this != &other) {
        unmap();
        base_ = std::exchange(other.base_, nullptr);
        mapped_length_ = std::exchange(other.mapped_length_, 0);
        lead_ = std::exchange(other.lead_, 0);
        length_ = std::exchange(other.length_, 0);
        offset_ = std::exchange(other.offset_, 0);
    }
    return *this;
}

mapping_base::~mapping_base() {
    unmap();
}

void mapping_base::unmap() noexcept {
    if (!base_) return;
    sys().munmap(std::exchange(base_, nullptr), mapped_length_);
    mapped_length_ = lead_ = length_ = 0;
    offset_ = 0;
}

void mapping_base::flush(error_code& ec) {
    ec = {};
    if (!base_) {
        ec = make_error_code(errc::closed);
        return;
    }
    if (sys().msync(base_, mapped_length_, MS_SYNC) != 0) ec = errno_code();
}

void mapping_base::flush() {
    error_code ec;
    flush(ec);
    if (ec) throw_error(ec, "mapping::flush");
}

void mapping_base::check_view(std::size_t offset, std::size_t size, std::size_t align) const {
    const bool fits = base_ && offset <= length_ && size <= length_ - offset;
    const auto address = reinterpret_cast<std::uintptr_t>(data_ptr() + offset);
    if (!fits || address % align != 0)
        throw_error(make_error_code(errc::mapping_out_of_range), "mapping::as");
}

} // namespace pipc::detail
