// The bit-packed row reader (rlwe::detail::ByteReader::packed_below) against the writer for every
// width 0..64 and lengths around the 8-byte load boundary: exact round trips, the first value not
// below the bound named, nonzero padding bits refused, truncation refused.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "common/error.h"
#include "he/rlwe/byte_io.h"

namespace leukocrypt::rlwe::detail {
namespace {

std::vector<std::uint64_t> values(std::size_t n, int bits, std::mt19937_64& rng) {
  std::vector<std::uint64_t> v(n);
  const std::uint64_t mask = bits == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1;
  for (auto& x : v) x = rng() & mask;
  if (n > 0) v.back() = bits == 64 ? mask - 1 : mask;  // the widest value last (below the 64-bit bound)
  return v;
}

TEST(PackedRows, EveryWidthRoundTripsExactly) {
  std::mt19937_64 rng(11);
  for (int bits = 0; bits <= 64; ++bits)
    for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 15u, 64u, 1000u}) {
      const auto v = values(n, bits, rng);
      ByteWriter w;
      w.packed(v.data(), n, bits);
      w.u8(0xA5);  // something after the row: the reader must stop at the row's end
      const std::string bytes = w.take();
      ByteReader r(bytes);
      std::vector<std::uint64_t> got(n, 12345);
      r.packed_below(got.data(), n, bits, ~std::uint64_t{0}, "row");
      EXPECT_EQ(got, v) << bits << " bits, n = " << n;
      EXPECT_EQ(r.u8("tail"), 0xA5) << bits << " bits, n = " << n;
    }
}

TEST(PackedRows, TheFirstValueAtOrAboveTheBoundIsNamed) {
  std::mt19937_64 rng(12);
  for (int bits : {5, 31, 50, 56, 60})
    for (std::size_t bad : {0u, 6u, 99u}) {
      const std::uint64_t bound = std::uint64_t{1} << (bits - 1);
      auto v = values(100, bits - 1, rng);  // all below the bound
      v[bad] = bound;
      v[99 - bad / 2] = bound + 1;
      ByteWriter w;
      w.packed(v.data(), v.size(), bits);
      const std::string bytes = w.take();
      ByteReader r(bytes);
      std::vector<std::uint64_t> got(v.size());
      try {
        r.packed_below(got.data(), got.size(), bits, bound, "row 3");
        FAIL() << "accepted a value >= the bound";
      } catch (const FormatError& e) {
        const std::size_t first = std::min(bad, std::size_t(99 - bad / 2));
        EXPECT_NE(std::string(e.what()).find("coefficient " + std::to_string(first) + " of row 3"), std::string::npos)
            << e.what();
      }
    }
}

TEST(PackedRows, NonzeroPaddingAndTruncationAreRefused) {
  for (int bits : {3, 50, 61}) {
    const std::size_t n = 9;  // 9 * bits is not a multiple of 8: the last byte has padding
    std::vector<std::uint64_t> v(n, 1);
    ByteWriter w;
    w.packed(v.data(), n, bits);
    std::string bytes = w.take();
    bytes.back() = char(static_cast<unsigned char>(bytes.back()) | 0x80);
    std::vector<std::uint64_t> got(n);
    ByteReader r(bytes);
    EXPECT_THROW(r.packed_below(got.data(), n, bits, ~std::uint64_t{0}, "row"), FormatError) << bits;
    bytes.pop_back();
    ByteReader t(bytes);
    EXPECT_THROW(t.packed_below(got.data(), n, bits, ~std::uint64_t{0}, "row"), FormatError) << bits;
  }
}

}  // namespace
}  // namespace leukocrypt::rlwe::detail
