// Circuit privacy (model privacy) for CKKS results, the counterpart of nn/circuit_privacy.h.
// A CKKS result at level l and scale D decrypts to m = round(D * Ecd(z)) + v, where z are the
// logits of the plan (real arithmetic, the plan's float weights) on the values the request
// decrypts to, and v is the evaluation error: weight and bias encoding, rescale and key-switch
// rounding, relinearisation noise, the input's noise carried through the weights. v depends on the
// weights, and the key holder sees it in every decrypted slot. Before a result leaves the server it is
//   1. re-randomised: + a fresh public-key encryption of zero at the result's level and scale, so
//      c1 is an RLWE sample independent of the computation;
//   2. flooded: c0 += e, e the sum of three uniforms in [-2^b, 2^b) per coefficient (FloodSample),
//      independent per coefficient.
// What must be covered: ||v||_inf over the coefficients. The precision model bounds the canonical
// embedding, ||v||_can <= V (he/ckks/precision_model.h), and for power-of-two cyclotomics the
// embedding matrix U has U^H U = N I, so v = U^H sigma(v) / N and ||v||_inf <= ||v||_can <= V.
// V is taken at confidence 10 (not the model's 6): each of its Gaussian-tail steps fails with
// probability <= 2 exp(-50) ~ 2^-71 per slot, < 2^-44 over every slot, term and ciphertext of a job.
// Statistical security, as for BFV (nn/circuit_privacy.h): a job of C ciphertexts of N
// coefficients is within sqrt(2 c N C) V / 2^b of a simulation that sees only the outputs (a
// fresh encryption of round(D * Ecd(z)) plus the flood). With
//   b = ceil(log2 V + 40 + log2(2 c N C) / 2 + 1)          (flood_ratio_bits(N, C) + 1)
// that is <= 2^-41 (plus the 2^-44 above: < 2^-40) per job; C is the largest job the service's caps
// allow (ckks_result_ciphertexts_per_job: batches of N/2 cells x classes).
// The price, unlike BFV's: in BFV the flood lands in the noise, below Delta; in CKKS there is no
// separate noise, the flood adds to the message. Its slot error is c sqrt(N) 2^b / D (the sum
// of N coefficients of variance 2^(2b) in every slot), so the logit error grows by about
//   41 + log2(2 c N C) / 2 + log2(6 sqrt(N)) bits           (N = 16384, C = 4: ~58 bits)
// over the unflooded bound V / D. params --scheme ckks counts the flood in the predicted error
// (PrecisionModel::sanitise) and refuses, with the numbers, parameters whose flooded error misses
// the target or whose flooded result no longer fits q_0. With single primes <= 60 bits as the
// scale, every rescale leaves rounding noise of ~2^16 at scale <= 2^60, i.e. V / D >= 2^-44, and
// 58 bits above that is far beyond any useful target. C-NMC (cnmc-x2, group C magnitudes), the
// best set: N = 16384, scale 2^50, noise bound 2^31 at confidence 10, so b = 31 + 49 = 80 bits per
// coefficient, more than q_0 (<= 60 bits) holds; the flooded logit error is ~2^40 times the unflooded.
// The chooser refuses every target (test CkksSettings.CircuitPrivacyCountsTheFloodAndRefusesWithTheNumbers).
// Reaching it needs a scale of ~2^90 at every level (two primes per rescale, N = 32768) and
// results kept at two or more primes: not built.
// (Gentry 2009, Sec. 21; Bourse et al. 2016; Li-Micciancio 2021 on CKKS decryptions.)
#pragma once

#include <cstddef>

#include "he/ckks/ciphertext.h"
#include "he/ckks/context.h"
#include "he/ckks/encryptor.h"
#include "he/ckks/evaluator.h"
#include "he/ckks/keys.h"
#include "nn/circuit_privacy.h"
#include "nn/plan.h"

namespace leukocrypt::nn {

// Confidence of the precision-model bound the flood covers (see above).
inline constexpr double kCkksFloodConfidence = 10.0;

// Result ciphertexts of the largest job `caps` allow: batches of slots cells, one per class.
std::size_t ckks_result_ciphertexts_per_job(const Plan& plan, std::size_t slots, const JobCaps& caps);

// log2(2^b / V) the CKKS flood needs over a job of result_ciphertexts ciphertexts of N
// coefficients: flood_ratio_bits + 1 (2^-41 for the flood, the rest for the bound's confidence).
double ckks_flood_ratio_bits(std::size_t n, std::size_t result_ciphertexts);
// b for a result whose noise bound (integer units, canonical embedding) is noise_bound, over a
// job of result_ciphertexts ciphertexts of N coefficients: ceil(log2 V + ckks_flood_ratio_bits).
int ckks_flood_bits(double noise_bound, std::size_t n, std::size_t result_ciphertexts);

class CkksCircuitPrivacy {
 public:
  // pk: the key holder's public key (uploaded with the relinearisation key); flood_bits: b, from
  // the parameters (CkksSettings::flood_bits), in [1, 126].
  CkksCircuitPrivacy(ckks::ContextPtr ctx, const ckks::PublicKey& pk, int flood_bits);
  // Re-randomises and floods ct in place (size 2, any level and scale). Thread-safe.
  void apply(ckks::Ciphertext& ct) const;
  int flood_bits() const { return flood_bits_; }

 private:
  ckks::ContextPtr ctx_;
  ckks::Encryptor encryptor_;
  ckks::Evaluator evaluator_;
  int flood_bits_;
};

}  // namespace leukocrypt::nn
