// Circuit privacy (model privacy) for CKKS results, the counterpart of nn/circuit_privacy.h.
// A CKKS result at level l and scale D decrypts to m = D * Ecd(z~) + v, where z~ are the logits of
// the fixed-point model the server evaluates -- the plan's weights as encoded (round(w * 2^k) / 2^k
// or round(w * q) / q), the biases as added (round(b * scale) / scale), in exact real arithmetic on
// the values the request decrypts to (the key holder's own encryption noise included: it can
// compute that from its ciphertexts) -- and v is the rest: rescale and key-switch rounding and
// relinearisation noise. z~ is what the server reveals (as BFV reveals its quantised model's
// output); v depends on the ciphertexts and the weights, and the key holder would see it in every
// decrypted slot. Before a result leaves the server it is
//   1. re-randomised: + a fresh public-key encryption of zero at the result's level and scale, so
//      c1 is an RLWE sample independent of the computation;
//   2. flooded: c0 += e, e the sum of three uniforms in [-2^b, 2^b) per coefficient (FloodSample),
//      independent per coefficient.
// What must be covered: ||v||_inf over the coefficients. The precision model tracks the fixed and
// the random part of every bound apart (ckks::PrecisionEstimate::fixed / random; he/ckks/
// precision_model.h) and bounds the random part in the canonical embedding, ||v||_can <= V; for
// power-of-two cyclotomics the embedding matrix U has U^H U = N I, so v = U^H sigma(v) / N and
// ||v||_inf <= ||v||_can <= V. V is taken at confidence 10 (not the model's 6): each of its
// Gaussian-tail steps fails with probability <= 2 exp(-50) ~ 2^-71 per slot, < 2^-44 over every
// slot, term and ciphertext of a job.
// Statistical security, as for BFV (nn/circuit_privacy.h): a job of C ciphertexts of N
// coefficients is within sqrt(2 c N C) V / 2^b of a simulation that sees only the outputs (a
// fresh encryption of D * Ecd(z~) plus the flood). With
//   b = ceil(log2 V + 40 + log2(2 c N C) / 2 + 1)          (flood_ratio_bits(N, C) + 1)
// that is <= 2^-41 (plus the 2^-44 above: < 2^-40) per job; C is the largest job the service's caps
// allow (ckks_result_ciphertexts_per_job: batches of N/2 cells x classes).
// The price, unlike BFV's: in BFV the flood lands in the noise, below Delta; in CKKS there is no
// separate noise, the flood adds to the message. Its slot error is c sqrt(N) 2^b / D, so the logit
// error grows by about
//   41 + log2(2 c N C) / 2 + log2(6 sqrt(N)) bits           (N = 16384, C = 4: ~58 bits)
// over the random part's V / D. With the usual single-prime scales (<= 2^60) every rescale leaves
// rounding noise of ~2^16-2^19, V / D >= 2^-44, and 58 bits above that is no useful target. Hence
// the wide scale chain params --scheme ckks builds for circuit privacy (CkksStepScale in
// nn/ckks_settings.h): the first linear layer's weights at 2^k and no rescale (its products are
// exact), every square rescaled back to a wide scale 2^t (t ~ 96 for a target of 1e-3: one prime
// after the first square, two after later ones), the layers between squares rescaled by one ~2^40
// prime, the layers after the last square kept in q_0 (which then holds 2^(t + 40) times the
// largest logit and the flood). The random part then sits ~2^t below the values, the flood ~2^58
// above it. C-NMC (cnmc-x2, group C magnitudes, target 1e-3): N = 16384, 7 primes (q_0 3 x 47 bits,
// 48 + 48, 40, 48), flood 2^115 per coefficient, predicted error 6.4e-4 with the flood (its fixed
// part dominates); group C through infer/serve: every argmax equals the float model's
// (tests/apps/cli_ckks_service_test.sh). The chooser refuses, with the numbers, targets the wide
// chain cannot reach at 128 bits (C-NMC: below ~6e-7). The latency layout's first layer rotates
// the inputs (baby steps) before any weight touches them, and that key-switch noise is random at
// the input's scale: there the inputs come at 2^t, every linear step is rescaled by a ~2^40 prime
// and the special prime is 59 bits (cnmc-x2 at 1e-3: N = 32768, 12 primes, t = 113, flood 2^91
// over up to 4,096 results per job).
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

// Result ciphertexts of the largest job `caps` allow: batches of slots cells, one per class
// (throughput); one per slots / block cells (a CKKS latency plan).
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
