// Serialization of public objects with full validation on load (see serialization.h).
#include "he/bfv/serialization.h"

#include <bit>
#include <vector>

#include "common/error.h"
#include "he/bfv/byte_io.h"
#include "he/bfv/internal.h"

namespace leukocrypt::bfv {

namespace detail {

const char* type_name(ObjectType t) {
  switch (t) {
    case ObjectType::kParams: return "params";
    case ObjectType::kPublicKey: return "public key";
    case ObjectType::kSecretKey: return "secret key";
    case ObjectType::kRelinKeys: return "relin keys";
    case ObjectType::kGaloisKeys: return "Galois keys";
    case ObjectType::kPlaintext: return "plaintext";
    case ObjectType::kCiphertext: return "ciphertext";
  }
  return "object";
}

void write_header(ByteWriter& w, ObjectType type, std::uint64_t params_id) {
  w.bytes(kMagic, 4);
  w.u16(kFormatVersion);
  w.u16(static_cast<std::uint16_t>(type));
  w.u64(params_id);
}

// Reads and checks the header; returns the params id.
std::uint64_t read_header(ByteReader& r, ObjectType type) {
  char magic[4];
  r.bytes(magic, 4, "magic");
  if (std::memcmp(magic, kMagic, 4) != 0) throw FormatError("bad magic: not a leukocrypt HE object (expected \"LKCR\")");
  const std::uint16_t version = r.u16("format version");
  if (version != kFormatVersion)
    throw FormatError("unsupported format version " + std::to_string(version) + " (this build reads " +
                      std::to_string(kFormatVersion) +
                      (version == 1 ? "; version 1 stored 64-bit coefficients before bit packing: re-create the object "
                                      "with this build)"
                                    : ")"));
  const std::uint16_t t = r.u16("object type");
  if (t != static_cast<std::uint16_t>(type))
    throw FormatError(std::string("wrong object type ") + std::to_string(t) + ": expected " + type_name(type) + " (" +
                      std::to_string(static_cast<int>(type)) + ")");
  return r.u64("params id");
}

std::uint64_t read_header_for(ByteReader& r, ObjectType type, const Context& ctx) {
  const std::uint64_t id = read_header(r, type);
  if (id != ctx.params_id())
    throw FormatError(std::string(type_name(type)) + " was made for other parameters (params id mismatch)");
  return id;
}

void expect_eq(std::uint64_t got, std::uint64_t want, const char* field) {
  if (got != want)
    throw FormatError(std::string(field) + " is " + std::to_string(got) + ", expected " + std::to_string(want));
}

// Polynomial rows (n coefficients each, contiguous): one width byte per row -- the bits of the
// row's largest coefficient, at most ceil(log2 q) for a row mod q -- then every row bit-packed
// at its width. Width bytes come first so that a loader can check the whole size before it
// allocates anything.
void write_rows(ByteWriter& w, const std::uint64_t* data, std::size_t rows, std::size_t n) {
  std::vector<int> widths(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    std::uint64_t m = 0;
    for (std::size_t c = 0; c < n; ++c) m |= data[r * n + c];
    widths[r] = std::bit_width(m);
    w.u8(static_cast<std::uint8_t>(widths[r]));
  }
  for (std::size_t r = 0; r < rows; ++r) w.packed(data + r * n, n, widths[r]);
}

// Reads the width table of `rows` rows (row r holds values below bound(r)), checks each width
// against its modulus and that the packed rows are all present; returns the widths.
template <class Bound>
std::vector<int> read_row_widths(ByteReader& r, std::size_t rows, std::size_t n, Bound bound, const char* what) {
  r.need_bytes(rows, what);
  std::vector<int> widths(rows);
  std::size_t total = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    widths[i] = r.u8("row width");
    const int most = coeff_bits(bound(i));
    if (widths[i] > most)
      throw FormatError(std::string(what) + " row " + std::to_string(i) + " is stored in " + std::to_string(widths[i]) +
                        " bits, its modulus needs at most " + std::to_string(most));
    total += ByteWriter::packed_bytes(n, widths[i]);
  }
  r.need_bytes(total, what);
  return widths;
}

template <class Bound, class Name>
void read_rows(ByteReader& r, std::uint64_t* data, const std::vector<int>& widths, std::size_t n, Bound bound,
               Name name) {
  for (std::size_t i = 0; i < widths.size(); ++i) r.packed_below(data + i * n, n, widths[i], bound(i), name(i));
}

void write_ksk(ByteWriter& w, const KeySwitchKey& k) {
  w.u32(static_cast<std::uint32_t>(k.n()));
  w.u32(static_cast<std::uint32_t>(k.digits()));
  w.u32(static_cast<std::uint32_t>(k.primes()));
  write_rows(w, k.raw(), 2 * k.digits() * k.primes(), k.n());
}

KeySwitchKey read_ksk(ByteReader& r, const Context& ctx) {
  const std::size_t n = ctx.n(), L = ctx.max_level();
  expect_eq(r.u32("key N"), n, "key N");
  expect_eq(r.u32("key digits"), L, "key digits");
  expect_eq(r.u32("key primes"), L + 1, "key primes");
  // Row (d * 2 + c) * (L + 1) + j: digit d, component c, prime j.
  auto bound = [&](std::size_t row) { return ctx.modulus(row % (L + 1)).value(); };
  auto widths = read_row_widths(r, 2 * L * (L + 1), n, bound, "key-switching key");
  KeySwitchKey k(n, L, L + 1);
  read_rows(r, k.raw(), widths, n, bound, [&](std::size_t row) {
    return "key digit " + std::to_string(row / (2 * (L + 1))) + " prime " + std::to_string(row % (L + 1));
  });
  return k;
}

}  // namespace detail

