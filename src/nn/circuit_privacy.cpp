// Re-randomisation and noise flooding of returned ciphertexts (see circuit_privacy.h).
#include "nn/circuit_privacy.h"

#include <cmath>
#include <vector>

#include "common/error.h"
#include "he/kernels/eltwise.h"
#include "he/ring/sampler.h"
#include "he/ring/secure_wipe.h"

namespace leukocrypt::nn {

double flood_ratio_bits(std::size_t n, std::size_t result_ciphertexts) {
  require(n >= 1 && result_ciphertexts >= 1, "circuit privacy: no result ciphertexts to cover");
  return kCircuitPrivacyStatisticalBits + 0.5 * std::log2(2 * kFloodHellinger * double(n) * double(result_ciphertexts));
}

double circuit_privacy_reserved_bits(std::size_t n, std::size_t result_ciphertexts) {
  return flood_ratio_bits(n, result_ciphertexts) + 2;
}

CircuitPrivacy::CircuitPrivacy(bfv::ContextPtr ctx, const bfv::PublicKey& pk)
    : ctx_(ctx), encryptor_(ctx, pk), evaluator_(ctx), encoder_(ctx) {}

void CircuitPrivacy::mask_slots(bfv::Ciphertext& ct, std::size_t keep) const {
  require(ct.params_id() == ctx_->params_id(), "circuit privacy: mask for a ciphertext of other parameters");
  const std::size_t n = ctx_->n();
  if (keep >= n) return;
  std::vector<std::uint64_t> mask(n, 0);
  auto prng = he::Prng::fresh();
  he::sample_uniform(prng, he::Modulus(ctx_->params().t()), mask.data() + keep, n - keep);
  evaluator_.add_plain_inplace(ct, encoder_.encode(mask));
}

namespace {
// floor(log2 Delta_l) - guard, Delta_l = Q_l / t (before the cap).
int uncapped_flood_bits(const bfv::Params& p, std::size_t level) {
  return static_cast<int>(std::floor(p.log2_q(level) - std::log2(double(p.t())))) - kFloodGuardBits;
}
}  // namespace

double circuit_privacy_reserved_bits(const bfv::Params& params, std::size_t level, std::size_t result_ciphertexts) {
  // A capped flood (Delta_l > 2^128) is smaller than Delta/16 by the excess: the budget must cover it.
  const int excess = std::max(0, uncapped_flood_bits(params, level) - kMaxFloodBits);
  return circuit_privacy_reserved_bits(params.n(), result_ciphertexts) + excess;
}

int CircuitPrivacy::flood_bits(std::size_t level) const {
  const int b = uncapped_flood_bits(ctx_->params(), level);
  require(b >= 1, "circuit privacy: no room for flooding noise at level " + std::to_string(level));
  return std::min(b, kMaxFloodBits);
}

void CircuitPrivacy::apply(bfv::Ciphertext& ct) const {
  require(ct.size() == 2 && ct.params_id() == ctx_->params_id(),
          "circuit privacy: needs a relinearised ciphertext of these parameters");
  const std::size_t n = ctx_->n(), level = ct.level();
  // 1. Re-randomise: + Enc_pk(0), switched down to the result's level.
  auto zero = encryptor_.encrypt_zero();
  evaluator_.mod_switch_to_inplace(zero, level);
  evaluator_.add_inplace(ct, zero);
  // 2. Flood c0 (coefficient domain).
  const FloodSample flood(n, flood_bits(level));
  std::vector<std::uint64_t> row(n);
  const he::WipeOnExit<std::uint64_t> wipe_row(row.data(), n);
  for (std::size_t i = 0; i < level; ++i) {
    flood.residues(ctx_->modulus(i), row.data());
    he::eltwise_add_mod(ct.data(0, i), ct.data(0, i), row.data(), n, ctx_->modulus(i));
  }
}

FloodSample::FloodSample(std::size_t n, int b) : b_(b), hi_(n, 0), lo_(n) {
  require(b >= 0 && b <= kMaxFloodBits,
          "circuit privacy: flood bits " + std::to_string(b) + " outside [0, " + std::to_string(kMaxFloodBits) + "]");
  // r = e + 3 * 2^b = sum of three uniforms in [0, 2^(b+1)), < 2^(b+3) <= 2^128.
  he::Prng prng = he::Prng::fresh();
  const int bits = b + 1;
  const auto mask = [](int k) { return k >= 64 ? ~std::uint64_t(0) : (std::uint64_t(1) << k) - 1; };
  for (std::size_t c = 0; c < n; ++c) {
    std::uint64_t hi = 0, lo = 0;
    for (int k = 0; k < 3; ++k) {
      const std::uint64_t l = prng.next_u64() & mask(bits);
      const std::uint64_t h = bits > 64 ? prng.next_u64() & mask(bits - 64) : 0;
      lo += l;
      hi += h + (lo < l ? 1 : 0);
    }
    lo_[c] = lo;
    hi_[c] = hi;
  }
}

FloodSample::~FloodSample() {
  he::secure_wipe(hi_.data(), hi_.size() * sizeof(std::uint64_t));
  he::secure_wipe(lo_.data(), lo_.size() * sizeof(std::uint64_t));
}

void FloodSample::residues(const he::Modulus& q, std::uint64_t* out) const {
  // 3 * 2^b mod q, b <= 125 (3 * 2^b < 2^127).
  const unsigned __int128 three = static_cast<unsigned __int128>(3) << b_;
  const std::uint64_t offset = q.reduce128(static_cast<std::uint64_t>(three >> 64), static_cast<std::uint64_t>(three));
  for (std::size_t c = 0; c < lo_.size(); ++c) {
    const std::uint64_t r = q.reduce128(hi_[c], lo_[c]);
    out[c] = r >= offset ? r - offset : r + (q.value() - offset);
  }
}

}  // namespace leukocrypt::nn
