// CKKS serialization with full validation on load (see serialization.h).
#include "he/ckks/serialization.h"

#include <bit>
#include <cmath>
#include <vector>

#include "common/error.h"
#include "he/rlwe/object_io.h"

namespace leukocrypt::ckks {

namespace io = rlwe::detail;
using io::ByteReader;
using io::ByteWriter;
using rlwe::ObjectType;

namespace {

void write_scale(ByteWriter& w, double scale) { w.u64(std::bit_cast<std::uint64_t>(scale)); }

double read_scale(ByteReader& r, const char* what) {
  const double s = std::bit_cast<double>(r.u64("scale"));
  if (!std::isfinite(s) || s <= 0) throw FormatError(std::string(what) + " scale is not a finite positive number");
  return s;
}

std::size_t read_level(ByteReader& r, const Context& ctx, const char* what) {
  const std::uint32_t level = r.u32("level");
  if (level < 1 || level > ctx.max_level())
    throw FormatError(std::string(what) + " level " + std::to_string(level) + " outside [1, " +
                      std::to_string(ctx.max_level()) + "]");
  return level;
}

std::string save_ct(const Ciphertext& ct, const he::Seed* seed) {
  ByteWriter w;
  io::write_header(w, ObjectType::kCkksCiphertext, ct.params_id());
  w.u32(static_cast<std::uint32_t>(ct.n()));
  w.u32(static_cast<std::uint32_t>(ct.level()));
  w.u32(static_cast<std::uint32_t>(ct.size()));
  write_scale(w, ct.scale());
  io::write_ct_polys(w, ct.raw(), ct.n(), ct.level(), ct.size(), seed);
  return w.take();
}

}  // namespace

std::string save(const Params& p) {
  ByteWriter w;
  io::write_header(w, ObjectType::kCkksParams, p.id());
  io::write_chain(w, p.n(), p.q(), {p.special_prime()});
  write_scale(w, p.default_scale());
  w.u8(static_cast<std::uint8_t>(p.security()));
  return w.take();
}

Params load_params(std::string_view bytes, bool allow_insecure_for_tests) {
  ByteReader r(bytes);
  const std::uint64_t id = io::read_header(r, ObjectType::kCkksParams);
  const io::ModulusChain c = io::read_chain(r);
  const double scale = read_scale(r, "params default");
  const Security sec = io::read_security(r);
  if (sec == Security::kInsecureForTests && !allow_insecure_for_tests)
    throw SecurityError("params marked insecure-for-tests: refused unless the caller allows insecure parameters");
  r.finish("CKKS params");
  return io::checked_params(id, "CKKS params",
                            [&] {
                              if (c.specials.size() != 1)
                                throw FormatError("CKKS params with " + std::to_string(c.specials.size()) +
                                                  " special primes: this engine's CKKS uses one");
                              return Params::create_from_primes(c.n, c.q, c.specials[0], scale, sec);
                            });
}

std::string save(const Plaintext& pt) {
  ByteWriter w;
  io::write_header(w, ObjectType::kCkksPlaintext, pt.params_id());
  w.u32(static_cast<std::uint32_t>(pt.n()));
  w.u32(static_cast<std::uint32_t>(pt.level()));
  write_scale(w, pt.scale());
  io::write_rows(w, pt.raw(), pt.level(), pt.n());
  return w.take();
}

Plaintext load_plaintext(const Context& ctx, std::string_view bytes) {
  ByteReader r(bytes);
  io::read_header_for(r, ObjectType::kCkksPlaintext, ctx);
  io::expect_eq(r.u32("N"), ctx.n(), "plaintext N");
  const std::size_t level = read_level(r, ctx, "plaintext");
  const double scale = read_scale(r, "plaintext");
  auto bound = [&](std::size_t row) { return ctx.modulus(row).value(); };
  auto widths = io::read_row_widths(r, level, ctx.n(), bound, "plaintext");
  Plaintext pt(ctx.params_id(), ctx.n(), level, scale);
  io::read_rows(r, pt.raw(), widths, ctx.n(), bound,
                [](std::size_t row) { return "plaintext prime " + std::to_string(row); });
  r.finish("CKKS plaintext");
  return pt;
}

std::string save(const Ciphertext& ct) { return save_ct(ct, nullptr); }

std::string save_seeded(const Ciphertext& ct, const he::Seed& seed) {
  require(ct.size() == 2, "save_seeded: only fresh size-2 ciphertexts can be seeded");
  return save_ct(ct, &seed);
}

Ciphertext load_ciphertext(const Context& ctx, std::string_view bytes) {
  ByteReader r(bytes);
  io::read_header_for(r, ObjectType::kCkksCiphertext, ctx);
  const std::size_t n = ctx.n();
  io::expect_eq(r.u32("N"), n, "ciphertext N");
  const std::size_t level = read_level(r, ctx, "ciphertext");
  const std::uint32_t size = r.u32("size");
  if (size < 2 || size > 3) throw FormatError("ciphertext size " + std::to_string(size) + " outside [2, 3]");
  const double scale = read_scale(r, "ciphertext");
  Ciphertext ct;
  const auto seed = io::read_ct_polys(r, ctx, level, size, /*fresh_only=*/false, [&] {
    ct = Ciphertext(ctx.params_id(), n, level, size, scale);
    return ct.raw();
  });
  r.finish("CKKS ciphertext");
  if (seed) io::expand_ct_seed(ctx, *seed, level, ct.poly(1));
  return ct;
}

}  // namespace leukocrypt::ckks
