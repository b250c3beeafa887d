// Circuit privacy (model privacy) for the ciphertexts the provider returns. Without it a result's
// c1 is a deterministic function of the request and the weights, and its noise depends on the
// weights: the key holder, who decrypts exact logits and can measure the noise, learns about the
// model. Before a result leaves the server each ciphertext is
//   1. re-randomised: a fresh public-key encryption of zero (switched to its level) is added,
//      so c1 is an RLWE sample independent of the computation;
//   2. noise-flooded: c0 += e, e uniform in [-2^b, 2^b) per coefficient with 2^b = Delta / 8
//      (Delta = floor(Q_l/t) at the result's level l), far above the evaluation noise.
// Statistical security: for evaluation noise |v| <= 2^w the flooded noise v + e is within
// statistical distance 2^(w - b - 1) of e alone per coefficient, so a job of C coefficients is
// within C * 2^(w - b - 1) <= 2^-40 when the budget left before flooding is at least
// reserved_bits(): `leukocrypt params` reserves it on top of the margin (Gentry 2009, Sec. 21;
// Bourse et al. 2016 for the flooding argument), and the server refuses parameters that do not.
#pragma once

#include <cstddef>
#include <cstdint>

#include "he/bfv/context.h"
#include "he/bfv/encryptor.h"
#include "he/bfv/evaluator.h"
#include "he/bfv/keys.h"

namespace leukocrypt::nn {

inline constexpr int kCircuitPrivacyStatisticalBits = 40;
// Bits between the flooding bound 2^b and Delta (decryption stays exact with room to spare).
inline constexpr int kFloodGuardBits = 3;
// The most result ciphertexts one job holds (16,384 cells / 4096 slots x 4 primes x classes is far below).
inline constexpr double kMaxResultCiphertexts = 1 << 16;

// Noise budget (bits) a result must have left, before flooding, for statistical security 2^-40
// over kMaxResultCiphertexts ciphertexts of N coefficients: 40 + guard + 1 + log2(N * count).
double circuit_privacy_reserved_bits(std::size_t n);

class CircuitPrivacy {
 public:
  // pk: the key holder's public key for this plaintext prime (uploaded with the evaluation keys).
  CircuitPrivacy(bfv::ContextPtr ctx, const bfv::PublicKey& pk);
  // Re-randomises and floods ct in place (size 2, any level). Thread-safe.
  void apply(bfv::Ciphertext& ct) const;
  // log2 of the flooding bound at `level` (b above).
  int flood_bits(std::size_t level) const;

 private:
  bfv::ContextPtr ctx_;
  bfv::Encryptor encryptor_;
  bfv::Evaluator evaluator_;
};

}  // namespace leukocrypt::nn
