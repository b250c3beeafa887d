// Secret-key serialization (lc_he_secret only): the ternary coefficients, 2 bits each; the NTT
// form is recomputed on load.
#include <vector>

#include "common/error.h"
#include "he/kernels/ntt.h"
#include "he/ring/sampler.h"
#include "he/rlwe/object_io.h"
#include "he/rlwe/serialization.h"

namespace leukocrypt::rlwe {

std::string save(const SecretKey& sk) {
  detail::ByteWriter w;
  detail::write_header(w, ObjectType::kSecretKey, sk.params_id());
  w.u64(sk.key_id());
  w.u32(static_cast<std::uint32_t>(sk.n()));
  w.u32(static_cast<std::uint32_t>(sk.primes()));
  // Ternary coefficients as c + 1 in 2 bits each (n / 4 bytes).
  std::vector<std::uint64_t> v(sk.n());
  for (std::size_t i = 0; i < sk.n(); ++i) v[i] = static_cast<std::uint64_t>(sk.coeffs()[i] + 1);
  w.packed(v.data(), v.size(), 2);
  return w.take();
}

SecretKey load_secret_key(const RingContext& ctx, std::string_view bytes) {
  detail::ByteReader r(bytes);
  detail::read_header_for(r, ObjectType::kSecretKey, ctx);
  const std::uint64_t key_id = r.u64("key id");
  const std::size_t n = ctx.n(), primes = ctx.key_primes();
  detail::expect_eq(r.u32("N"), n, "secret key N");
  detail::expect_eq(r.u32("primes"), primes, "secret key primes");
  r.need_bytes(detail::ByteWriter::packed_bytes(n, 2), "secret key coefficients");
  std::vector<std::uint64_t> v(n);
  r.packed_below(v.data(), n, 2, 4, "secret key coefficients");
  r.finish("secret key");
  SecretKey sk(ctx.params_id(), key_id, n, primes);
  for (std::size_t i = 0; i < n; ++i) {
    if (v[i] > 2)
      throw FormatError("secret key coefficient " + std::to_string(i) + " is stored as " + std::to_string(v[i]) +
                        ", not one of 0, 1, 2 (for -1, 0, 1)");
    sk.coeffs()[i] = static_cast<std::int8_t>(static_cast<int>(v[i]) - 1);
  }
  for (std::size_t j = 0; j < primes; ++j) {
    he::small_to_mod(sk.coeffs(), sk.ntt(j), n, ctx.modulus(j).value());
    he::forward_ntt(sk.ntt(j), ctx.ntt(j));
  }
  return sk;
}

}  // namespace leukocrypt::rlwe
