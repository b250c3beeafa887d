// Serialization: round trips, seeded (half-size) forms, the bit-packed layout, the golden hash of
// the format, and rejection of malformed input (truncation at every length, magic, version, type,
// params id, coefficients >= q_i, row widths above ceil(log2 q_i), trailing bytes).
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "common/error.h"
#include "he/bfv/serialization.h"
#include "he/bfv/symmetric_encryptor.h"
#include "../hex_hash.h"
#include "test_util.h"

namespace leukocrypt::bfv {
namespace {

using leukocrypt::testing::hex_hash;
using testing::Keys;
using testing::random_slots;
using testing::tiny_insecure_params;

// Writes `value` as the `index`-th `width`-bit field of the packed row starting at byte `at`.
void set_packed(std::string& b, std::size_t at, std::size_t index, int width, std::uint64_t value) {
  for (int k = 0; k < width; ++k) {
    const std::size_t bit = index * static_cast<std::size_t>(width) + static_cast<std::size_t>(k);
    char& byte = b[at + bit / 8];
    const char mask = static_cast<char>(1u << (bit % 8));
    byte = static_cast<char>(((value >> k) & 1) ? (byte | mask) : (byte & ~mask));
  }
}

// Reads the `index`-th `width`-bit field of the packed row starting at byte `at`.
std::uint64_t get_packed(const std::string& b, std::size_t at, std::size_t index, int width) {
  std::uint64_t v = 0;
  for (int k = 0; k < width; ++k) {
    const std::size_t bit = index * static_cast<std::size_t>(width) + static_cast<std::size_t>(k);
    v |= static_cast<std::uint64_t>((static_cast<unsigned char>(b[at + bit / 8]) >> (bit % 8)) & 1) << k;
  }
  return v;
}

class BfvSerializationTest : public ::testing::Test {
 protected:
  BfvSerializationTest() : k_(tiny_insecure_params()), enc_(k_.ctx), encryptor_(k_.ctx, k_.pk), dec_(k_.ctx, k_.keygen.secret_key()) {}
  Keys k_;
  BatchEncoder enc_;
  Encryptor encryptor_;
  Decryptor dec_;
  std::mt19937_64 rng_{5};
};

TEST_F(BfvSerializationTest, RoundTripsEveryObject) {
  const Params& p = k_.ctx->params();
  EXPECT_EQ(load_params(save(p), true).id(), p.id());
  // The bytes alone never lower the security level: a file marked insecure needs the caller's consent.
  EXPECT_THROW(load_params(save(p)), SecurityError);
  auto v = random_slots(64, 257, rng_);
  auto pt = enc_.encode(v);
  auto ct = encryptor_.encrypt(pt);
  auto ct2 = load_ciphertext(*k_.ctx, save(ct));
  EXPECT_EQ(save(ct2), save(ct));
  EXPECT_EQ(enc_.decode(dec_.decrypt(ct2)), v);
  EXPECT_EQ(enc_.decode(load_plaintext(*k_.ctx, save(pt))), v);
  // Public key: seeded, half size, and it still encrypts correctly after loading.
  std::string pk_bytes = save(k_.pk);
  PublicKey pk2 = load_public_key(*k_.ctx, pk_bytes);
  EXPECT_EQ(save(pk2), pk_bytes);
  EXPECT_LT(pk_bytes.size(), 3 * 8 * 64 * 3 / 2 + 100);
  Encryptor e2(k_.ctx, pk2);
  EXPECT_EQ(enc_.decode(dec_.decrypt(e2.encrypt(pt))), v);
  // Relin and Galois keys work after a round trip.
  RelinKeys rk2 = load_relin_keys(*k_.ctx, save(k_.rk));
  GaloisKeys gk = k_.keygen.create_galois_keys({1, -3});
  GaloisKeys gk2 = load_galois_keys(*k_.ctx, save(gk));
  EXPECT_EQ(save(gk2), save(gk));
  Evaluator ev(k_.ctx);
  auto sq = ev.square_relin(ct, rk2);
  std::vector<std::uint64_t> expect(64);
  for (std::size_t i = 0; i < 64; ++i) expect[i] = v[i] * v[i] % 257;
  EXPECT_EQ(enc_.decode(dec_.decrypt(sq)), expect);
  EXPECT_NO_THROW(ev.rotate_rows(ct, -3, gk2));
  // Secret key.
  SecretKey sk2 = load_secret_key(*k_.ctx, save(k_.keygen.secret_key()));
  EXPECT_EQ(enc_.decode(Decryptor(k_.ctx, sk2).decrypt(ct)), v);
}

// Hybrid key switching (k = 2 special primes): params, secret, relin and seeded Galois keys round
// trip and still work; a key made for one special prime is refused by the hybrid context (shape),
// and the params bytes carry the special primes (an older reader sees a prime count above 60).
TEST(BfvSerializationHybrid, TwoSpecialPrimesRoundTrip) {
  const Params p = testing::tiny_insecure_params_hybrid(257, 2);
  ASSERT_EQ(p.special_primes().size(), 2u);
  const Params p2 = load_params(save(p), true);
  EXPECT_EQ(p2.id(), p.id());
  EXPECT_EQ(p2.special_primes(), p.special_primes());
  EXPECT_NE(p.id(), Params::create_from_primes(64, p.q(), p.special_primes()[0], 257, Security::kInsecureForTests).id());
  Keys k(p);
  ASSERT_EQ(k.rk.key().digits(), 3u);  // ceil(5 / 2)
  ASSERT_EQ(k.rk.key().primes(), 7u);
  RelinKeys rk2 = load_relin_keys(*k.ctx, save(k.rk));
  EXPECT_EQ(save(rk2), save(k.rk));
  GaloisKeys gk = k.keygen.create_galois_keys({1}, /*add_columns=*/false);
  GaloisKeys gk2 = load_galois_keys(*k.ctx, save(gk));
  EXPECT_EQ(save(gk2), save(gk));
  SecretKey sk2 = load_secret_key(*k.ctx, save(k.keygen.secret_key()));
  BatchEncoder enc(k.ctx);
  Encryptor encryptor(k.ctx, k.pk);
  Evaluator ev(k.ctx);
  std::mt19937_64 rng(3);
  auto v = random_slots(64, 257, rng);
  auto ct = encryptor.encrypt(enc.encode(v));
  std::vector<std::uint64_t> sq(64), rot(64);
  for (std::size_t i = 0; i < 64; ++i) sq[i] = v[i] * v[i] % 257;
  for (std::size_t r = 0; r < 2; ++r)
    for (std::size_t i = 0; i < 32; ++i) rot[r * 32 + i] = v[r * 32 + (i + 1) % 32];
  Decryptor dec(k.ctx, sk2);
  EXPECT_EQ(enc.decode(dec.decrypt(ev.square_relin(ct, rk2))), sq);
  EXPECT_EQ(enc.decode(dec.decrypt(ev.rotate_rows(ct, 1, gk2))), rot);
  // Keys of a one-special-prime set with the same q do not load into the hybrid context.
  Keys one(Params::create_from_primes(64, p.q(), p.special_primes()[0], 257, Security::kInsecureForTests));
  EXPECT_THROW(load_relin_keys(*k.ctx, save(one.rk)), FormatError);
}

TEST_F(BfvSerializationTest, SeededSymmetricCiphertextIsHalfSize) {
  SymmetricEncryptor sym(k_.ctx, k_.keygen.secret_key());
  auto v = random_slots(64, 257, rng_);
  he::Seed seed;
  auto ct = sym.encrypt(enc_.encode(v), &seed);
  std::string full = save(ct), half = save_seeded(ct, seed);
  EXPECT_LT(half.size(), full.size() / 2 + 64);
  auto loaded = load_ciphertext(*k_.ctx, half);
  EXPECT_EQ(save(loaded), full);
  EXPECT_EQ(enc_.decode(dec_.decrypt(loaded)), v);
}

// inspect_ciphertext (the service's request check): the rows the bytes carry, as load_ciphertext
// reads them (both polynomials unseeded; only poly 0 seeded), and every malformed input that
// load_ciphertext refuses is refused too (truncations, a coefficient >= q_i).
TEST_F(BfvSerializationTest, InspectVisitsTheSentRowsAndValidatesLikeLoad) {
  SymmetricEncryptor sym(k_.ctx, k_.keygen.secret_key());
  he::Seed seed;
  const auto ct = sym.encrypt(enc_.encode(random_slots(64, 257, rng_)), &seed);
  const std::size_t n = k_.ctx->n();
  for (bool seeded : {false, true}) {
    const std::string bytes = seeded ? save_seeded(ct, seed) : save(ct);
    std::vector<std::pair<std::size_t, std::size_t>> seen;
    const auto shape = inspect_ciphertext(*k_.ctx, bytes, [&](std::size_t poly, std::size_t i, const std::uint64_t* row) {
      seen.emplace_back(poly, i);
      EXPECT_TRUE(std::equal(row, row + n, ct.data(poly, i))) << "poly " << poly << " prime " << i;
    });
    EXPECT_EQ(shape.level, ct.level());
    EXPECT_EQ(shape.size, 2u);
    EXPECT_EQ(shape.seeded, seeded);
    EXPECT_EQ(seen.size(), (seeded ? 1 : 2) * ct.level());
    auto none = [](std::size_t, std::size_t, const std::uint64_t*) {};
    for (std::size_t len = 0; len < bytes.size(); len += 7)
      EXPECT_THROW(inspect_ciphertext(*k_.ctx, std::string_view(bytes).substr(0, len), none), FormatError) << len;
    EXPECT_THROW(inspect_ciphertext(*k_.ctx, bytes + "x", none), FormatError);
    std::string b = bytes;
    const std::size_t body = 4 + 2 + 2 + 8 + 4 + 4 + 4 + 1 + (seeded ? 32 : 0), rows = (seeded ? 1 : 2) * 3;
    set_packed(b, body + rows, 5, 40, k_.ctx->modulus(0).value());  // coefficient 5 of poly 0 = q_0
    EXPECT_THROW(load_ciphertext(*k_.ctx, b), FormatError);
    EXPECT_THROW(inspect_ciphertext(*k_.ctx, b, none), FormatError);
  }
}

// The version-2 layout by hand: width bytes, then each row at ceil(log2 q_i) bits per coefficient
// (40-bit primes: 40 * 64 / 8 = 320 bytes per row instead of 512), little-endian bit order.
// Galois keys travel seeded: the 'a' rows are expanded from a 32-byte seed on load, so the bytes
// are about half of the relinearisation key's per Galois element, and the loaded keys rotate.
TEST_F(BfvSerializationTest, SeededGaloisKeysAreHalfSizeAndRoundTrip) {
  GaloisKeys gk = k_.keygen.create_galois_keys({1, -3}, /*add_columns=*/false);
  ASSERT_EQ(gk.keys().size(), 2u);
  for (const auto& [g, key] : gk.keys()) EXPECT_TRUE(key.seed().has_value()) << g;
  const std::string bytes = save(gk);
  const std::size_t full_per_key = save(k_.rk).size();  // one whole key-switching key + header
  EXPECT_LT(bytes.size(), full_per_key + 200) << "two seeded Galois keys should fit in one whole key";
  GaloisKeys gk2 = load_galois_keys(*k_.ctx, bytes);
  EXPECT_EQ(save(gk2), bytes);
  for (const auto& [g, key] : gk.keys())
    EXPECT_TRUE(std::equal(key.raw(), key.raw() + key.raw_size(), gk2.get(g).raw())) << "element " << g;
  auto v = random_slots(64, 257, rng_);
  auto ct = encryptor_.encrypt(enc_.encode(v));
  Evaluator ev(k_.ctx);
  std::vector<std::uint64_t> expect(64);
  for (std::size_t r = 0; r < 2; ++r)
    for (std::size_t i = 0; i < 32; ++i) expect[r * 32 + i] = v[r * 32 + (i + 1) % 32];
  EXPECT_EQ(enc_.decode(dec_.decrypt(ev.rotate_rows(ct, 1, gk2))), expect);
}

TEST_F(BfvSerializationTest, CorruptSeededGaloisKeysAreRefused) {
  const std::string good = save(k_.keygen.create_galois_keys({1}, /*add_columns=*/false));
  for (std::size_t len = 0; len < good.size(); len += 7)
    EXPECT_THROW(load_galois_keys(*k_.ctx, std::string_view(good).substr(0, len)), FormatError) << "len " << len;
  EXPECT_THROW(load_galois_keys(*k_.ctx, good + "x"), FormatError);
  // Header (magic 4, version 2, type 2, params id 8), key id 8, count 4, element 4, then the flag.
  const std::size_t flag = 4 + 2 + 2 + 8 + 8 + 4 + 4;
  ASSERT_EQ(good[flag], 1);
  std::string b = good;
  b[flag] = 2;
  try {
    load_galois_keys(*k_.ctx, b);
    ADD_FAILURE() << "accepted seeded flag 2";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("seeded flag"), std::string::npos) << e.what();
  }
  b = good;
  b[flag + 1 + 32 + 4] ^= 1;  // key digits
  EXPECT_THROW(load_galois_keys(*k_.ctx, b), FormatError);
  b = good;
  b[flag + 1 + 32 + 12] = 60;  // the first 'b' row claims 60-bit coefficients
  EXPECT_THROW(load_galois_keys(*k_.ctx, b), FormatError);
}

// What client keygen does with gigabytes of Galois keys: each key made on its own (here on two
// threads at once) and serialized as soon as it is made; header + keys is byte for byte save() of
// the same keys as a set, loads, and rotates exactly.
TEST_F(BfvSerializationTest, GaloisKeysMadeAndSavedOneAtATimeEqualTheSetAndRotate) {
  const std::size_t n = k_.ctx->n();
  std::vector<std::uint32_t> elts = {galois_elt_for_step(-3, n), galois_elt_for_step(1, n), galois_elt_for_step(2, n)};
  std::sort(elts.begin(), elts.end());
  std::vector<KeySwitchKey> keys(elts.size());
  {
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 2; ++t)
      threads.emplace_back([&, t] {
        for (std::size_t e = t; e < elts.size(); e += 2) keys[e] = k_.keygen.create_galois_key(elts[e]);
      });
    for (auto& th : threads) th.join();
  }
  const auto key_id = k_.keygen.secret_key().key_id();
  std::string streamed = save_galois_keys_header(k_.ctx->params_id(), key_id, static_cast<std::uint32_t>(elts.size()));
  GaloisKeys set(k_.ctx->params_id(), key_id);
  for (std::size_t e = 0; e < elts.size(); ++e) {
    EXPECT_TRUE(keys[e].seed().has_value()) << elts[e];
    streamed += save_galois_key(elts[e], keys[e]);
    set.insert(elts[e], keys[e]);
  }
  EXPECT_EQ(streamed, save(set));
  const GaloisKeys loaded = load_galois_keys(*k_.ctx, streamed);
  EXPECT_EQ(loaded.key_id(), key_id);
  auto v = random_slots(64, 257, rng_);
  auto ct = encryptor_.encrypt(enc_.encode(v));
  Evaluator ev(k_.ctx);
  for (int step : {1, 2, -3}) {
    std::vector<std::uint64_t> expect(64);
    for (std::size_t r = 0; r < 2; ++r)
      for (std::size_t i = 0; i < 32; ++i) expect[r * 32 + i] = v[r * 32 + (i + 32 + step) % 32];
    EXPECT_EQ(enc_.decode(dec_.decrypt(ev.rotate_rows(ct, step, loaded))), expect) << "step " << step;
  }
  EXPECT_THROW(k_.keygen.create_galois_key(2), InvalidArgument);           // even
  EXPECT_THROW(k_.keygen.create_galois_key(2 * n + 1), InvalidArgument);   // >= 2N
}

