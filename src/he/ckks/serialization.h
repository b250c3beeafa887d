// Binary serialization of CKKS params, plaintexts and ciphertexts; keys are the shared RLWE key
// objects (rlwe/serialization.h) stored with the CKKS params id. Same header and bit-packed rows
// as BFV ("LKCR" | u16 version | u16 type | u64 params id | body), own object types:
//   params (8):     u32 N | u32 prime count | u64 q_i... | u64 special | f64 default scale | u8 security
//   plaintext (9):  u32 N | u32 level | f64 scale | level rows (NTT domain)
//   ciphertext (10): u32 N | u32 level | u32 size | f64 scale | u8 seeded | [32-byte seed] | rows
// A seeded ciphertext (fresh from SymmetricEncryptor, size 2, any level) stores c0 and the seed
// c1 was expanded from: half the size. Loading validates magic, version, type, params id, every
// size, the scale (finite, > 0), every row width and coefficient against its prime, trailing
// bytes; failures throw FormatError naming the field.
#pragma once

#include <string>
#include <string_view>

#include "he/ckks/ciphertext.h"
#include "he/ckks/context.h"
#include "he/ckks/keys.h"
#include "he/ckks/params.h"
#include "he/ckks/plaintext.h"
#include "he/ring/sampler.h"
#include "he/rlwe/serialization.h"

namespace leukocrypt::ckks {

// Keys: rlwe::save / load_public_key / load_relin_keys / load_galois_keys / load_secret_key.
using rlwe::load_galois_keys;
using rlwe::load_public_key;
using rlwe::load_relin_keys;
using rlwe::load_secret_key;
using rlwe::save;

std::string save(const Params& params);
std::string save(const Plaintext& pt);
std::string save(const Ciphertext& ct);
// c0 plus the seed c1 was expanded from (SymmetricEncryptor::encrypt(pt, &seed)); the caller
// vouches that ct's c1 came from seed. Size-2 ciphertexts only.
std::string save_seeded(const Ciphertext& ct, const he::Seed& seed);

// Checks the Params' own rules again (SecurityError when weaker than 128-bit and not marked
// insecure).
Params load_params(std::string_view bytes);
Plaintext load_plaintext(const Context& ctx, std::string_view bytes);
Ciphertext load_ciphertext(const Context& ctx, std::string_view bytes);

}  // namespace leukocrypt::ckks
