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
  io::write_chain(w, p.n(), p.q(), p.special_primes());
  w.u64(p.t());
  w.u8(static_cast<std::uint8_t>(p.security()));
  return w.take();
}

Params load_params(std::string_view bytes, bool allow_insecure_for_tests) {
  ByteReader r(bytes);
  const std::uint64_t id = io::read_header(r, ObjectType::kParams);
  const io::ModulusChain c = io::read_chain(r);
  const std::uint64_t t = r.u64("plaintext modulus");
  const Security sec = io::read_security(r);
  if (sec == Security::kInsecureForTests && !allow_insecure_for_tests)
    throw SecurityError("params marked insecure-for-tests: refused unless the caller allows insecure parameters");
  r.finish("params");
  return io::checked_params(id, "params", [&] { return Params::create_from_primes(c.n, c.q, c.specials, t, sec); });
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

namespace {
struct CtHeader {
  std::uint32_t level = 0, size = 0;
};
CtHeader read_ct_header(ByteReader& r, const Context& ctx) {
  io::read_header_for(r, ObjectType::kCiphertext, ctx);
  io::expect_eq(r.u32("N"), ctx.n(), "ciphertext N");
  CtHeader h;
  h.level = r.u32("level");
  if (h.level < 1 || h.level > ctx.max_level())
    throw FormatError("ciphertext level " + std::to_string(h.level) + " outside [1, " + std::to_string(ctx.max_level()) + "]");
  h.size = r.u32("size");
  if (h.size < 2 || h.size > 3) throw FormatError("ciphertext size " + std::to_string(h.size) + " outside [2, 3]");
  return h;
}
}  // namespace

Ciphertext load_ciphertext(const Context& ctx, std::string_view bytes) {
  ByteReader r(bytes);
  const CtHeader h = read_ct_header(r, ctx);
  Ciphertext ct;
  const auto seed = io::read_ct_polys(r, ctx, h.level, h.size, /*fresh_only=*/true, [&] {
    ct = Ciphertext(ctx.params_id(), ctx.n(), h.level, h.size);
    return ct.raw();
  });
  r.finish("ciphertext");
  if (seed) io::expand_ct_seed(ctx, *seed, h.level, ct.poly(1));
  return ct;
}

CiphertextShape inspect_ciphertext(const Context& ctx, std::string_view bytes, const SentRowVisitor& visit) {
  ByteReader r(bytes);
  const CtHeader h = read_ct_header(r, ctx);
  const std::size_t n = ctx.n();
  thread_local std::vector<std::uint64_t> buf;  // the rows the bytes carry, reused per thread
  const auto seed = io::read_ct_polys(r, ctx, h.level, h.size, /*fresh_only=*/true, [&] {
    buf.resize(std::size_t(h.size) * h.level * n);
    return buf.data();
  });
  r.finish("ciphertext");
  const std::size_t sent = seed ? 1 : h.size;
  for (std::size_t poly = 0; poly < sent; ++poly)
    for (std::size_t i = 0; i < h.level; ++i) visit(poly, i, buf.data() + (poly * h.level + i) * n);
  return {h.level, h.size, seed.has_value()};
}

}  // namespace leukocrypt::bfv