// The provider's check of an upload (check_galois_keys: no key built, no seed expanded) accepts
// exactly what load_galois_keys accepts: the same elements and key id, and a FormatError for every
// truncation, trailing byte, bad flag, bad size, over-wide row and coefficient >= q.
TEST_F(BfvSerializationTest, CheckGaloisKeysRefusesWhatLoadRefuses) {
  const GaloisKeys gk = k_.keygen.create_galois_keys({1, -3}, /*add_columns=*/false);
  const std::string good = save(gk);
  const GaloisKeysSummary summary = check_galois_keys(*k_.ctx, good);
  EXPECT_EQ(summary.key_id, gk.key_id());
  std::vector<std::uint32_t> elts;
  for (const auto& [g, key] : gk.keys()) elts.push_back(g);
  EXPECT_EQ(summary.galois_elts, elts);
  auto both_refuse = [&](const std::string& b, const std::string& what) {
    EXPECT_THROW(load_galois_keys(*k_.ctx, b), FormatError) << what;
    EXPECT_THROW(check_galois_keys(*k_.ctx, b), FormatError) << what;
  };
  for (std::size_t len = 0; len < good.size(); len += 5) both_refuse(good.substr(0, len), "len " + std::to_string(len));
  both_refuse(good + "x", "trailing byte");
  const std::size_t flag = 4 + 2 + 2 + 8 + 8 + 4 + 4;  // header, key id, count, element
  std::string b = good;
  b[flag] = 2;
  both_refuse(b, "seeded flag 2");
  b = good;
  b[flag + 1 + 32 + 4] ^= 1;
  both_refuse(b, "key digits");
  b = good;
  b[flag + 1 + 32 + 12] = 60;
  both_refuse(b, "60-bit row");
  b = good;
  const std::size_t widths = flag + 1 + 32 + 12, primes = k_.ctx->max_level() + 1;
  const int w0 = static_cast<unsigned char>(b[widths]);
  const std::uint64_t q0 = k_.ctx->modulus(0).value();
  ASSERT_LT(q0, std::uint64_t(1) << w0);
  set_packed(b, widths + primes, 7, w0, q0);  // digit 0, prime 0, coefficient 7 = q_0
  both_refuse(b, "coefficient q_0");
  b = good;
  b[8] ^= 1;  // params id
  both_refuse(b, "params id");
}