using detail::ByteReader;
using detail::ByteWriter;

std::string save(const Params& p) {
  ByteWriter w;
  detail::write_header(w, ObjectType::kParams, p.id());
  w.u32(static_cast<std::uint32_t>(p.n()));
  w.u32(static_cast<std::uint32_t>(p.q().size()));
  for (auto q : p.q()) w.u64(q);
  w.u64(p.special_prime());
  w.u64(p.t());
  w.u8(static_cast<std::uint8_t>(p.security()));
  return w.take();
}

Params load_params(std::string_view bytes, bool allow_insecure_for_tests) {
  ByteReader r(bytes);
  const std::uint64_t id = detail::read_header(r, ObjectType::kParams);
  const std::uint32_t n = r.u32("N");
  const std::uint32_t count = r.u32("prime count");
  if (count < 1 || count > 60) throw FormatError("prime count " + std::to_string(count) + " outside [1, 60]");
  std::vector<std::uint64_t> q(count);
  for (auto& v : q) v = r.u64("ciphertext prime");
  const std::uint64_t special = r.u64("special prime");
  const std::uint64_t t = r.u64("plaintext modulus");
  const std::uint8_t sec = r.u8("security");
  r.finish("params");
  if (sec > 1) throw FormatError("unknown security level " + std::to_string(sec));
  if (static_cast<Security>(sec) == Security::kInsecureForTests && !allow_insecure_for_tests)
    throw SecurityError("params marked insecure-for-tests: refused unless the caller allows insecure parameters");
  Params p = [&] {
    try {
      return Params::create_from_primes(n, q, special, t, static_cast<Security>(sec));
    } catch (const InvalidArgument& e) {
      throw FormatError(std::string("invalid params: ") + e.what());
    }
  }();
  if (p.id() != id) throw FormatError("params id in the header does not match the parameters");
  return p;
}

std::string save(const PublicKey& pk) {
  ByteWriter w;
  detail::write_header(w, ObjectType::kPublicKey, pk.params_id());
  w.u64(pk.key_id());
  w.u32(static_cast<std::uint32_t>(pk.n()));
  w.u32(static_cast<std::uint32_t>(pk.level()));
  const bool seeded = pk.seed().has_value();
  w.u8(seeded ? 1 : 0);
  if (seeded) w.bytes(pk.seed()->data(), 32);
  detail::write_rows(w, pk.data(0, 0), (seeded ? 1 : 2) * pk.level(), pk.n());
  return w.take();
}

PublicKey load_public_key(const Context& ctx, std::string_view bytes) {
  ByteReader r(bytes);
  detail::read_header_for(r, ObjectType::kPublicKey, ctx);
  const std::uint64_t key_id = r.u64("key id");
  const std::size_t n = ctx.n(), L = ctx.max_level();
  detail::expect_eq(r.u32("N"), n, "public key N");
  detail::expect_eq(r.u32("level"), L, "public key level");
  const std::uint8_t seeded = r.u8("seeded flag");
  if (seeded > 1) throw FormatError("public key seeded flag is " + std::to_string(seeded) + ", expected 0 or 1");
  he::Seed seed{};
  if (seeded) r.bytes(seed.data(), 32, "seed");
  auto bound = [&](std::size_t row) { return ctx.modulus(row % L).value(); };
  auto widths = detail::read_row_widths(r, (seeded ? 1 : 2) * L, n, bound, "public key");
  PublicKey pk(ctx.params_id(), key_id, n, L);
  detail::read_rows(r, pk.data(0, 0), widths, n, bound, [&](std::size_t row) {
    return "public key poly " + std::to_string(row / L) + " prime " + std::to_string(row % L);
  });
  r.finish("public key");
  if (seeded) {
    he::Prng prng(seed, detail::kDomainPublicKey);
    detail::expand_uniform(prng, ctx, L, pk.data(1, 0));
    pk.set_seed(seed);
  }
  return pk;
}

std::string save(const RelinKeys& rk) {
  ByteWriter w;
  detail::write_header(w, ObjectType::kRelinKeys, rk.params_id());
  w.u64(rk.key_id());
  detail::write_ksk(w, rk.key());
  return w.take();
}

