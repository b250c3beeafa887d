// Binary serialization shared by the schemes. Every object (little-endian):
//   magic "LKCR" | u16 format version | u16 object type | u64 params id | object body
// Bodies carry their sizes, then polynomial rows bit-packed: one width byte per row (bits of the
// row's largest coefficient, at most ceil(log2 q_i)), then each row in n * width bits, least
// significant bit first. Keys are the same objects in BFV and CKKS (the params id tells them
// apart), so their save/load live here; each scheme adds its params, plaintexts and ciphertexts.
// Loading untrusted bytes validates magic, version, type, params id, every size, every row width
// against its prime, the total size before allocating, every coefficient < its prime, ternary
// secret coefficients and trailing bytes; failures throw FormatError naming the field.
// save/load of SecretKey are defined in lc_he_secret (the HTTP service cannot link them).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "he/rlwe/keys.h"
#include "he/rlwe/ring_context.h"

namespace leukocrypt::rlwe {

inline constexpr std::uint16_t kFormatVersion = 2;

enum class ObjectType : std::uint16_t {
  kParams = 1,  // BFV
  kPublicKey = 2,
  kSecretKey = 3,
  kRelinKeys = 4,
  kGaloisKeys = 5,
  kPlaintext = 6,   // BFV
  kCiphertext = 7,  // BFV
  kCkksParams = 8,
  kCkksPlaintext = 9,
  kCkksCiphertext = 10,
};

// Seeded when the key has a seed (half size): public keys, and every Galois key (the 'a' rows
// of each key-switching key expanded from a 32-byte seed, kDomainKeySwitch). Relinearisation keys
// are stored whole.
std::string save(const PublicKey& pk);
std::string save(const RelinKeys& rk);
std::string save(const GaloisKeys& gk);
// save(GaloisKeys) in pieces, for a writer that makes and drops one key at a time: the header
// (params id, key id, key count), then each (element, key) in increasing element order. The
// concatenation is byte for byte save(GaloisKeys) of the same keys.
std::string save_galois_keys_header(std::uint64_t params_id, std::uint64_t key_id, std::uint32_t count);
std::string save_galois_key(std::uint32_t galois_elt, const KeySwitchKey& key);
PublicKey load_public_key(const RingContext& ctx, std::string_view bytes);
RelinKeys load_relin_keys(const RingContext& ctx, std::string_view bytes);
GaloisKeys load_galois_keys(const RingContext& ctx, std::string_view bytes);

// What check_galois_keys found valid.
struct GaloisKeysSummary {
  std::uint64_t key_id = 0;
  std::vector<std::uint32_t> galois_elts;  // increasing
};
// Validates serialized Galois keys exactly as load_galois_keys does (header, params id, every
// size, element order, every stored coefficient < its prime, no trailing bytes) without building
// them, for a server that checks an upload and stores its bytes: one key's buffer is reused, and
// the 'a' rows of seeded keys are not expanded (the seed expands to values < q by construction).
// Throws FormatError as load_galois_keys.
GaloisKeysSummary check_galois_keys(const RingContext& ctx, std::string_view bytes);

// lc_he_secret only.
std::string save(const SecretKey& sk);
SecretKey load_secret_key(const RingContext& ctx, std::string_view bytes);

}  // namespace leukocrypt::rlwe