TEST_F(BfvSerializationTest, CiphertextRowsAreBitPacked) {
  auto ct = encryptor_.encrypt(enc_.encode(random_slots(64, 257, rng_)));
  const std::string b = save(ct);
  const std::size_t body = 4 + 2 + 2 + 8 + 4 + 4 + 4 + 1, rows = 6;
  ASSERT_EQ(b.size(), body + rows + rows * 40 * 64 / 8);
  for (std::size_t r = 0; r < rows; ++r) {
    ASSERT_EQ(static_cast<unsigned char>(b[body + r]), 40) << r;
    for (std::size_t c = 0; c < 64; ++c)
      ASSERT_EQ(get_packed(b, body + rows + r * 320, c, 40), ct.data(r / 3, r % 3)[c]) << r << " " << c;
  }
  // Relin keys: 2 * L * (L + 1) rows of N coefficients, 40 or 41 bits each (vs 64).
  const std::string rk = save(k_.rk);
  EXPECT_LT(rk.size(), 2 * 3 * 4 * 64 * 41 / 8 + 200);
  // Secret key: 2 bits per coefficient.
  EXPECT_EQ(save(k_.keygen.secret_key()).size(), 4 + 2 + 2 + 8 + 8 + 4 + 4 + 64 / 4);
}

// Pins the byte format: any change to the layout must bump kFormatVersion and this hash.
TEST(BfvSerializationGolden, FormatHash) {
  auto ctx = Context::create(tiny_insecure_params());
  Ciphertext ct(ctx->params_id(), 64, 3, 2);
  for (std::size_t k = 0; k < 2; ++k)
    for (std::size_t i = 0; i < 3; ++i)
      for (std::size_t c = 0; c < 64; ++c) ct.data(k, i)[c] = (c * 2654435761ULL + k * 97 + i) % ctx->modulus(i).value();
  Plaintext pt(ctx->params_id(), 64);
  for (std::size_t c = 0; c < 64; ++c) pt[c] = c * 7 % 257;
  he::Seed seed{};
  for (std::size_t i = 0; i < 32; ++i) seed[i] = static_cast<std::uint8_t>(i);
  const std::string all = save(ctx->params()) + save(ct) + save(pt) + save_seeded(ct, seed);
  EXPECT_EQ(hex_hash(all), "499feb47a892dfd5bfa89038f846d42b77c44a215581069a1971ecbcc0dfa69d");
}

