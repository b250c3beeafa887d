// Secret-key serialization (lc_he_secret only): the ternary coefficients, one byte each; the NTT
// form is recomputed on load.
#include "common/error.h"
#include "he/bfv/byte_io.h"
#include "he/bfv/serialization.h"
#include "he/kernels/ntt.h"
#include "he/ring/sampler.h"

namespace leukocrypt::bfv {
namespace detail {
void write_header(ByteWriter& w, ObjectType type, std::uint64_t params_id);
std::uint64_t read_header_for(ByteReader& r, ObjectType type, const Context& ctx);
void expect_eq(std::uint64_t got, std::uint64_t want, const char* field);
}  // namespace detail

std::string save(const SecretKey& sk) {
  detail::ByteWriter w;
  detail::write_header(w, ObjectType::kSecretKey, sk.params_id());
  w.u64(sk.key_id());
  w.u32(static_cast<std::uint32_t>(sk.n()));
  w.u32(static_cast<std::uint32_t>(sk.primes()));
  w.bytes(sk.coeffs(), sk.n());
  return w.take();
}

SecretKey load_secret_key(const Context& ctx, std::string_view bytes) {
  detail::ByteReader r(bytes);
  detail::read_header_for(r, ObjectType::kSecretKey, ctx);
  const std::uint64_t key_id = r.u64("key id");
  const std::size_t n = ctx.n(), primes = ctx.max_level() + 1;
  detail::expect_eq(r.u32("N"), n, "secret key N");
  detail::expect_eq(r.u32("primes"), primes, "secret key primes");
  SecretKey sk(ctx.params_id(), key_id, n, primes);
  r.bytes(sk.coeffs(), n, "secret key coefficients");
  r.finish("secret key");
  for (std::size_t i = 0; i < n; ++i)
    if (sk.coeffs()[i] < -1 || sk.coeffs()[i] > 1)
      throw FormatError("secret key coefficient " + std::to_string(i) + " is " + std::to_string(sk.coeffs()[i]) +
                        ", not in {-1, 0, 1}");
  for (std::size_t j = 0; j < primes; ++j) {
    he::small_to_mod(sk.coeffs(), sk.ntt(j), n, ctx.modulus(j).value());
    he::forward_ntt(sk.ntt(j), ctx.ntt(j));
  }
  return sk;
}

}  // namespace leukocrypt::bfv
