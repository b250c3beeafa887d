// Secret-key operations shared by the schemes (lc_he_secret): seeded encryption of zero and the
// inner product with the secret key that decryption starts from.
#include <algorithm>
#include <cstring>
#include <vector>

#include "he/kernels/eltwise.h"
#include "he/kernels/ntt.h"
#include "he/ring/rns_poly.h"
#include "he/rlwe/encryption.h"

namespace leukocrypt::rlwe {

void encrypt_zero_symmetric(const RingContext& ring, const SecretKey& sk, const he::Seed& seed, std::size_t level,
                            bool ntt_form, std::uint64_t* c0, std::uint64_t* c1) {
  const std::size_t n = ring.n();
  he::Prng a_prng(seed, kDomainSymmetric);
  expand_uniform(a_prng, ring, level, c1);
  he::Prng prng = he::Prng::fresh();
  std::vector<std::int8_t> e(n);
  he::sample_cbd(prng, e.data(), n);
  std::uint64_t* tmp = he::scratch(0, n);
  for (std::size_t i = 0; i < level; ++i) {
    const Modulus& q = ring.modulus(i);
    std::uint64_t* b = c0 + i * n;
    std::memcpy(tmp, c1 + i * n, n * sizeof(std::uint64_t));
    if (!ntt_form) he::forward_ntt(tmp, ring.ntt(i));
    he::eltwise_mul_mod(b, tmp, sk.ntt(i), n, q);
    if (!ntt_form) he::inverse_ntt(b, ring.ntt(i));
    he::eltwise_neg_mod(b, b, n, q);
    he::small_to_mod(e.data(), tmp, n, q.value());
    if (ntt_form) he::forward_ntt(tmp, ring.ntt(i));
    he::eltwise_add_mod(b, b, tmp, n, q);
  }
}

void dot_with_secret(const RingContext& ring, const SecretKey& sk, const std::uint64_t* polys, std::size_t size,
                     std::size_t level, bool ntt_form, std::uint64_t* out) {
  const std::size_t n = ring.n();
  std::uint64_t* tmp = he::scratch(0, 2 * n);
  std::uint64_t* acc = tmp + n;
  for (std::size_t i = 0; i < level; ++i) {
    const Modulus& q = ring.modulus(i);
    const NttTables& ntt = ring.ntt(i);
    std::fill(acc, acc + n, 0);
    // acc = sum_k c_k * s^k in the NTT domain (Horner would need more NTTs).
    for (std::size_t k = 1; k < size; ++k) {
      const std::uint64_t* ck = polys + (k * level + i) * n;
      std::copy(ck, ck + n, tmp);
      if (!ntt_form) he::forward_ntt(tmp, ntt);
      for (std::size_t p = 0; p < k; ++p) he::eltwise_mul_mod(tmp, tmp, sk.ntt(i), n, q);
      he::eltwise_add_mod(acc, acc, tmp, n, q);
    }
    if (!ntt_form) he::inverse_ntt(acc, ntt);
    he::eltwise_add_mod(out + i * n, acc, polys + i * n, n, q);
  }
}

}  // namespace leukocrypt::rlwe