RelinKeys load_relin_keys(const Context& ctx, std::string_view bytes) {
  ByteReader r(bytes);
  detail::read_header_for(r, ObjectType::kRelinKeys, ctx);
  const std::uint64_t key_id = r.u64("key id");
  KeySwitchKey k = detail::read_ksk(r, ctx);
  r.finish("relin keys");
  return RelinKeys(ctx.params_id(), key_id, std::move(k));
}

std::string save(const GaloisKeys& gk) {
  ByteWriter w;
  detail::write_header(w, ObjectType::kGaloisKeys, gk.params_id());
  w.u64(gk.key_id());
  w.u32(static_cast<std::uint32_t>(gk.keys().size()));
  for (const auto& [g, k] : gk.keys()) {
    w.u32(g);
    detail::write_ksk(w, k);
  }
  return w.take();
}

GaloisKeys load_galois_keys(const Context& ctx, std::string_view bytes) {
  ByteReader r(bytes);
  detail::read_header_for(r, ObjectType::kGaloisKeys, ctx);
  const std::uint64_t key_id = r.u64("key id");
  const std::uint32_t count = r.u32("key count");
  if (count > ctx.n()) throw FormatError("Galois key count " + std::to_string(count) + " exceeds N");
  GaloisKeys gk(ctx.params_id(), key_id);
  std::uint32_t prev = 0;
  for (std::uint32_t c = 0; c < count; ++c) {
    const std::uint32_t g = r.u32("Galois element");
    if (g % 2 == 0 || g >= 2 * ctx.n() || g <= prev)
      throw FormatError("Galois element " + std::to_string(g) + " is not odd, below 2N and increasing");
    prev = g;
    gk.insert(g, detail::read_ksk(r, ctx));
  }
  r.finish("Galois keys");
  return gk;
}

std::string save(const Plaintext& pt) {
  ByteWriter w;
  detail::write_header(w, ObjectType::kPlaintext, pt.params_id());
  w.u32(static_cast<std::uint32_t>(pt.n()));
  detail::write_rows(w, pt.data(), 1, pt.n());
  return w.take();
}

Plaintext load_plaintext(const Context& ctx, std::string_view bytes) {
  ByteReader r(bytes);
  detail::read_header_for(r, ObjectType::kPlaintext, ctx);
  detail::expect_eq(r.u32("N"), ctx.n(), "plaintext N");
  auto bound = [&](std::size_t) { return ctx.params().t(); };
  auto widths = detail::read_row_widths(r, 1, ctx.n(), bound, "plaintext");
  Plaintext pt(ctx.params_id(), ctx.n());
  detail::read_rows(r, pt.data(), widths, ctx.n(), bound, [](std::size_t) { return std::string("plaintext"); });
  r.finish("plaintext");
  return pt;
}

namespace {
std::string save_ct(const Ciphertext& ct, const he::Seed* seed) {
  ByteWriter w;
  detail::write_header(w, ObjectType::kCiphertext, ct.params_id());
  w.u32(static_cast<std::uint32_t>(ct.n()));
  w.u32(static_cast<std::uint32_t>(ct.level()));
  w.u32(static_cast<std::uint32_t>(ct.size()));
  w.u8(seed ? 1 : 0);
  if (seed) w.bytes(seed->data(), 32);
  detail::write_rows(w, ct.raw(), (seed ? 1 : ct.size()) * ct.level(), ct.n());
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
  detail::read_header_for(r, ObjectType::kCiphertext, ctx);
  const std::size_t n = ctx.n();
  detail::expect_eq(r.u32("N"), n, "ciphertext N");
  const std::uint32_t level = r.u32("level");
  if (level < 1 || level > ctx.max_level())
    throw FormatError("ciphertext level " + std::to_string(level) + " outside [1, " + std::to_string(ctx.max_level()) + "]");
  const std::uint32_t size = r.u32("size");
  if (size < 2 || size > 3) throw FormatError("ciphertext size " + std::to_string(size) + " outside [2, 3]");
  const std::uint8_t seeded = r.u8("seeded flag");
  if (seeded > 1) throw FormatError("ciphertext seeded flag is " + std::to_string(seeded) + ", expected 0 or 1");
  if (seeded && (size != 2 || level != ctx.max_level()))
    throw FormatError("seeded ciphertext must be fresh (size 2, top level)");
  he::Seed seed{};
  if (seeded) r.bytes(seed.data(), 32, "seed");
  const std::size_t stored = seeded ? 1 : size;
  auto bound = [&](std::size_t row) { return ctx.modulus(row % level).value(); };
  auto widths = detail::read_row_widths(r, stored * level, n, bound, "ciphertext");
  Ciphertext ct(ctx.params_id(), n, level, size);
  detail::read_rows(r, ct.raw(), widths, n, bound, [&](std::size_t row) {
    return "ciphertext poly " + std::to_string(row / level) + " prime " + std::to_string(row % level);
  });
  r.finish("ciphertext");
  if (seeded) {
    he::Prng prng(seed, detail::kDomainSymmetric);
    detail::expand_uniform(prng, ctx, level, ct.poly(1));
  }
  return ct;
}

}  // namespace leukocrypt::bfv
