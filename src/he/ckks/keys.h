// CKKS key material: the scheme-neutral RLWE keys (rlwe/keys.h). Rotations of the N/2 slots use
// the Galois elements 5^step mod 2N (the special FFT's rotation group); conjugation uses 2N - 1.
#pragma once

#include <cstddef>
#include <cstdint>

#include "he/rlwe/keys.h"

namespace leukocrypt::ckks {

using rlwe::GaloisKeys;
using rlwe::KeySwitchKey;
using rlwe::PublicKey;
using rlwe::RelinKeys;
using rlwe::SecretKey;

inline constexpr std::uint32_t kRotationGenerator = 5;

// Rotation of the slots left by step (right for step < 0), 0 < |step| < N/2.
inline std::uint32_t galois_elt_for_rotation(int step, std::size_t n) {
  return rlwe::galois_elt_for_step(step, n, kRotationGenerator);
}
inline std::uint32_t galois_elt_for_conjugation(std::size_t n) { return rlwe::galois_elt_for_columns(n); }

}  // namespace leukocrypt::ckks
