// CKKS scheme: parameters and the security table, encryption (public and seeded secret key),
// every evaluator op against plain complex arithmetic on random slots with a stated error bound,
// exact scale tracking, rotations and conjugation, and the errors for mismatched operands.
//
// Error bounds (tiny insecure N = 64, scale ~2^40, slot values |z| <= 1): fresh encryption noise
// is a few hundred in the canonical embedding, i.e. ~1e-10 after dividing by the scale; a
// multiplication followed by rescaling adds the rescale rounding (~sqrt(N) / 2^40 scaled by the
// other operand) and key-switching noise (divided by the special prime), both far below 1e-8.
// The bounds below leave two orders of magnitude of margin and still catch any wrong slot
// (which is off by ~1).
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <random>

#include "common/error.h"
#include "he/bfv/params.h"
#include "he/ckks/decryptor.h"
#include "he/ckks/encoder.h"
#include "he/ckks/encryptor.h"
#include "he/ckks/evaluator.h"
#include "he/ckks/key_generator.h"
#include "he/ckks/serialization.h"
#include "he/ckks/symmetric_encryptor.h"
#include "test_util.h"

namespace leukocrypt::ckks {
namespace {

using testing::Complex;
using testing::Keys;
using testing::max_error;
using testing::random_complex;
using testing::tiny_insecure_params;

constexpr double kFreshBound = 1e-8;
constexpr double kOpBound = 1e-7;

class CkksEvaluatorTest : public ::testing::Test {
 protected:
  CkksEvaluatorTest()
      : ctx_(Context::create(tiny_insecure_params())),
        keygen_(ctx_),
        pk_(keygen_.create_public_key()),
        rk_(keygen_.create_relin_keys()),
        gk_(create_rotation_keys(keygen_, {1, 2, 5, -1, -7}, true)),
        enc_(ctx_),
        encryptor_(ctx_, pk_),
        decryptor_(ctx_, keygen_.secret_key()),
        ev_(ctx_),
        rng_(2024) {}

  std::vector<Complex> slots() { return random_complex(enc_.slot_count(), rng_); }
  Ciphertext encrypt(const std::vector<Complex>& v, std::size_t level = 0) {
    return encryptor_.encrypt(enc_.encode_complex(v, 0, level));
  }
  std::vector<Complex> decrypt(const Ciphertext& ct) { return enc_.decode_complex(decryptor_.decrypt(ct)); }

