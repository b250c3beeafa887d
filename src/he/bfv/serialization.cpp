// Serialization of BFV params, plaintexts and ciphertexts with full validation on load (see
// serialization.h); headers, rows and keys are rlwe's.
#include "he/bfv/serialization.h"

#include <bit>
#include <vector>

#include "common/error.h"
#include "he/rlwe/object_io.h"

namespace leukocrypt::bfv {

namespace io = rlwe::detail;
using io::ByteReader;
using io::ByteWriter;

std::string save(const Params& p) {
  ByteWriter w;
  io::write_header(w, ObjectType::kParams, p.id());
  io::write_chain(w, p.n(), p.q(), p.special_prime());
  w.u64(p.t());
  w.u8(static_cast<std::uint8_t>(p.security()));
  return w.take();
}

Params load_params(std::string_view bytes) {
  ByteReader r(bytes);
  const std::uint64_t id = io::read_header(r, ObjectType::kParams);
  const io::ModulusChain c = io::read_chain(r);
  const std::uint64_t t = r.u64("plaintext modulus");
  const Security sec = io::read_security(r);
  r.finish("params");
  return io::checked_params(id, "params", [&] { return Params::create_from_primes(c.n, c.q, c.special, t, sec); });
}

std::string save(const Plaintext& pt) {
  ByteWriter w;
  io::write_header(w, ObjectType::kPlaintext, pt.params_id());
  w.u32(static_cast<std::uint32_t>(pt.n()));
  io::write_rows(w, pt.data(), 1, pt.n());
  return w.take();
}

Plaintext load_plaintext(const Context& ctx, std::string_view bytes) {
  ByteReader r(bytes);
  io::read_header_for(r, ObjectType::kPlaintext, ctx);
  io::expect_eq(r.u32("N"), ctx.n(), "plaintext N");
  auto bound = [&](std::size_t) { return ctx.params().t(); };
  auto widths = io::read_row_widths(r, 1, ctx.n(), bound, "plaintext");
  Plaintext pt(ctx.params_id(), ctx.n());
  io::read_rows(r, pt.data(), widths, ctx.n(), bound, [](std::size_t) { return std::string("plaintext"); });
  r.finish("plaintext");
  return pt;
}

namespace {
std::string save_ct(const Ciphertext& ct, const he::Seed* seed) {
  ByteWriter w;
  io::write_header(w, ObjectType::kCiphertext, ct.params_id());
  w.u32(static_cast<std::uint32_t>(ct.n()));
  w.u32(static_cast<std::uint32_t>(ct.level()));
  w.u32(static_cast<std::uint32_t>(ct.size()));
  io::write_ct_polys(w, ct.raw(), ct.n(), ct.level(), ct.size(), seed);
  return w.take();
}
}  // namespace

std::string save(const Ciphertext& ct) { return save_ct(ct, nullptr); }

std::string save_seeded(const Ciphertext& ct, const he::Seed& seed) {
  require(ct.size() == 2, "save_seeded: only fresh size-2 ciphertexts can be seeded");
  return save_ct(ct, &seed);
}

Ciphertext load_ciphertext(const Context& ctx, std::string_view bytes) {
  ByteReader r(bytes);
  io::read_header_for(r, ObjectType::kCiphertext, ctx);
  const std::size_t n = ctx.n();
  io::expect_eq(r.u32("N"), n, "ciphertext N");
  const std::uint32_t level = r.u32("level");
  if (level < 1 || level > ctx.max_level())
    throw FormatError("ciphertext level " + std::to_string(level) + " outside [1, " + std::to_string(ctx.max_level()) + "]");
  const std::uint32_t size = r.u32("size");
  if (size < 2 || size > 3) throw FormatError("ciphertext size " + std::to_string(size) + " outside [2, 3]");
  Ciphertext ct;
  const auto seed = io::read_ct_polys(r, ctx, level, size, /*fresh_only=*/true, [&] {
    ct = Ciphertext(ctx.params_id(), n, level, size);
    return ct.raw();
  });
  r.finish("ciphertext");
  if (seed) io::expand_ct_seed(ctx, *seed, level, ct.poly(1));
  return ct;
}

}  // namespace leukocrypt::bfv
