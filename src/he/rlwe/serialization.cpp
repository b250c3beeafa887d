// Serialization of the shared objects (object header, bit-packed rows, public and evaluation
// keys) with full validation on load (see serialization.h).
#include "he/rlwe/serialization.h"

#include <bit>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "he/rlwe/encryption.h"
#include "he/rlwe/object_io.h"

namespace leukocrypt::rlwe {

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
    case ObjectType::kCkksParams: return "CKKS params";
    case ObjectType::kCkksPlaintext: return "CKKS plaintext";
    case ObjectType::kCkksCiphertext: return "CKKS ciphertext";
  }
  return "object";
}

void write_header(ByteWriter& w, ObjectType type, std::uint64_t params_id) {
  w.bytes(kMagic, 4);
  w.u16(kFormatVersion);
  w.u16(static_cast<std::uint16_t>(type));
  w.u64(params_id);
}

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

std::uint64_t read_header_for(ByteReader& r, ObjectType type, const RingContext& ctx) {
  const std::uint64_t id = read_header(r, type);
  if (id != ctx.params_id())
    throw FormatError(std::string(type_name(type)) + " was made for other parameters (params id mismatch)");
  return id;
}

void expect_eq(std::uint64_t got, std::uint64_t want, const char* field) {
  if (got != want)
    throw FormatError(std::string(field) + " is " + std::to_string(got) + ", expected " + std::to_string(want));
}

// The prime count's high 16 bits hold k - 1 (k special primes), so that a chain with one special
// prime is written as before and older readers refuse one with several (count above 60).
void write_chain(ByteWriter& w, std::size_t n, const std::vector<std::uint64_t>& q,
                 const std::vector<std::uint64_t>& specials) {
  w.u32(static_cast<std::uint32_t>(n));
  w.u32(static_cast<std::uint32_t>(q.size() | ((specials.size() - 1) << 16)));
  for (auto v : q) w.u64(v);
  for (auto v : specials) w.u64(v);
}

ModulusChain read_chain(ByteReader& r) {
  ModulusChain c;
  c.n = r.u32("N");
  const std::uint32_t word = r.u32("prime count");
  const std::uint32_t count = word & 0xffff, specials = (word >> 16) + 1;
  if (count < 1 || count > 60) throw FormatError("prime count " + std::to_string(count) + " outside [1, 60]");
  if (specials > 60) throw FormatError("special prime count " + std::to_string(specials) + " outside [1, 60]");
  c.q.resize(count);
  for (auto& v : c.q) v = r.u64("ciphertext prime");
  c.specials.resize(specials);
  for (auto& v : c.specials) v = r.u64("special prime");
  return c;
}

Security read_security(ByteReader& r) {
  const std::uint8_t sec = r.u8("security");
  if (sec > 1) throw FormatError("unknown security level " + std::to_string(sec));
  return static_cast<Security>(sec);
}

void write_ct_polys(ByteWriter& w, const std::uint64_t* raw, std::size_t n, std::size_t level, std::size_t size,
                    const he::Seed* seed) {
  w.u8(seed ? 1 : 0);
  if (seed) w.bytes(seed->data(), 32);
  write_rows(w, raw, (seed ? 1 : size) * level, n);
}

void expand_ct_seed(const RingContext& ctx, const he::Seed& seed, std::size_t level, std::uint64_t* poly1) {
  he::Prng prng(seed, kDomainSymmetric);
  expand_uniform(prng, ctx, level, poly1);
}

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

