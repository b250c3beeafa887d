// Re-randomisation and noise flooding of CKKS results (see ckks_circuit_privacy.h).
#include "nn/ckks_circuit_privacy.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/error.h"
#include "he/kernels/eltwise.h"
#include "he/kernels/ntt.h"
#include "he/ring/secure_wipe.h"

namespace leukocrypt::nn {

std::size_t ckks_result_ciphertexts_per_job(const Plan& plan, std::size_t slots, const JobCaps& caps) {
  require(slots >= 1, "circuit privacy: no slots");
  if (plan.layout == Layout::kLatency) {  // one result per ciphertext of slots / block cells
    const std::size_t per = std::max<std::size_t>(1, slots / std::max<std::size_t>(1, plan.slots.block));
    return std::max<std::size_t>(1, (caps.max_cells + per - 1) / per);
  }
  const std::size_t batches = std::min(caps.max_batches, (caps.max_cells + slots - 1) / slots);
  return std::max<std::size_t>(1, batches) * plan.output_size();
}

double ckks_flood_ratio_bits(std::size_t n, std::size_t result_ciphertexts) {
  // 2^-41 for the flood (one bit over the ratio) plus the bound's own 2^-44: < 2^-40 (header).
  return flood_ratio_bits(n, result_ciphertexts) + 1;
}

int ckks_flood_bits(double noise_bound, std::size_t n, std::size_t result_ciphertexts) {
  require(noise_bound > 0 && std::isfinite(noise_bound), "circuit privacy: the result's noise bound must be > 0");
  return static_cast<int>(std::ceil(std::log2(noise_bound) + ckks_flood_ratio_bits(n, result_ciphertexts)));
}

CkksCircuitPrivacy::CkksCircuitPrivacy(ckks::ContextPtr ctx, const ckks::PublicKey& pk, int flood_bits)
    : ctx_(ctx), encryptor_(ctx, pk), evaluator_(ctx), flood_bits_(flood_bits) {
  require(flood_bits >= 1 && flood_bits <= kMaxFloodBits,
          "circuit privacy: flood bits " + std::to_string(flood_bits) + " outside [1, " + std::to_string(kMaxFloodBits) + "]");
}

void CkksCircuitPrivacy::apply(ckks::Ciphertext& ct) const {
  require(ct.size() == 2 && ct.params_id() == ctx_->params_id(),
          "circuit privacy: needs a relinearised ciphertext of these parameters");
  const std::size_t n = ctx_->n(), level = ct.level();
  // 1. Re-randomise: + Enc_pk(0) at the result's level and scale.
  evaluator_.add_inplace(ct, encryptor_.encrypt_zero(level, ct.scale()));
  // 2. Flood c0, moved to the NTT domain where CKKS ciphertexts live.
  const FloodSample flood(n, flood_bits_);
  std::vector<std::uint64_t> row(n);
  const he::WipeOnExit<std::uint64_t> wipe_row(row.data(), n);
  for (std::size_t i = 0; i < level; ++i) {
    flood.residues(ctx_->modulus(i), row.data());
    he::forward_ntt(row.data(), ctx_->ntt(i));
    he::eltwise_add_mod(ct.data(0, i), ct.data(0, i), row.data(), n, ctx_->modulus(i));
  }
}

}  // namespace leukocrypt::nn
