// Public-key encryption of zero (lc_he) and seeded uniform expansion.
#include "he/rlwe/encryption.h"

#include "he/kernels/eltwise.h"
#include "he/kernels/ntt.h"
#include "he/ring/rns_poly.h"

namespace leukocrypt::rlwe {

void expand_uniform(he::Prng& prng, const RingContext& ring, std::size_t rows, std::uint64_t* out) {
  const std::size_t n = ring.n();
  for (std::size_t i = 0; i < rows; ++i) he::sample_uniform(prng, ring.modulus(i), out + i * n, n);
}

void expand_key_switch_seed(const RingContext& ring, const he::Seed& seed, KeySwitchKey& key) {
  he::Prng prng(seed, kDomainKeySwitch);
  for (std::size_t d = 0; d < key.digits(); ++d)
    for (std::size_t j = 0; j < key.primes(); ++j)
      he::sample_uniform(prng, ring.modulus(j), key.data(d, 1, j), key.n());
}

void encrypt_zero_public(const RingContext& ring, const PublicKey& pk, std::size_t level, bool ntt_form,
                         std::uint64_t* c0, std::uint64_t* c1) {
  const std::size_t n = ring.n();
  he::Prng prng = he::Prng::fresh();
  // u, e0, e1 decrypt this ciphertext without the key: wiped from the scratch on return.
  std::int8_t* small = reinterpret_cast<std::int8_t*>(he::scratch(0, 3 * n / 8 + 3));
  const he::ScratchWipe wipe_small(0), wipe_tmp(1);
  std::int8_t* u = small;
  std::int8_t* e0 = small + n;
  std::int8_t* e1 = small + 2 * n;
  he::sample_ternary(prng, u, n);
  he::sample_cbd(prng, e0, n);
  he::sample_cbd(prng, e1, n);
  std::uint64_t* tmp = he::scratch(1, 2 * n);
  std::uint64_t* err = tmp + n;
  for (std::size_t i = 0; i < level; ++i) {
    const Modulus& q = ring.modulus(i);
    const NttTables& ntt = ring.ntt(i);
    he::small_to_mod(u, tmp, n, q.value());
    he::forward_ntt(tmp, ntt);
    for (std::size_t k = 0; k < 2; ++k) {
      std::uint64_t* c = (k == 0 ? c0 : c1) + i * n;
      he::eltwise_mul_mod(c, tmp, pk.data(k, i), n, q);
      he::small_to_mod(k == 0 ? e0 : e1, err, n, q.value());
      if (ntt_form) he::forward_ntt(err, ntt);
      else he::inverse_ntt(c, ntt);
      he::eltwise_add_mod(c, c, err, n, q);
    }
  }
}

}  // namespace leukocrypt::rlwe
