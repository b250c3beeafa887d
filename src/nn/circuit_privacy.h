// Circuit privacy (model privacy) for the ciphertexts the provider returns. Without it a result's
// c1 is a deterministic function of the request and the weights, and its noise depends on the
// weights: the key holder, who decrypts exact logits and can measure the noise, learns about the
// model. Before a result leaves the server (after its last mod switch, at its final level l) each
// ciphertext is
//   1. re-randomised: a fresh public-key encryption of zero (switched to level l) is added,
//      so c1 is an RLWE sample independent of the computation;
//   2. noise-flooded: c0 += e, e = u1 + u2 + u3 with u_k independent and uniform in [-2^b, 2^b)
//      (integers), b = floor(log2 Delta_l) - 3 (so Delta/16 < 2^b <= Delta/8 and |e| <= 3 Delta/8;
//      capped at 2^125, the reserve then grows by the excess), independent per coefficient.
// What must be covered: the noise v of the result at level l, i.e. everything the worst-case
// simulation (bfv::NoiseModel) bounds, including the rounding term of the last mod switch (the
// rounding depends on the ciphertext, hence on the model). A budget of B bits means
// ||v||_inf <= Delta * 2^-(B+2) (NoiseModel::noise_budget_bits), so 2^b / |v_i| > 2^(B-2).
// Statistical security, precisely (Hellinger distance H^2(P, Q) = 1 - sum sqrt(P Q)):
//   - one coefficient: with W = 2^b and p the law of e, the shift by an integer v obeys
//     H^2(p, p(. - v)) <= v^2 H^2(p, p(. - 1)) (triangle inequality in L2 for sqrt p, |v| unit
//     steps), and W^2 H^2(p, p(. - 1)) <= c = kFloodHellinger = 0.2 for every W >= 1 (computed
//     exactly, test CircuitPrivacy.FloodHellingerConstantBoundsTheExactDistance: 0.192 at W = 1,
//     falling to the continuous limit I/8 = 0.1426, I the Fisher information of the sum of three
//     uniforms — finite, unlike a single uniform's, which is why three and not one);
//   - n independent coefficients: H^2 of the products <= sum of the H^2 (Bhattacharyya
//     coefficients multiply), and SD <= sqrt(2 H^2);
//   so a job of C result ciphertexts of N coefficients is within
//     sqrt(2 c N C) max|v_i| / W
//   of a simulation that sees only the outputs (a fresh encryption of them plus the flood). That
//   is <= 2^-40 once log2(W / max|v|) >= R = 40 + log2(2 c N C) / 2 (flood_ratio_bits), i.e. a
//   budget B >= R + 2 (circuit_privacy_reserved_bits; N = 16384, C = 4: 49.3 bits, where one
//   uniform and a union bound over the N C coefficients needed 41 + log2(N C) = 57). Two models
//   with the same outputs are then within 2^-39 of each other per job (triangle inequality), and
//   J jobs within J * 2^-40 of the simulation.
// C is the largest job the service accepts (JobCaps: its --max-cells-per-job and
// --max-batches-per-job), not a global constant: throughput jobs return batches x primes x classes
// ciphertexts (C-NMC, N = 16384: 1 x 2 x 2 = 4), latency jobs ceil(cells / cells per ciphertext) x
// primes. The server checks its caps against the parameters' budget and refuses larger jobs.
// Correctness: the re-randomisation's own noise is below the simulated worst case of the result
// (the simulation starts from a public-key encryption), so |v| + |v_0| + 3 * 2^b < Delta/2 once
// B >= 2: the reserve replaces the decryption margin instead of adding to it.
// With spatial blocks (throughput, block_layout.h) the slots outside the batch's cells in block 0
// hold partial sums of other blocks: the server adds fresh uniform values mod t there (mask_slots)
// before flooding, so those slots are uniform whatever the model.
// The simulation's "outputs" are the decrypted slots: in the latency layout every slot of a result
// that is not a logit slot is exactly 0 (the last linear step never folds: nn/slot_layout.h), so
// the slots show the logits and nothing else of the model.
// (Gentry 2009, Sec. 21; Bourse et al. 2016 for the flooding argument.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "he/bfv/batch_encoder.h"
#include "he/bfv/context.h"
#include "he/bfv/encryptor.h"
#include "he/bfv/evaluator.h"
#include "he/bfv/keys.h"

