// Noise: the measured invariant noise budget after each op is >= the analytic worst-case bound
// of noise_model.h; and the CryptoNets depth-2 path on a real 128-bit parameter set is exact.
#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>
#include <iostream>

#include "he/bfv/noise_model.h"
#include "he/bfv/symmetric_encryptor.h"
#include "test_util.h"

namespace leukocrypt::bfv {
namespace {

using testing::Keys;
using testing::random_slots;

void expect_budget(const Decryptor& dec, const Ciphertext& ct, double noise_bits, const char* what) {
  const int measured = dec.invariant_noise_budget(ct);
  const double bound = NoiseModel::noise_budget_bits(noise_bits);
  EXPECT_GE(measured, bound) << what << ": measured " << measured << " bits, bound " << bound;
  EXPECT_GT(measured, 0) << what;
}

// INSECURE tiny parameters: N = 64, 4 x 55-bit primes and one special prime, or 4 x 49-bit primes
// and two special primes (hybrid key switching: two digits of two primes).
class BfvNoise : public ::testing::TestWithParam<std::size_t> {};

TEST_P(BfvNoise, MeasuredBudgetAtLeastAnalyticBoundTinyInsecure) {
  const std::size_t specials = GetParam();
  Params p = specials == 1 ? Params::create(64, {55, 55, 55, 55, 56}, 65537, Security::kInsecureForTests)
                           : Params::create(64, {49, 49, 49, 49, 50, 50}, 65537, Security::kInsecureForTests, 2);
  Keys k(p);
  BatchEncoder enc(k.ctx);
  Encryptor encryptor(k.ctx, k.pk);
  SymmetricEncryptor sym(k.ctx, k.keygen.secret_key());
  Decryptor dec(k.ctx, k.keygen.secret_key());
  Evaluator ev(k.ctx);
  NoiseModel model(p);
  GaloisKeys gk = k.keygen.create_galois_keys({1});
  std::mt19937_64 rng(7);
  for (int rep = 0; rep < 3; ++rep) {
    auto a = encryptor.encrypt(enc.encode(random_slots(64, 65537, rng)));
    auto b = encryptor.encrypt(enc.encode(random_slots(64, 65537, rng)));
    const double fresh = model.fresh_public();
    expect_budget(dec, a, fresh, "fresh public");
    expect_budget(dec, sym.encrypt(enc.encode(random_slots(64, 65537, rng))), model.fresh_symmetric(), "fresh symmetric");
    const double sum = model.add(fresh, fresh);
    expect_budget(dec, ev.add(a, b), sum, "add");
    Ciphertext acc;
    for (std::int64_t w : {100, -250, 3}) ev.multiply_scalar_add_inplace(acc, a, w);
    expect_budget(dec, acc, model.scalar_sum(fresh, 353), "scalar MACs");
    auto ap = a;
    ev.add_scalar_inplace(ap, 5);
    expect_budget(dec, ap, model.add_plain(fresh), "add scalar");
    expect_budget(dec, ev.multiply_plain(a, enc.encode(random_slots(64, 65537, rng))), model.multiply_plain(fresh), "multiply_plain");
    auto m = ev.multiply(a, b);
    const double vm = model.multiply(fresh, fresh);
    expect_budget(dec, m, vm, "multiply");
    ev.relinearize_inplace(m, k.rk);
    const double vr = model.key_switch(vm);
    expect_budget(dec, m, vr, "relinearize");
    expect_budget(dec, ev.rotate_rows(a, 1, gk), model.key_switch(fresh), "rotate");
    ev.mod_switch_to_next_inplace(m);
    expect_budget(dec, m, model.mod_switch(vr, 4), "mod switch");
    expect_budget(dec, ev.rotate_rows(m, 1, gk), model.key_switch(model.mod_switch(vr, 4), 3), "rotate at level 3");
  }
}

INSTANTIATE_TEST_SUITE_P(SpecialPrimes, BfvNoise, ::testing::Values(std::size_t{1}, std::size_t{2}));

// The CryptoNets shape on a real 128-bit set: encrypt -> square -> relin -> scalar MACs (+bias) ->
// square -> relin -> decrypt, exact, with N = 8192 and the paper's 40-bit plaintext prime.
TEST(BfvCryptoNets, Depth2Exact128Bit) {
  const std::uint64_t t = 957181001729ULL;
  Params p = Params::default_for(8192, t);
  ASSERT_EQ(p.security(), Security::k128);
  Keys k(p);
  BatchEncoder enc(k.ctx);
  Encryptor encryptor(k.ctx, k.pk);
  Decryptor dec(k.ctx, k.keygen.secret_key());
  Evaluator ev(k.ctx);
  NoiseModel model(p);
  std::mt19937_64 rng(11);
  const std::size_t n = 8192, inputs = 3;
  std::vector<std::vector<std::int64_t>> x(inputs, std::vector<std::int64_t>(n));
  std::vector<Ciphertext> sq;
  for (std::size_t j = 0; j < inputs; ++j) {
    for (auto& v : x[j]) v = static_cast<std::int64_t>(rng() % 511) - 255;
    auto ct = encryptor.encrypt(enc.encode_signed(x[j]));
    sq.push_back(ev.square_relin(ct, k.rk));
    EXPECT_GT(dec.invariant_noise_budget(sq.back()), 0);
  }
  const std::vector<std::int64_t> w = {17, -9, 4};
  const std::int64_t bias = -1234;
  Ciphertext acc;
  for (std::size_t j = 0; j < inputs; ++j) ev.multiply_scalar_add_inplace(acc, sq[j], w[j]);
  ev.add_scalar_inplace(acc, bias);
  auto out = ev.square_relin(acc, k.rk);
  const int budget = dec.invariant_noise_budget(out);
  EXPECT_GT(budget, 0);
  auto got = enc.decode_signed(dec.decrypt(out));
  // Exact: |h| <= 30 * 255^2 + 1234 ~ 2e6, h^2 ~ 4e12 > t/2, so compare mod t (centred).
  const auto tt = static_cast<__int128>(t);
  for (std::size_t i = 0; i < n; ++i) {
    __int128 h = bias;
    for (std::size_t j = 0; j < inputs; ++j) h += static_cast<__int128>(w[j]) * x[j][i] * x[j][i];
    __int128 e = (h * h) % tt;
    if (e < 0) e += tt;
    if (e > tt / 2) e -= tt;
    ASSERT_EQ(static_cast<__int128>(got[i]), e) << "slot " << i;
  }
  // Returning the result: switch down to two primes (86 bits > 40-bit t + noise); still exact.
  ev.mod_switch_to_inplace(out, 2);
  std::cout << "depth-2 budget: " << budget << " bits at level 4, " << dec.invariant_noise_budget(out)
            << " bits at level 2\n";
  EXPECT_EQ(enc.decode_signed(dec.decrypt(out)), got);
}

}  // namespace
}  // namespace leukocrypt::bfv

