// CKKS key generation: the scheme-neutral rlwe::KeyGenerator (lc_he_secret) and the CKKS choice
// of Galois elements (rotations by 5^step, conjugation).
#pragma once

#include <vector>

#include "he/ckks/context.h"
#include "he/ckks/keys.h"
#include "he/rlwe/key_generator.h"

namespace leukocrypt::ckks {

using rlwe::KeyGenerator;

// Galois keys for Evaluator::rotate by each step (non-zero, |step| < N/2) and, when conjugation
// is true, for Evaluator::conjugate.
inline GaloisKeys create_rotation_keys(const KeyGenerator& keygen, const std::vector<int>& steps,
                                       bool conjugation = true) {
  return keygen.create_galois_keys(steps, conjugation, kRotationGenerator);
}

}  // namespace leukocrypt::ckks
