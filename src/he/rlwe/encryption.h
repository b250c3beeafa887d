// RLWE encryptions of zero and the secret-key inner product, shared by BFV and CKKS (each scheme
// then adds its encoded message to c0, or reads it from c0 + c1*s). Polynomials are prime-major
// rows of N values over the first `level` primes, in coefficient form or, with ntt_form = true,
// in the NTT domain (CKKS keeps ciphertexts there, BFV does not).
//  - encrypt_zero_public (lc_he): (pk0*u + e0, pk1*u + e1), u ternary, e_i CBD(21).
//  - encrypt_zero_symmetric, dot_with_secret (lc_he_secret): they use the secret key.
#pragma once

#include <cstddef>
#include <cstdint>

#include "he/ring/sampler.h"
#include "he/rlwe/keys.h"
#include "he/rlwe/ring_context.h"

namespace leukocrypt::rlwe {

// Seed-expansion domains (ChaCha20 nonces): must never change, they define the seeded formats.
inline constexpr std::uint64_t kDomainPublicKey = 1;
inline constexpr std::uint64_t kDomainSymmetric = 2;
inline constexpr std::uint64_t kDomainKeySwitch = 3;

// out rows 0..rows-1 uniform mod prime i (rows prime-major, n per row), in row order. Uniform in
// either domain, so the same expansion serves coefficient-form and NTT-form polynomials.
void expand_uniform(he::Prng& prng, const RingContext& ring, std::size_t rows, std::uint64_t* out);

// Every 'a' row of a key-switching key (digit-major, then prime j = 0..L, the special prime last)
// expanded from seed (domain kDomainKeySwitch); the 'b' rows are left as they are. Key
// generation and the seeded Galois key loader both call it, so the two agree by construction.
void expand_key_switch_seed(const RingContext& ring, const he::Seed& seed, KeySwitchKey& key);

// c0, c1: `level` rows each. pk must belong to ring (checked by the caller's Encryptor).
void encrypt_zero_public(const RingContext& ring, const PublicKey& pk, std::size_t level, bool ntt_form,
                         std::uint64_t* c0, std::uint64_t* c1);

// c1 = a expanded from seed (domain kDomainSymmetric), c0 = -(a*s) + e. lc_he_secret.
void encrypt_zero_symmetric(const RingContext& ring, const SecretKey& sk, const he::Seed& seed, std::size_t level,
                            bool ntt_form, std::uint64_t* c0, std::uint64_t* c1);

// out (level rows) = c_0 + c_1*s + ... + c_{size-1}*s^{size-1}, every poly in the given form;
// poly k, prime i is at polys + (k*level + i)*N. lc_he_secret.
void dot_with_secret(const RingContext& ring, const SecretKey& sk, const std::uint64_t* polys, std::size_t size,
                     std::size_t level, bool ntt_form, std::uint64_t* out);

}  // namespace leukocrypt::rlwe