namespace leukocrypt::bfv {
namespace {

// HPS multiplication on every 128-bit default set (the auxiliary base differs per N).
TEST(BfvDefaultSets, MultiplyExactAtEveryRingDegree) {
  for (std::size_t n : {4096u, 16384u, 32768u}) {
    Params p = Params::default_for(n, 65537);
    auto ctx = Context::create(p);
    KeyGenerator kg(ctx);
    Encryptor encryptor(ctx, kg.create_public_key());
    Decryptor dec(ctx, kg.secret_key());
    BatchEncoder enc(ctx);
    Evaluator ev(ctx);
    std::mt19937_64 rng(n);
    auto a = random_slots(n, 65537, rng), b = random_slots(n, 65537, rng);
    auto ca = encryptor.encrypt(enc.encode(a)), cb = encryptor.encrypt(enc.encode(b));
    auto prod = enc.decode(dec.decrypt(ev.multiply(ca, cb)));
    auto sq = enc.decode(dec.decrypt(ev.square(ca)));
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_EQ(prod[i], a[i] * b[i] % 65537) << "N=" << n << " slot " << i;
      ASSERT_EQ(sq[i], a[i] * a[i] % 65537) << "N=" << n << " slot " << i;
    }
  }
}

// The parameters `params` chooses for C-NMC with circuit privacy (N = 16384, 7 x 50-bit q, two
// 49-bit plaintext primes): the auxiliary primes must be large enough for the SIMD HPS path at
// every level (q_i < 4 p_j; with 48-bit p_j the squares fell back to the scalar loops), and the
// square stays exact there.
TEST(BfvHps, FiftyBitPrimesWithLargePlainPrimeUseTheSimdPath) {
  const std::size_t n = 16384;
  const std::uint64_t t = 562949954142209ULL;  // 49 bits, = 1 mod 2N
  auto ctx = Context::create(Params::create(n, {50, 50, 50, 50, 50, 50, 50, 50}, t));
  for (std::size_t l = 1; l <= ctx->max_level(); ++l) {
    EXPECT_TRUE(ctx->level(l).hps_kernels) << "level " << l;
    EXPECT_TRUE(ctx->level(l).hps_dot) << "level " << l;
  }
  KeyGenerator kg(ctx);
  Encryptor encryptor(ctx, kg.create_public_key());
  Decryptor dec(ctx, kg.secret_key());
  BatchEncoder enc(ctx);
  Evaluator ev(ctx);
  std::mt19937_64 rng(16);
  auto a = random_slots(n, t, rng);
  auto ca = encryptor.encrypt(enc.encode(a));
  ev.mod_switch_to_inplace(ca, 6);
  auto sq = enc.decode(dec.decrypt(ev.square(ca)));
  for (std::size_t i = 0; i < n; ++i)
    ASSERT_EQ(sq[i], static_cast<std::uint64_t>(static_cast<unsigned __int128>(a[i]) * a[i] % t)) << "slot " << i;
}

// Square + relinearize at N = 32768, then at each of `levels` a row rotation, plain and hoisted:
// exact, and the same slots both ways.
void expect_key_switch_exact_at_n32768(const Params& p, std::initializer_list<std::size_t> levels) {
  const std::size_t n = 32768;
  auto ctx = Context::create(p);
  KeyGenerator kg(ctx);
  Encryptor encryptor(ctx, kg.create_public_key());
  Decryptor dec(ctx, kg.secret_key());
  BatchEncoder enc(ctx);
  Evaluator ev(ctx);
  const RelinKeys rk = kg.create_relin_keys();
  const GaloisKeys gk = kg.create_galois_keys({1});
  EXPECT_EQ(rk.key().digits(), ctx->digits(ctx->max_level()));
  std::mt19937_64 rng(7);
  auto a = random_slots(n, 65537, rng);
  auto sq = ev.square_relin(encryptor.encrypt(enc.encode(a)), rk);
  ASSERT_EQ(sq.size(), 2u);
  const std::size_t half = n / 2;
  for (std::size_t level : levels) {
    ev.mod_switch_to_inplace(sq, level);
    auto rot = enc.decode(dec.decrypt(ev.rotate_rows(sq, 1, gk)));
    auto sq_ntt = sq;
    ev.to_ntt_inplace(sq_ntt);
    auto hoisted = ev.rotate_rows_hoisted_ntt(sq_ntt, ev.hoist(sq), 1, gk);
    ev.from_ntt_inplace(hoisted);
    EXPECT_GT(dec.invariant_noise_budget(sq), 0);
    EXPECT_EQ(enc.decode(dec.decrypt(hoisted)), rot) << "level " << level;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t row = i / half, col = i % half;
      const std::size_t from = row * half + (col + 1) % half;
      ASSERT_EQ(rot[i], a[from] * a[from] % 65537) << "slot " << i << " level " << level;
    }
  }
}

// Key switching on the largest default set (17 + 1 primes of 48-49 bits: digits from larger
// primes are reduced into smaller targets, the special-prime division runs on the dot kernel),
// at the top and at a lower level.
TEST(BfvDefaultSets, KeySwitchExactAtN32768) { expect_key_switch_exact_at_n32768(Params::default_for(32768, 65537), {17, 5}); }

// Hybrid key switching on a 128-bit set shaped like the latency layout's (10 ciphertext primes, 5
// special primes: two digits), at the top and at a lower level where the last digit is partial.
TEST(BfvDefaultSets, HybridKeySwitchExactAtN32768) {
  std::vector<int> bits(10, 49);
  bits.insert(bits.end(), 5, 50);
  const Params p = Params::create(32768, bits, 65537, Security::k128, 5);
  ASSERT_EQ(p.special_primes().size(), 5u);
  expect_key_switch_exact_at_n32768(p, {10, 7});
}

}  // namespace
}  // namespace leukocrypt::bfv