  ContextPtr ctx_;
  KeyGenerator keygen_;
  PublicKey pk_;
  RelinKeys rk_;
  GaloisKeys gk_;
  Encoder enc_;
  Encryptor encryptor_;
  Decryptor decryptor_;
  Evaluator ev_;
  std::mt19937_64 rng_;
};

TEST(CkksParams, DefaultSetsAre128BitAndPrimesSitNearTheScale) {
  for (std::size_t n : {4096u, 8192u, 16384u, 32768u}) {
    Params p = Params::default_for(n);
    EXPECT_LE(p.log2_qp(), rlwe::max_secure_bits(n) + 1e-9) << n;
    EXPECT_GT(p.log2_qp(), rlwe::max_secure_bits(n) - 25) << n;
    const double scale = p.default_scale();
    for (std::size_t i = 1; i < p.max_level(); ++i) {
      EXPECT_LT(std::fabs(static_cast<double>(p.q()[i]) / scale - 1), 1e-4) << n << " q_" << i;
      EXPECT_LE(p.q()[i], (1ULL << 50)) << n;
    }
  }
  EXPECT_THROW(Params::create(8192, 59, 4, 40, 59), SecurityError);  // 278 bits > 218
  EXPECT_THROW(Params::create(64, 50, 2, 40, 50), SecurityError);    // N = 64 is not in the table
  EXPECT_NO_THROW(tiny_insecure_params());
  EXPECT_THROW(Params::create(100, 50, 2, 40, 50, Security::kInsecureForTests), InvalidArgument);
  EXPECT_THROW(Params::create_from_primes(64, {97}, 193, 0x1p40, Security::kInsecureForTests), InvalidArgument);
  EXPECT_THROW(Params::default_for(2048), InvalidArgument);
  // Own params ids: a CKKS object can never pass for a BFV one with the same primes.
  Params c = tiny_insecure_params();
  auto b = bfv::Params::create_from_primes(64, c.q(), c.special_prime(), 257, Security::kInsecureForTests);
  EXPECT_NE(b.id(), c.id());
  EXPECT_NE(c.id(), tiny_insecure_params(2).id());
  EXPECT_NE(c.to_json().find("\"scheme\":\"ckks\""), std::string::npos);
}

TEST(CkksParams, SmallestSecureRingForADepth) {
  // 50 + 2 x 40 + 50 = 180 bits: N = 8192 (218); 50 + 5 x 40 + 50 = 300: N = 16384 (438).
  EXPECT_EQ(Params::smallest_secure(2, 40, 50).n(), 8192u);
  EXPECT_EQ(Params::smallest_secure(5, 40, 50).n(), 16384u);
  EXPECT_EQ(Params::smallest_secure(5, 40, 50, 32768).n(), 32768u);
  const Params p = Params::smallest_secure(1, 30, 38);  // 38 + 30 + 38 = 106 <= 109
  EXPECT_EQ(p.n(), 4096u);
  EXPECT_EQ(p.max_level(), 2u);
  EXPECT_GT(p.special_prime(), p.q()[0] / 2);  // as large as q_0 up to a hair (key-switching noise / p)
  EXPECT_EQ(Params::smallest_secure(1, 30, 40).n(), 8192u);  // 40 + 30 + 40 = 110 > 109
  try {
    Params::smallest_secure(30, 40, 50);
    ADD_FAILURE() << "30 levels fit?";
  } catch (const SecurityError& e) {
    EXPECT_NE(std::string(e.what()).find("at most 881"), std::string::npos) << e.what();
  }
}

TEST_F(CkksEvaluatorTest, PublicAndSeededSecretKeyEncryptionDecrypt) {
  auto v = slots();
  EXPECT_LT(max_error(decrypt(encrypt(v)), v), kFreshBound);
  SymmetricEncryptor sym(ctx_, keygen_.secret_key());
  he::Seed seed{};
  auto ct = sym.encrypt(enc_.encode_complex(v, 0, 2), &seed);
  EXPECT_EQ(ct.level(), 2u);
  EXPECT_LT(max_error(decrypt(ct), v), kFreshBound);
  auto zero = encryptor_.encrypt_zero(3, 0x1p40);
  EXPECT_LT(max_error(decrypt(zero), std::vector<Complex>(enc_.slot_count())), kFreshBound);
}

TEST_F(CkksEvaluatorTest, AdditiveOpsMatchComplexArithmetic) {
  auto a = slots(), b = slots();
  auto ca = encrypt(a), cb = encrypt(b);
  std::vector<Complex> sum(a.size()), diff(a.size()), neg(a.size()), plus_c(a.size()), times_k(a.size());
  for (std::size_t j = 0; j < a.size(); ++j) {
    sum[j] = a[j] + b[j];
    diff[j] = a[j] - b[j];
    neg[j] = -a[j];
    plus_c[j] = a[j] + 0.75;
    times_k[j] = a[j] * -3.0;
  }
  EXPECT_LT(max_error(decrypt(ev_.add(ca, cb)), sum), kFreshBound);
  EXPECT_LT(max_error(decrypt(ev_.sub(ca, cb)), diff), kFreshBound);
  EXPECT_LT(max_error(decrypt(ev_.negate(ca)), neg), kFreshBound);
  Ciphertext c = ca;
  ev_.add_plain_inplace(c, enc_.encode_complex(b));
  EXPECT_LT(max_error(decrypt(c), sum), kFreshBound);
  ev_.sub_plain_inplace(c, enc_.encode_complex(b));
  EXPECT_LT(max_error(decrypt(c), a), kFreshBound);
  c = ca;
  ev_.add_scalar_inplace(c, 0.75);
  EXPECT_LT(max_error(decrypt(c), plus_c), kFreshBound);
  c = ca;
  ev_.multiply_integer_inplace(c, -3);
  EXPECT_LT(max_error(decrypt(c), times_k), kFreshBound);
  EXPECT_EQ(c.scale(), ca.scale());
}

// A scalar added at a scale beyond 2^62 (a product not yet rescaled, scale 2^80: the wide chain of
// circuit privacy adds its biases there) is the exact constant round(value * scale) mod every prime.
TEST_F(CkksEvaluatorTest, AddScalarAtAScaleBeyond64Bits) {
  auto a = slots();
  auto sq = ev_.square_relin(encrypt(a), rk_);
  ASSERT_GT(sq.scale(), 0x1p79);
  std::vector<Complex> want(a.size());
  for (std::size_t j = 0; j < a.size(); ++j) want[j] = a[j] * a[j] - 1234.5678;
  ev_.add_scalar_inplace(sq, -1234.5678);
  EXPECT_LT(max_error(decrypt(sq), want), 1e-6);
}

TEST_F(CkksEvaluatorTest, MultiplyRelinearizeRescaleTrackTheScaleExactly) {
  auto a = slots(), b = slots();
  auto ca = encrypt(a), cb = encrypt(b);
  std::vector<Complex> prod(a.size()), sq(a.size());
  for (std::size_t j = 0; j < a.size(); ++j) {
    prod[j] = a[j] * b[j];
    sq[j] = a[j] * a[j];
  }
  Ciphertext m = ev_.multiply(ca, cb);
  EXPECT_EQ(m.size(), 3u);
  EXPECT_EQ(m.scale(), ca.scale() * cb.scale());
  EXPECT_LT(max_error(decrypt(m), prod), kOpBound);  // size 3 decrypts with s^2
  ev_.relinearize_inplace(m, rk_);
  EXPECT_EQ(m.size(), 2u);
  EXPECT_LT(max_error(decrypt(m), prod), kOpBound);
  const double q_last = static_cast<double>(ctx_->modulus(m.level() - 1).value());
  const double want_scale = m.scale() / q_last;
  ev_.rescale_inplace(m);
  EXPECT_EQ(m.level(), 3u);
  EXPECT_EQ(m.scale(), want_scale);  // exact: the prime's true value, not 2^40
  EXPECT_LT(max_error(decrypt(m), prod), kOpBound);
  Ciphertext s = ev_.square_relin(ca, rk_);
  ev_.rescale_inplace(s);
  EXPECT_LT(max_error(decrypt(s), sq), kOpBound);
  // Plaintext product and scalar product; multiply_scalar's default scale is the last prime, so
  // the rescale restores the ciphertext's scale exactly.
  Ciphertext p = ev_.multiply_plain(ca, enc_.encode_complex(b));
  ev_.rescale_inplace(p);
  EXPECT_LT(max_error(decrypt(p), prod), kOpBound);
  Ciphertext k = ev_.multiply_scalar(ca, -1.5);
  ev_.rescale_inplace(k);
  EXPECT_EQ(k.scale(), ca.scale());
  std::vector<Complex> times(a.size());
  for (std::size_t j = 0; j < a.size(); ++j) times[j] = a[j] * -1.5;
  EXPECT_LT(max_error(decrypt(k), times), kOpBound);
}

// acc += w_k * x_k over several inputs (the linear-layer op) equals the plain weighted sum, keeps
// the scale that multiply_scalar gives, and refuses a term encoded at another scale.
TEST_F(CkksEvaluatorTest, MultiplyScalarAddAccumulatesAWeightedSum) {
  const double w[4] = {0.5, -1.25, 3.0, -0.0625};
  std::vector<Complex> want(enc_.slot_count());
  Ciphertext acc;
  for (double wk : w) {
    auto x = slots();
    ev_.multiply_scalar_add_inplace(acc, encrypt(x), wk);
    for (std::size_t j = 0; j < x.size(); ++j) want[j] += wk * x[j];
  }
  const Ciphertext single = ev_.multiply_scalar(encrypt(slots()), 1.0);
  EXPECT_EQ(acc.scale(), single.scale());
  ev_.rescale_inplace(acc);
  EXPECT_LT(max_error(decrypt(acc), want), kOpBound);
  Ciphertext acc2;
  ev_.multiply_scalar_add_inplace(acc2, encrypt(slots()), 0.5);
  EXPECT_THROW(ev_.multiply_scalar_add_inplace(acc2, encrypt(slots()), 0.5, 0x1p30), InvalidArgument);
}

// linear_layer (the dense product kernel for runs of outputs that read the same inputs, lazy
// multiply-adds for the rest, empty rows) gives the very ciphertexts that multiply_scalar_add gives.
TEST_F(CkksEvaluatorTest, LinearLayerEqualsMultiplyAddsForDenseSparseAndEmptyRows) {
  std::vector<Ciphertext> x;
  for (int i = 0; i < 12; ++i) x.push_back(encrypt(slots()));
  std::vector<const Ciphertext*> in;
  for (const auto& c : x) in.push_back(&c);
  // Outputs 0-8: a dense run over inputs 0..11 (a full tile of 8 and one more); 9-13: a run of 5
  // over inputs {1, 4, 7}; 14: its own sparse row; 15: empty; 16-17: a run of 2 over {11, 0}.
  std::vector<std::uint32_t> row_start{0}, index;
  std::vector<float> weight;
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  auto row = [&](std::vector<std::uint32_t> cols) {
    for (auto c : cols) {
      index.push_back(c);
      weight.push_back(u(rng_));
    }
    row_start.push_back(std::uint32_t(index.size()));
  };
  for (int o = 0; o < 9; ++o) row({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  for (int o = 0; o < 5; ++o) row({1, 4, 7});
  row({2, 9});
  row({});
  row({11, 0});
  row({11, 0});
  const std::size_t n_out = row_start.size() - 1;
  const auto got = ev_.linear_layer(in, row_start.data(), index.data(), weight.data(), n_out);
  ASSERT_EQ(got.size(), n_out);
  for (std::size_t o = 0; o < n_out; ++o) {
    Ciphertext want;
    for (auto j = row_start[o]; j < row_start[o + 1]; ++j)
      ev_.multiply_scalar_add_inplace(want, *in[index[j]], double(weight[j]));
    if (want.empty()) want = ev_.multiply_scalar(*in[0], 0.0);
    ASSERT_EQ(got[o].scale(), want.scale()) << o;
    ASSERT_EQ(got[o].level(), want.level()) << o;
    ASSERT_EQ(got[o].size(), want.size()) << o;
    for (std::size_t i = 0; i < want.raw_size(); ++i) ASSERT_EQ(got[o].raw()[i], want.raw()[i]) << "output " << o;
  }
}

// x -> x^2 -> x^4 -> x^8 through every level down to q_0, with mod_drop_to to add a fresh input
// at the lower level.
TEST_F(CkksEvaluatorTest, DepthThreeChainDownToLevelOne) {
  auto a = slots(), b = slots();
  Ciphertext c = encrypt(a);
  std::vector<Complex> want = a;
  for (int d = 0; d < 3; ++d) {
    c = ev_.square_relin(c, rk_);
    ev_.rescale_inplace(c);
    for (auto& x : want) x *= x;
  }
  EXPECT_EQ(c.level(), 1u);
  EXPECT_LT(max_error(decrypt(c), want), kOpBound);
  Ciphertext cb = encryptor_.encrypt(enc_.encode_complex(b, c.scale()));
  EXPECT_THROW(ev_.add(c, cb), InvalidArgument);  // levels 1 and 4
  ev_.mod_drop_to_inplace(cb, 1);
  for (std::size_t j = 0; j < a.size(); ++j) want[j] += b[j];
  EXPECT_LT(max_error(decrypt(ev_.add(c, cb)), want), kOpBound);
}

TEST_F(CkksEvaluatorTest, RotationsAndConjugation) {
  auto a = slots();
  auto ca = encrypt(a);
  const int s = static_cast<int>(enc_.slot_count());
  for (int step : {1, 2, 5, -1, -7}) {
    std::vector<Complex> want(a.size());
    for (int j = 0; j < s; ++j) want[j] = a[((j + step) % s + s) % s];
    EXPECT_LT(max_error(decrypt(ev_.rotate(ca, step, gk_)), want), kOpBound) << step;
  }
  std::vector<Complex> conj(a.size());
  for (std::size_t j = 0; j < a.size(); ++j) conj[j] = std::conj(a[j]);
  EXPECT_LT(max_error(decrypt(ev_.conjugate(ca, gk_)), conj), kOpBound);
  // Rotation after a rescale (lower level) still works.
  Ciphertext m = ev_.square_relin(ca, rk_);
  ev_.rescale_inplace(m);
  std::vector<Complex> want(a.size());
  for (int j = 0; j < s; ++j) want[j] = a[(j + 1) % s] * a[(j + 1) % s];
  EXPECT_LT(max_error(decrypt(ev_.rotate(m, 1, gk_)), want), kOpBound);
  EXPECT_THROW(ev_.rotate(ca, 3, gk_), InvalidArgument);  // no key for step 3
}

// Galois keys in evaluation form (rlwe::GaloisKeys::permute_for_evaluation): hoisted rotations
// give the same ciphertext bit for bit, plain rotations and conjugation (which switch c1 itself)
// the same slots within twice the op bound (each is within it of the truth), at the top level and
// after a rescale. Such keys cannot be saved.
TEST_F(CkksEvaluatorTest, PermutedGaloisKeysRotateTheSame) {
  GaloisKeys permuted = gk_;
  permuted.permute_for_evaluation(ctx_->bitrev());
  EXPECT_THROW(save(permuted), InvalidArgument);
  auto a = slots();
  Ciphertext ca = encrypt(a);
  Ciphertext low = ev_.square_relin(ca, rk_);
  ev_.rescale_inplace(low);
  for (const Ciphertext* c : {&ca, &low}) {
    const auto digits = ev_.hoist(*c);
    for (int step : {1, 2, 5, -1, -7}) {
      const auto x = ev_.rotate_hoisted(*c, digits, step, gk_);
      const auto y = ev_.rotate_hoisted(*c, digits, step, permuted);
      for (std::size_t k = 0; k < 2; ++k)
        for (std::size_t i = 0; i < c->level(); ++i)
          ASSERT_TRUE(std::equal(x.data(k, i), x.data(k, i) + ctx_->n(), y.data(k, i))) << "step " << step;
      EXPECT_LT(max_error(decrypt(ev_.rotate(*c, step, permuted)), decrypt(ev_.rotate(*c, step, gk_))), 2 * kOpBound)
          << "step " << step << " level " << c->level();
    }
    EXPECT_LT(max_error(decrypt(ev_.conjugate(*c, permuted)), decrypt(ev_.conjugate(*c, gk_))), 2 * kOpBound);
  }
}

TEST_F(CkksEvaluatorTest, MismatchedOperandsThrowClearErrors) {
  auto a = slots();
  auto ca = encrypt(a);
  auto expect_msg = [](auto&& f, const char* needle) {
    try {
      f();
      ADD_FAILURE() << "accepted (" << needle << ")";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  Ciphertext low = ev_.rescale(ev_.square_relin(ca, rk_));
  expect_msg([&] { ev_.add(ca, low); }, "different levels (4 vs 3)");
  Ciphertext other_scale = encryptor_.encrypt(enc_.encode_complex(a, 0x1p39));
  expect_msg([&] { ev_.add(ca, other_scale); }, "different scales");
  Ciphertext mod_dropped = ca;
  ev_.mod_drop_to_inplace(mod_dropped, 3);
  expect_msg([&] { ev_.add(low, mod_dropped); }, "different scales");  // 2^40 vs 2^80/q_3
  expect_msg([&] { ev_.add_plain_inplace(ca, enc_.encode_complex(a, 0, 3)); }, "plaintext at level 3");
  expect_msg([&] { ev_.multiply(ev_.multiply(ca, ca), ca); }, "size 2");
  Ciphertext bottom = ca;
  ev_.mod_drop_to_inplace(bottom, 1);
  expect_msg([&] { ev_.rescale_inplace(bottom); }, "already at level 1");
  expect_msg([&] { ev_.multiply(bottom, bottom); }, "does not fit below the modulus");
  auto other = Context::create(tiny_insecure_params(2));
  Evaluator ev2(other);
  expect_msg([&] { ev2.negate(ca); }, "other parameters");
  expect_msg([&] { ev_.mod_drop_to_inplace(bottom, 2); }, "not in [1, 1]");
  expect_msg([&] { ev_.add_scalar_inplace(ca, 1e60); }, "does not fit below half the modulus");
  expect_msg([&] { ev_.add_scalar_inplace(ca, std::nan("")); }, "does not fit below half the modulus");
}

// Primes above 2^50 take key switching's portable path (128-bit accumulation, no SIMD kernels):
// relinearisation, rotation and conjugation with NTT-domain output there too.
TEST(CkksPortablePath, KeySwitchingWithPrimesAbove50Bits) {
  Keys k(Params::create(64, 55, 2, 40, 56, Security::kInsecureForTests));
  ASSERT_FALSE(k.ctx->all_simd());
  auto gk = create_rotation_keys(k.keygen, {2}, true);
  std::mt19937_64 rng(8);
  auto a = random_complex(k.encoder.slot_count(), rng);
  auto c = k.ev.square_relin(k.encrypt(a), k.rk);
  k.ev.rescale_inplace(c);
  c = k.ev.conjugate(k.ev.rotate(c, 2, gk), gk);
  const std::size_t s = k.encoder.slot_count();
  std::vector<Complex> want(s);
  for (std::size_t j = 0; j < s; ++j) want[j] = std::conj(a[(j + 2) % s] * a[(j + 2) % s]);
  EXPECT_LT(max_error(k.decrypt(c), want), kOpBound);
}

// The 128-bit default set at N = 8192: one multiply-relinearize-rescale and a rotation.
TEST(CkksDefaultSet, MultiplyRotateAtN8192) {
  Keys k(Params::default_for(8192));
  auto gk = create_rotation_keys(k.keygen, {3}, false);
  std::mt19937_64 rng(5);
  const std::size_t s = k.encoder.slot_count();
  auto a = random_complex(s, rng), b = random_complex(s, rng);
  auto c = k.ev.multiply_relin(k.encrypt(a), k.encrypt(b), k.rk);
  k.ev.rescale_inplace(c);
  c = k.ev.rotate(c, 3, gk);
  std::vector<Complex> want(s);
  for (std::size_t j = 0; j < s; ++j) want[j] = a[(j + 3) % s] * b[(j + 3) % s];
  // Scale 2^40 at N = 8192: noise ~sqrt(N) larger than at N = 64, still ~1e-8.
  EXPECT_LT(max_error(k.decrypt(c), want), 1e-6);
}

}  // namespace
}  // namespace leukocrypt::ckks

namespace leukocrypt::ckks {
namespace {

// The example of src/he/ckks/README.md, verbatim in substance: 1.5^2 * -0.5 + 2 = 0.875, rotated.
TEST(CkksReadme, ExampleComputesItsStatedResult) {
  auto ctx = Context::create(Params::default_for(8192));
  KeyGenerator keygen(ctx);
  Encryptor enc(ctx, keygen.create_public_key());
  RelinKeys rk = keygen.create_relin_keys();
  GaloisKeys gk = create_rotation_keys(keygen, {1});
  Encoder encoder(ctx);
  Evaluator ev(ctx);
  std::vector<double> x(4096, 1.5);
  Ciphertext c = enc.encrypt(encoder.encode(x));
  Ciphertext sq = ev.square_relin(c, rk);
  ev.rescale_inplace(sq);
  ev.multiply_scalar_inplace(sq, -0.5);
  ev.rescale_inplace(sq);
  ev.add_scalar_inplace(sq, 2.0);
  Ciphertext r = ev.rotate(sq, 1, gk);
  Decryptor dec(ctx, keygen.secret_key());
  for (double y : encoder.decode(dec.decrypt(r))) ASSERT_NEAR(y, 0.875, 1e-5);
}

}  // namespace
}  // namespace leukocrypt::ckks