TEST_F(BfvSerializationTest, RejectsMalformedInput) {
  auto ct = encryptor_.encrypt(enc_.encode(random_slots(64, 257, rng_)));
  const std::string good = save(ct);
  // Truncation at every length.
  for (std::size_t len = 0; len < good.size(); ++len)
    EXPECT_THROW(load_ciphertext(*k_.ctx, std::string_view(good).substr(0, len)), FormatError) << "len " << len;
  auto expect_msg = [&](std::string bytes, const char* needle) {
    try {
      load_ciphertext(*k_.ctx, bytes);
      ADD_FAILURE() << "accepted malformed input (" << needle << ")";
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  std::string b = good;
  b[0] = 'X';
  expect_msg(b, "magic");
  b = good;
  b[4] = 9;
  expect_msg(b, "version");
  b = good;
  b[6] = 2;
  expect_msg(b, "object type");
  b = good;
  b[8] ^= 1;
  expect_msg(b, "params id");
  b = good;
  const std::size_t body = 4 + 2 + 2 + 8 + 4 + 4 + 4 + 1;
  const std::size_t rows = 2 * 3;  // width bytes, then row 0 (poly 0, prime 0)
  const std::uint64_t q0 = k_.ctx->modulus(0).value();
  const int w0 = static_cast<unsigned char>(b[body]);
  ASSERT_EQ(w0, 40);
  set_packed(b, body + rows, 5, w0, q0);  // coefficient 5 = q_0
  expect_msg(b, "not below its modulus");
  b = good;
  b[body + 1] = 41;  // row 1 (prime 1, 40 bits) claims 41-bit coefficients
  expect_msg(b, "at most 40");
  b = good;
  std::fill(b.begin() + static_cast<std::ptrdiff_t>(b.size() / 2), b.begin() + static_cast<std::ptrdiff_t>(b.size() / 2 + 16), '\xff');
  expect_msg(b, "not below its modulus");  // 16 bytes of 0xff cover a whole coefficient: 2^40 - 1 >= q
  b = good;
  b[4] = 1;  // a version-1 file (64-bit coefficients)
  expect_msg(b, "before bit packing");
  expect_msg(good + "x", "trailing");
  b = good;
  b[body - 9] = 7;  // level byte (low byte of u32 level)
  expect_msg(b, "level");
  // Other loaders reject each other's bytes and garbage.
  EXPECT_THROW(load_public_key(*k_.ctx, good), FormatError);
  EXPECT_THROW(load_relin_keys(*k_.ctx, save(k_.pk)), FormatError);
  EXPECT_THROW(load_params(std::string("LKCR"), true), FormatError);
  // A 128-bit-insecure params file marked secure is refused.
  std::string pbytes = save(k_.ctx->params());
  pbytes.back() = 0;  // security = k128 (the params id no longer matches either)
  EXPECT_THROW(load_params(pbytes, true), Error);
  // Secret key with a non-ternary coefficient.
  std::string sk = save(k_.keygen.secret_key());
  sk[sk.size() - 1] = static_cast<char>(0xc0);  // last coefficient stored as 3
  EXPECT_THROW(load_secret_key(*k_.ctx, sk), FormatError);
}

}  // namespace
}  // namespace leukocrypt::bfv
