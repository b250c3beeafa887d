// Secret-key encryption with a seeded uniform part: c1 = a (expanded from a fresh seed, sampled
// in the coefficient domain), c0 = -(a*s) + e + round(Q*m/t).
#include "he/bfv/symmetric_encryptor.h"

#include <cstring>

#include "common/error.h"
#include "he/bfv/internal.h"
#include "he/kernels/eltwise.h"
#include "he/kernels/ntt.h"
#include "he/ring/rns_poly.h"
#include "he/ring/secure_wipe.h"

namespace leukocrypt::bfv {

SymmetricEncryptor::SymmetricEncryptor(ContextPtr ctx, const SecretKey& sk) : ctx_(std::move(ctx)), sk_(&sk) {
  require(ctx_ != nullptr, "SymmetricEncryptor: null context");
  require(sk_->params_id() == ctx_->params_id(), "SymmetricEncryptor: secret key was made for other parameters");
}

Ciphertext SymmetricEncryptor::encrypt(const Plaintext& pt, he::Seed* seed_out) const {
  detail::check_plaintext(*ctx_, pt);
  const std::size_t n = ctx_->n(), L = ctx_->max_level();
  Ciphertext ct(ctx_->params_id(), n, L, 2);
  const he::Seed seed = he::random_seed();
  he::Prng a_prng(seed, detail::kDomainSymmetric);
  detail::expand_uniform(a_prng, *ctx_, L, ct.poly(1));
  he::Prng prng = he::Prng::fresh();
  std::vector<std::int8_t> e(n);
  const he::WipeOnExit<std::int8_t> wipe_e(e.data(), n);  // e and a give a*s, hence s
  he::sample_cbd(prng, e.data(), n);
  std::uint64_t* tmp = he::scratch(0, n);
  const he::ScratchWipe wipe_tmp(0);
  for (std::size_t i = 0; i < L; ++i) {
    const Modulus& q = ctx_->modulus(i);
    std::uint64_t* c0 = ct.data(0, i);
    std::memcpy(tmp, ct.data(1, i), n * sizeof(std::uint64_t));
    he::forward_ntt(tmp, ctx_->ntt(i));
    he::eltwise_mul_mod(c0, tmp, sk_->ntt(i), n, q);
    he::inverse_ntt(c0, ctx_->ntt(i));
    he::eltwise_neg_mod(c0, c0, n, q);
    he::small_to_mod(e.data(), tmp, n, q.value());
    he::eltwise_add_mod(c0, c0, tmp, n, q);
  }
  detail::add_scaled_plain(*ctx_, pt, ct.poly(0), L, false);
  if (seed_out) *seed_out = seed;
  return ct;
}

}  // namespace leukocrypt::bfv