namespace {

void write_ksk(ByteWriter& w, const KeySwitchKey& k) {
  w.u32(static_cast<std::uint32_t>(k.n()));
  w.u32(static_cast<std::uint32_t>(k.digits()));
  w.u32(static_cast<std::uint32_t>(k.primes()));
  write_rows(w, k.raw(), 2 * k.digits() * k.primes(), k.n());
}

KeySwitchKey read_ksk(ByteReader& r, const RingContext& ctx) {
  const std::size_t n = ctx.n(), D = ctx.digits(ctx.max_level()), P = ctx.key_primes();
  expect_eq(r.u32("key N"), n, "key N");
  expect_eq(r.u32("key digits"), D, "key digits");
  expect_eq(r.u32("key primes"), P, "key primes");
  // Row (d * 2 + c) * P + j: digit d, component c, prime j.
  auto bound = [&](std::size_t row) { return ctx.modulus(row % P).value(); };
  auto widths = read_row_widths(r, 2 * D * P, n, bound, "key-switching key");
  KeySwitchKey k(n, D, P);
  read_rows(r, k.raw(), widths, n, bound, [&](std::size_t row) {
    return "key digit " + std::to_string(row / (2 * P)) + " prime " + std::to_string(row % P);
  });
  return k;
}

// Galois keys: u8 seeded | [32-byte seed, then the 'b' rows only: digit-major, then prime] |
// otherwise the full key as write_ksk. The 'a' rows of a seeded key are expanded from the seed
// (expand_key_switch_seed), halving the eval.key upload.
void write_galois_ksk(ByteWriter& w, const KeySwitchKey& k) {
  w.u8(k.seed() ? 1 : 0);
  if (!k.seed()) return write_ksk(w, k);
  w.bytes(k.seed()->data(), 32);
  w.u32(static_cast<std::uint32_t>(k.n()));
  w.u32(static_cast<std::uint32_t>(k.digits()));
  w.u32(static_cast<std::uint32_t>(k.primes()));
  for (std::size_t d = 0; d < k.digits(); ++d) write_rows(w, k.data(d, 0, 0), k.primes(), k.n());
}

// Reads one Galois key into k (shaped n x digits x key primes, reused across keys by check_galois_keys).
// expand: fill the 'a' rows of a seeded key from its seed; without it they are left as they were
// (a check that the bytes are valid needs them not: expanded rows are < q by construction).
void read_galois_ksk_into(ByteReader& r, const RingContext& ctx, KeySwitchKey& k, bool expand) {
  const std::uint8_t seeded = r.u8("Galois key seeded flag");
  if (seeded > 1) throw FormatError("Galois key seeded flag is " + std::to_string(seeded) + ", expected 0 or 1");
  if (!seeded) {
    k = read_ksk(r, ctx);
    return;
  }
  he::Seed seed{};
  r.bytes(seed.data(), 32, "Galois key seed");
  const std::size_t n = ctx.n(), D = ctx.digits(ctx.max_level()), P = ctx.key_primes();
  expect_eq(r.u32("key N"), n, "key N");
  expect_eq(r.u32("key digits"), D, "key digits");
  expect_eq(r.u32("key primes"), P, "key primes");
  auto bound = [&](std::size_t row) { return ctx.modulus(row % P).value(); };
  if (k.n() != n || k.digits() != D || k.primes() != P) k = KeySwitchKey(n, D, P);
  for (std::size_t d = 0; d < D; ++d) {
    auto widths = read_row_widths(r, P, n, bound, "seeded Galois key");
    read_rows(r, k.data(d, 0, 0), widths, n, bound, [&](std::size_t row) {
      return "Galois key digit " + std::to_string(d) + " prime " + std::to_string(row);
    });
  }
  if (expand) expand_key_switch_seed(ctx, seed, k);
  k.set_seed(seed);
}

KeySwitchKey read_galois_ksk(ByteReader& r, const RingContext& ctx) {
  KeySwitchKey k;
  read_galois_ksk_into(r, ctx, k, /*expand=*/true);
  return k;
}

// Header, key id and count of serialized Galois keys; then `each(element)` reads one key.
template <class Each>
std::uint64_t read_galois_keys(ByteReader& r, const RingContext& ctx, Each&& each) {
  read_header_for(r, ObjectType::kGaloisKeys, ctx);
  const std::uint64_t key_id = r.u64("key id");
  const std::uint32_t count = r.u32("key count");
  if (count > ctx.n()) throw FormatError("Galois key count " + std::to_string(count) + " exceeds N");
  std::uint32_t prev = 0;
  for (std::uint32_t c = 0; c < count; ++c) {
    const std::uint32_t g = r.u32("Galois element");
    if (g % 2 == 0 || g >= 2 * ctx.n() || g <= prev)
      throw FormatError("Galois element " + std::to_string(g) + " is not odd, below 2N and increasing");
    prev = g;
    each(g);
  }
  r.finish("Galois keys");
  return key_id;
}

}  // namespace
}  // namespace detail

using detail::ByteReader;
using detail::ByteWriter;

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

PublicKey load_public_key(const RingContext& ctx, std::string_view bytes) {
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
    he::Prng prng(seed, kDomainPublicKey);
    expand_uniform(prng, ctx, L, pk.data(1, 0));
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

RelinKeys load_relin_keys(const RingContext& ctx, std::string_view bytes) {
  ByteReader r(bytes);
  detail::read_header_for(r, ObjectType::kRelinKeys, ctx);
  const std::uint64_t key_id = r.u64("key id");
  KeySwitchKey k = detail::read_ksk(r, ctx);
  r.finish("relin keys");
  return RelinKeys(ctx.params_id(), key_id, std::move(k));
}

std::string save_galois_keys_header(std::uint64_t params_id, std::uint64_t key_id, std::uint32_t count) {
  ByteWriter w;
  detail::write_header(w, ObjectType::kGaloisKeys, params_id);
  w.u64(key_id);
  w.u32(count);
  return w.take();
}

std::string save_galois_key(std::uint32_t galois_elt, const KeySwitchKey& key) {
  ByteWriter w;
  w.u32(galois_elt);
  detail::write_galois_ksk(w, key);
  return w.take();
}

std::string save(const GaloisKeys& gk) {
  require(!gk.permuted(), "save: Galois keys in evaluation form cannot be saved (save them before permute_for_evaluation)");
  std::string out = save_galois_keys_header(gk.params_id(), gk.key_id(), static_cast<std::uint32_t>(gk.keys().size()));
  for (const auto& [g, k] : gk.keys()) out += save_galois_key(g, k);
  return out;
}

GaloisKeys load_galois_keys(const RingContext& ctx, std::string_view bytes) {
  ByteReader r(bytes);
  std::map<std::uint32_t, KeySwitchKey> keys;
  const std::uint64_t key_id =
      detail::read_galois_keys(r, ctx, [&](std::uint32_t g) { keys[g] = detail::read_galois_ksk(r, ctx); });
  GaloisKeys gk(ctx.params_id(), key_id);
  for (auto& [g, k] : keys) gk.insert(g, std::move(k));
  return gk;
}

GaloisKeysSummary check_galois_keys(const RingContext& ctx, std::string_view bytes) {
  ByteReader r(bytes);
  GaloisKeysSummary out;
  KeySwitchKey scratch;
  out.key_id = detail::read_galois_keys(r, ctx, [&](std::uint32_t g) {
    detail::read_galois_ksk_into(r, ctx, scratch, /*expand=*/false);
    out.galois_elts.push_back(g);
  });
  return out;
}

}  // namespace leukocrypt::rlwe