namespace leukocrypt::nn {

inline constexpr int kCircuitPrivacyStatisticalBits = 40;
// Bits between the flooding bound 2^b and Delta (decryption stays exact with room to spare).
inline constexpr int kFloodGuardBits = 3;
// Largest flooding exponent: e + 3 * 2^b < 6 * 2^b fits two 64-bit words.
inline constexpr int kMaxFloodBits = 125;
// Upper bound on W^2 H^2(p, p(. - 1)) for the three-uniform flood of width W = 2^b, every b >= 0.
inline constexpr double kFloodHellinger = 0.2;

// The largest job the flooding reserve covers: the service's per-job caps (defaults of `serve`).
struct JobCaps {
  std::size_t max_cells = 16384;
  std::size_t max_batches = 8;  // throughput batches (of N cells, or of one block: block_layout.h)
};

// log2(W / max|v|) a flood of width W must have over the noise v it hides for statistical
// distance 2^-40 over a job of `result_ciphertexts` ciphertexts of N coefficients:
// 40 + log2(2 c N count) / 2.
double flood_ratio_bits(std::size_t n, std::size_t result_ciphertexts);
// Noise budget (bits) a BFV result must have left, before flooding, for the same: the ratio + 2
// (2^b > Delta / 16, |v| <= Delta 2^-(B+2)).
double circuit_privacy_reserved_bits(std::size_t n, std::size_t result_ciphertexts);
// The same for results at `level` of `params`, plus the bits by which the flood falls short of
// Delta/16 where Delta_l > 2^128 (the flood is capped at 2^125).
double circuit_privacy_reserved_bits(const bfv::Params& params, std::size_t level, std::size_t result_ciphertexts);

// A flood polynomial e, per coefficient the sum of three independent uniforms in [-2^b, 2^b)
// (|e| <= 3 * 2^b, variance ~2^(2b)), fresh randomness; held as two 64-bit limbs of e + 3 * 2^b and
// wiped on destruction. Shared by the BFV and CKKS sanitisers.
class FloodSample {
 public:
  FloodSample(std::size_t n, int b);  // b in [0, kMaxFloodBits]
  ~FloodSample();
  FloodSample(const FloodSample&) = delete;
  FloodSample& operator=(const FloodSample&) = delete;
  // e mod q, coefficient by coefficient, into out[0, n).
  void residues(const he::Modulus& q, std::uint64_t* out) const;

 private:
  int b_;
  std::vector<std::uint64_t> hi_, lo_;
};

class CircuitPrivacy {
 public:
  // pk: the key holder's public key for this plaintext prime (uploaded with the evaluation keys).
  CircuitPrivacy(bfv::ContextPtr ctx, const bfv::PublicKey& pk);
  // Re-randomises and floods ct in place (size 2, any level). Thread-safe.
  void apply(bfv::Ciphertext& ct) const;
  // log2 of the flooding bound at `level` (b above).
  int flood_bits(std::size_t level) const;
  // The blocked throughput layout (block_layout.h): every slot from `keep` on (beyond the batch's
  // cells in block 0: the other blocks' partial sums, empty slots) gets a fresh uniform value mod t,
  // so the decrypted slots show the batch's logits and nothing else of the model. Before apply().
  void mask_slots(bfv::Ciphertext& ct, std::size_t keep) const;

 private:
  bfv::ContextPtr ctx_;
  bfv::Encryptor encryptor_;
  bfv::Evaluator evaluator_;
  bfv::BatchEncoder encoder_;
};

}  // namespace leukocrypt::nn
