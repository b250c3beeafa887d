// AlignedBuffer: alignment, deliberate copies only (clone), moves leave the source empty.
#include "common/aligned_buffer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <type_traits>

namespace leukocrypt {
namespace {

static_assert(!std::is_copy_constructible_v<AlignedBuffer<std::uint64_t>>, "copies must go through clone()");
static_assert(!std::is_copy_assignable_v<AlignedBuffer<std::uint64_t>>, "copies must go through clone()");
static_assert(std::is_nothrow_move_constructible_v<AlignedBuffer<std::uint64_t>>);
static_assert(std::is_nothrow_move_assignable_v<AlignedBuffer<std::uint64_t>>);

TEST(AlignedBuffer, CloneCopiesAndMoveEmptiesTheSource) {
  AlignedBuffer<std::uint64_t> a(100);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a.data()) % AlignedBuffer<std::uint64_t>::kAlignment, 0u);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = i * 7;
  auto b = a.clone();
  ASSERT_EQ(b.size(), 100u);
  EXPECT_NE(b.data(), a.data());
  for (std::size_t i = 0; i < b.size(); ++i) EXPECT_EQ(b[i], i * 7);
  AlignedBuffer<std::uint64_t> c;
  c = std::move(a);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(c[99], 99u * 7);
}

}  // namespace
}  // namespace leukocrypt
