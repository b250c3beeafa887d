// Key generation: ternary secret, public key, and RNS-gadget key-switching keys (relinearisation
// and Galois) with k special primes (digits of k ciphertext primes).
#include "he/rlwe/key_generator.h"

#include "common/error.h"
#include "he/kernels/eltwise.h"
#include "he/kernels/ntt.h"
#include "he/ring/rns_poly.h"
#include "he/ring/sampler.h"
#include "he/ring/secure_wipe.h"
#include "he/rlwe/encryption.h"

namespace leukocrypt::rlwe {

KeyGenerator::KeyGenerator(RingContextPtr ctx) : ctx_(std::move(ctx)) {
  require(ctx_ != nullptr, "KeyGenerator: null context");
  const std::size_t n = ctx_->n(), primes = ctx_->key_primes();
  he::Prng prng = he::Prng::fresh();
  sk_ = SecretKey(ctx_->params_id(), prng.next_u64(), n, primes);
  he::sample_ternary(prng, sk_.coeffs(), n);
  for (std::size_t i = 0; i < primes; ++i) {
    he::small_to_mod(sk_.coeffs(), sk_.ntt(i), n, ctx_->modulus(i).value());
    he::forward_ntt(sk_.ntt(i), ctx_->ntt(i));
  }
}

KeyGenerator::KeyGenerator(RingContextPtr ctx, SecretKey&& sk) : ctx_(std::move(ctx)), sk_(std::move(sk)) {
  require(ctx_ != nullptr, "KeyGenerator: null context");
  require(sk_.params_id() == ctx_->params_id(), "KeyGenerator: secret key was made for other parameters");
}

PublicKey KeyGenerator::create_public_key() const {
  const std::size_t n = ctx_->n(), L = ctx_->max_level();
  PublicKey pk(ctx_->params_id(), sk_.key_id(), n, L);
  const he::Seed seed = he::random_seed();
  he::Prng a_prng(seed, kDomainPublicKey);
  // pk1 = a is sampled directly in the NTT domain (uniform there too).
  expand_uniform(a_prng, *ctx_, L, pk.data(1, 0));
  pk.set_seed(seed);
  he::Prng prng = he::Prng::fresh();
  std::vector<std::int8_t> e(n);
  const he::WipeOnExit<std::int8_t> wipe_e(e.data(), n);
  he::sample_cbd(prng, e.data(), n);
  for (std::size_t i = 0; i < L; ++i) {
    const Modulus& q = ctx_->modulus(i);
    std::uint64_t* b = pk.data(0, i);
    he::small_to_mod(e.data(), b, n, q.value());
    he::forward_ntt(b, ctx_->ntt(i));
    // pk0 = -(a*s + e)
    he::eltwise_mul_add_mod(b, pk.data(1, i), sk_.ntt(i), n, q);
    he::eltwise_neg_mod(b, b, n, q);
  }
  return pk;
}

KeySwitchKey KeyGenerator::make_key_switch_key(const std::vector<std::uint64_t>& s_from) const {
  const std::size_t n = ctx_->n(), L = ctx_->max_level(), primes = ctx_->key_primes();
  const std::size_t digits = ctx_->digits(L), k = ctx_->special_count();
  KeySwitchKey key(n, digits, primes);
  const he::Seed seed = he::random_seed();
  expand_key_switch_seed(*ctx_, seed, key);  // the public 'a' rows, half-size on the wire
  key.set_seed(seed);
  he::Prng prng = he::Prng::fresh();
  std::vector<std::int8_t> e(n);
  AlignedBuffer<std::uint64_t> tmp(n);
  const he::WipeOnExit<std::int8_t> wipe_e(e.data(), n);
  const he::WipeOnExit<std::uint64_t> wipe_tmp(tmp.data(), n);  // p * s_from
  for (std::size_t d = 0; d < digits; ++d) {
    he::sample_cbd(prng, e.data(), n);
    for (std::size_t j = 0; j < primes; ++j) {
      const Modulus& q = ctx_->modulus(j);
      std::uint64_t* b = key.data(d, 0, j);
      std::uint64_t* a = key.data(d, 1, j);
      he::small_to_mod(e.data(), b, n, q.value());
      he::forward_ntt(b, ctx_->ntt(j));
      // b = -(a*s + e) + [q_j in digit d] * (P mod q_j) * s_from
      he::eltwise_mul_add_mod(b, a, sk_.ntt(j), n, q);
      he::eltwise_neg_mod(b, b, n, q);
      if (j < L && j / k == d) {
        he::eltwise_mul_scalar_mod(tmp.data(), s_from.data() + j * n,
                                   he::make_shoup(ctx_->special_mod_q()[j], q.value()), n, q);
        he::eltwise_add_mod(b, b, tmp.data(), n, q);
      }
    }
  }
  return key;
}

RelinKeys KeyGenerator::create_relin_keys() const {
  const std::size_t n = ctx_->n(), primes = ctx_->key_primes();
  std::vector<std::uint64_t> s2(n * primes);
  const he::WipeOnExit<std::uint64_t> wipe(s2.data(), s2.size());
  for (std::size_t j = 0; j < primes; ++j)
    he::eltwise_mul_mod(s2.data() + j * n, sk_.ntt(j), sk_.ntt(j), n, ctx_->modulus(j));
  return RelinKeys(ctx_->params_id(), sk_.key_id(), make_key_switch_key(s2));
}

KeySwitchKey KeyGenerator::create_galois_key(std::uint32_t g) const {
  const std::size_t n = ctx_->n(), primes = ctx_->key_primes();
  require(g % 2 == 1 && g < 2 * n, "create_galois_keys: Galois element " + std::to_string(g) +
                                       " must be odd and < 2N=" + std::to_string(2 * n));
  std::vector<std::int8_t> rotated(n);
  std::vector<std::uint64_t> s_g(n * primes);
  const he::WipeOnExit<std::int8_t> wipe_rotated(rotated.data(), n);
  const he::WipeOnExit<std::uint64_t> wipe_s_g(s_g.data(), s_g.size());
  he::apply_automorphism_small(sk_.coeffs(), rotated.data(), n, g);
  for (std::size_t j = 0; j < primes; ++j) {
    he::small_to_mod(rotated.data(), s_g.data() + j * n, n, ctx_->modulus(j).value());
    he::forward_ntt(s_g.data() + j * n, ctx_->ntt(j));
  }
  return make_key_switch_key(s_g);
}

GaloisKeys KeyGenerator::create_galois_keys_for_elts(const std::vector<std::uint32_t>& elts) const {
  GaloisKeys gk(ctx_->params_id(), sk_.key_id());
  for (std::uint32_t g : elts)
    if (!gk.has(g)) gk.insert(g, create_galois_key(g));
  return gk;
}

GaloisKeys KeyGenerator::create_galois_keys(const std::vector<int>& steps, bool add_columns,
                                            std::uint32_t generator) const {
  std::vector<std::uint32_t> elts;
  for (int s : steps) elts.push_back(galois_elt_for_step(s, ctx_->n(), generator));
  if (add_columns) elts.push_back(galois_elt_for_columns(ctx_->n()));
  return create_galois_keys_for_elts(elts);
}

}  // namespace leukocrypt::rlwe
