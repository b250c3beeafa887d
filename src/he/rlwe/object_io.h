// Building blocks of the serialized formats (internal to the engine): the object header and
// bit-packed polynomial rows (see serialization.h for the layout and the checks).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "he/ring/sampler.h"
#include "he/rlwe/byte_io.h"
#include "he/rlwe/ring_context.h"
#include "he/rlwe/security.h"
#include "he/rlwe/serialization.h"

namespace leukocrypt::rlwe::detail {

const char* type_name(ObjectType t);
void write_header(ByteWriter& w, ObjectType type, std::uint64_t params_id);
// Reads and checks magic, version and type; returns the params id.
std::uint64_t read_header(ByteReader& r, ObjectType type);
// Same, and the params id must be ctx's.
std::uint64_t read_header_for(ByteReader& r, ObjectType type, const RingContext& ctx);
void expect_eq(std::uint64_t got, std::uint64_t want, const char* field);

// The modulus chain that starts every params body: u32 N | u32 prime count L + ((k - 1) << 16) |
// u64 q_i... | u64 p_m... (k special primes; k = 1 writes the original layout).
struct ModulusChain {
  std::uint32_t n = 0;
  std::vector<std::uint64_t> q;
  std::vector<std::uint64_t> specials;
};
void write_chain(ByteWriter& w, std::size_t n, const std::vector<std::uint64_t>& q,
                 const std::vector<std::uint64_t>& specials);
ModulusChain read_chain(ByteReader& r);
// u8 security level (0: 128-bit, 1: insecure for tests).
Security read_security(ByteReader& r);

// make() builds the params from loaded fields; its InvalidArgument becomes FormatError("invalid
// <what>: ..."), and the result's id must equal the header's.
template <class Make>
auto checked_params(std::uint64_t header_id, const char* what, Make make) {
  auto p = [&] {
    try {
      return make();
    } catch (const InvalidArgument& e) {
      throw FormatError(std::string("invalid ") + what + ": " + e.what());
    }
  }();
  if (p.id() != header_id) throw FormatError("params id in the header does not match the parameters");
  return p;
}

// Polynomial rows (n coefficients each, contiguous): one width byte per row -- the bits of the
// row's largest coefficient, at most ceil(log2 q) for a row mod q -- then every row bit-packed
// at its width. Width bytes come first so that a loader can check the whole size before it
// allocates anything.
void write_rows(ByteWriter& w, const std::uint64_t* data, std::size_t rows, std::size_t n);

// Reads the width table of `rows` rows (row r holds values below bound(r)), checks each width
// against its modulus and that the packed rows are all present; returns the widths.
template <class Bound>
std::vector<int> read_row_widths(ByteReader& r, std::size_t rows, std::size_t n, Bound bound, const char* what) {
  r.need_bytes(rows, what);
  std::vector<int> widths(rows);
  std::size_t total = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    widths[i] = r.u8("row width");
    const int most = coeff_bits(bound(i));
    if (widths[i] > most)
      throw FormatError(std::string(what) + " row " + std::to_string(i) + " is stored in " + std::to_string(widths[i]) +
                        " bits, its modulus needs at most " + std::to_string(most));
    total += ByteWriter::packed_bytes(n, widths[i]);
  }
  r.need_bytes(total, what);
  return widths;
}

template <class Bound, class Name>
void read_rows(ByteReader& r, std::uint64_t* data, const std::vector<int>& widths, std::size_t n, Bound bound,
               Name name) {
  for (std::size_t i = 0; i < widths.size(); ++i) r.packed_below(data + i * n, n, widths[i], bound(i), name(i));
}

// The polynomials of a ciphertext (size polys of `level` rows): u8 seeded | [32-byte seed] | rows.
// A seeded one stores poly 0 and the seed poly 1 is expanded from (kDomainSymmetric).
void write_ct_polys(ByteWriter& w, const std::uint64_t* raw, std::size_t n, std::size_t level, std::size_t size,
                    const he::Seed* seed);
// Reads them for a ciphertext of that level and size, after which r must be finished. Seeded
// ciphertexts must have size 2 (and be at the top level when fresh_only: BFV's rule). alloc() is
// called once every size has been checked and returns the raw buffer (size * level * N values).
// Returns whether the input was seeded; the caller expands poly 1 with expand_ct_seed after
// r.finish, so trailing bytes are reported first.
template <class Alloc>
std::optional<he::Seed> read_ct_polys(ByteReader& r, const RingContext& ctx, std::size_t level, std::size_t size,
                                      bool fresh_only, Alloc alloc) {
  const std::uint8_t seeded = r.u8("seeded flag");
  if (seeded > 1) throw FormatError("ciphertext seeded flag is " + std::to_string(seeded) + ", expected 0 or 1");
  if (seeded && (size != 2 || (fresh_only && level != ctx.max_level())))
    throw FormatError(fresh_only ? "seeded ciphertext must be fresh (size 2, top level)"
                                 : "seeded ciphertext must have size 2");
  std::optional<he::Seed> seed;
  if (seeded) r.bytes(seed.emplace().data(), 32, "seed");
  const std::size_t n = ctx.n(), stored = seeded ? 1 : size;
  auto bound = [&](std::size_t row) { return ctx.modulus(row % level).value(); };
  auto widths = read_row_widths(r, stored * level, n, bound, "ciphertext");
  read_rows(r, alloc(), widths, n, bound, [&](std::size_t row) {
    return "ciphertext poly " + std::to_string(row / level) + " prime " + std::to_string(row % level);
  });
  return seed;
}
// poly1 (level rows) = the expansion of seed.
void expand_ct_seed(const RingContext& ctx, const he::Seed& seed, std::size_t level, std::uint64_t* poly1);

}  // namespace leukocrypt::rlwe::detail
