// Binary serialization of BFV parameters, keys, plaintexts and ciphertexts (keys and the shared
// header/row layout are rlwe's: rlwe/serialization.h). Layout (little-endian):
//   magic "LKCR" | u16 format version | u16 object type | u64 params id | object body
// Bodies carry their sizes (N, level, size, counts), then polynomial rows bit-packed: one width
// byte per row (bits of the row's largest coefficient, at most ceil(log2 q_i)), then each row in
// n * width bits, least significant bit first (version 1 stored 8 bytes per coefficient; about
// 22% larger at 50-bit primes). Secret keys store 2 bits per ternary coefficient. Loading untrusted
// bytes validates everything -- magic, version, type, params id against the context, every size
// against the params, every coefficient < its prime, no trailing bytes -- and throws FormatError
// with a message naming the field. Public keys and fresh symmetric ciphertexts may be stored with
// the 32-byte seed of their uniform part instead of the polynomial (half the size).
// save/load of SecretKey are defined in lc_he_secret (the HTTP service cannot link them).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "he/bfv/ciphertext.h"
#include "he/bfv/context.h"
#include "he/bfv/keys.h"
#include "he/bfv/params.h"
#include "he/bfv/plaintext.h"
#include "he/rlwe/serialization.h"

namespace leukocrypt::bfv {

using rlwe::kFormatVersion;
using rlwe::ObjectType;
// Keys: rlwe::save / load_public_key / load_relin_keys / load_galois_keys / load_secret_key.
using rlwe::check_galois_keys;
using rlwe::GaloisKeysSummary;
using rlwe::load_galois_keys;
using rlwe::load_public_key;
using rlwe::load_relin_keys;
using rlwe::load_secret_key;
using rlwe::save;
using rlwe::save_galois_key;
using rlwe::save_galois_keys_header;

std::string save(const Params& params);
std::string save(const Plaintext& pt);
std::string save(const Ciphertext& ct);
// Seeded form of a fresh symmetric ciphertext: c0 plus the seed c1 was expanded from (see
// SymmetricEncryptor::encrypt(pt, &seed)). The caller vouches that ct's c1 came from seed.
std::string save_seeded(const Ciphertext& ct, const he::Seed& seed);

// Checks the Params' own security rules again (SecurityError when weaker than 128-bit and not
// marked insecure).
// A file marked insecure-for-tests is itself refused (SecurityError) unless the caller allows it:
// the level is never lowered by the bytes alone.
Params load_params(std::string_view bytes, bool allow_insecure_for_tests = false);
Plaintext load_plaintext(const Context& ctx, std::string_view bytes);
Ciphertext load_ciphertext(const Context& ctx, std::string_view bytes);

// Checking untrusted ciphertexts without building them: the same validation as load_ciphertext
// (header, N, level, size, every coefficient < q_i, seeded only when fresh), then visit(poly,
// prime, row) for every row the bytes carry: both polynomials, or only poly 0 of a seeded one
// (its poly 1 is the seed's expansion, uniform mod q_i by construction, and is not expanded here).
struct CiphertextShape {
  std::size_t level = 0, size = 0;
  bool seeded = false;
};
using SentRowVisitor = std::function<void(std::size_t poly, std::size_t prime, const std::uint64_t* row)>;
CiphertextShape inspect_ciphertext(const Context& ctx, std::string_view bytes, const SentRowVisitor& visit);

}  // namespace leukocrypt::bfv
