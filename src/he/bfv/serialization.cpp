// Serialization of public objects with full validation on load (see serialization.h).
#include "he/bfv/serialization.h"

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
                      std::to_string(kFormatVersion) + ")");
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

void write_ksk(ByteWriter& w, const KeySwitchKey& k) {
  w.u32(static_cast<std::uint32_t>(k.n()));
  w.u32(static_cast<std::uint32_t>(k.digits()));
  w.u32(static_cast<std::uint32_t>(k.primes()));
  w.words(k.raw(), k.raw_size());
}

KeySwitchKey read_ksk(ByteReader& r, const Context& ctx) {
  const std::size_t n = ctx.n(), L = ctx.max_level();
  expect_eq(r.u32("key N"), n, "key N");
  expect_eq(r.u32("key digits"), L, "key digits");
  expect_eq(r.u32("key primes"), L + 1, "key primes");
  r.need_words(2 * n * L * (L + 1), "key-switching key");
  KeySwitchKey k(n, L, L + 1);
  for (std::size_t d = 0; d < L; ++d)
    for (std::size_t c = 0; c < 2; ++c)
      for (std::size_t j = 0; j <= L; ++j)
        r.words_below(k.data(d, c, j), n, ctx.modulus(j).value(),
                      "key digit " + std::to_string(d) + " prime " + std::to_string(j));
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

Params load_params(std::string_view bytes) {
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
  if (seeded) {
    w.bytes(pk.seed()->data(), 32);
    w.words(pk.data(0, 0), pk.n() * pk.level());
  } else {
    w.words(pk.data(0, 0), 2 * pk.n() * pk.level());
  }
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
  PublicKey pk(ctx.params_id(), key_id, n, L);
  he::Seed seed{};
  if (seeded) r.bytes(seed.data(), 32, "seed");
  r.need_words((seeded ? 1 : 2) * n * L, "public key");
  for (std::size_t k = 0; k < (seeded ? 1u : 2u); ++k)
    for (std::size_t i = 0; i < L; ++i)
      r.words_below(pk.data(k, i), n, ctx.modulus(i).value(),
                    "public key poly " + std::to_string(k) + " prime " + std::to_string(i));
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
  w.words(pt.data(), pt.n());
  return w.take();
}

Plaintext load_plaintext(const Context& ctx, std::string_view bytes) {
  ByteReader r(bytes);
  detail::read_header_for(r, ObjectType::kPlaintext, ctx);
  detail::expect_eq(r.u32("N"), ctx.n(), "plaintext N");
  Plaintext pt(ctx.params_id(), ctx.n());
  r.words_below(pt.data(), ctx.n(), ctx.params().t(), "plaintext");
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
  if (seed) {
    w.bytes(seed->data(), 32);
    w.words(ct.poly(0), ct.level() * ct.n());
  } else {
    w.words(ct.raw(), ct.raw_size());
  }
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
  r.need_words(stored * level * n, "ciphertext");
  Ciphertext ct(ctx.params_id(), n, level, size);
  for (std::size_t k = 0; k < stored; ++k)
    for (std::size_t i = 0; i < level; ++i)
      r.words_below(ct.data(k, i), n, ctx.modulus(i).value(),
                    "ciphertext poly " + std::to_string(k) + " prime " + std::to_string(i));
  r.finish("ciphertext");
  if (seeded) {
    he::Prng prng(seed, detail::kDomainSymmetric);
    detail::expand_uniform(prng, ctx, level, ct.poly(1));
  }
  return ct;
}

}  // namespace leukocrypt::bfv
