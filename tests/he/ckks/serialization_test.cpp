// CKKS serialization: round trips of every object (keys through the shared RLWE format), the
// seeded half-size ciphertext, the golden hash of the format, and rejection of malformed input
// (truncation at every length, magic, version, type, params id, scale, level, coefficients >= q_i,
// trailing bytes, BFV objects).
#include <gtest/gtest.h>

#include <bit>
#include <cstring>

#include "common/error.h"
#include "he/bfv/serialization.h"
#include "he/ckks/decryptor.h"
#include "he/ckks/encoder.h"
#include "he/ckks/encryptor.h"
#include "he/ckks/evaluator.h"
#include "he/ckks/key_generator.h"
#include "he/ckks/serialization.h"
#include "he/ckks/symmetric_encryptor.h"
#include "../hex_hash.h"
#include "test_util.h"

namespace leukocrypt::ckks {
namespace {

using leukocrypt::testing::hex_hash;
using testing::Complex;
using testing::max_error;
using testing::random_complex;
using testing::tiny_insecure_params;

class CkksSerializationTest : public ::testing::Test {
 protected:
  CkksSerializationTest()
      : ctx_(Context::create(tiny_insecure_params())),
        keygen_(ctx_),
        enc_(ctx_),
        encryptor_(ctx_, keygen_.create_public_key()),
        dec_(ctx_, keygen_.secret_key()) {}
  std::vector<Complex> roundtrip(const Ciphertext& ct) {
    return enc_.decode_complex(dec_.decrypt(load_ciphertext(*ctx_, save(ct))));
  }
  ContextPtr ctx_;
  KeyGenerator keygen_;
  Encoder enc_;
  Encryptor encryptor_;
  Decryptor dec_;
  std::mt19937_64 rng_{9};
};

TEST_F(CkksSerializationTest, RoundTripsEveryObject) {
  EXPECT_EQ(load_params(save(ctx_->params())), ctx_->params());
  EXPECT_EQ(load_params(save(Params::default_for(8192))).id(), Params::default_for(8192).id());
  auto v = random_complex(enc_.slot_count(), rng_);
  Plaintext pt = enc_.encode_complex(v, 0x1p35, 3);
  Plaintext pt2 = load_plaintext(*ctx_, save(pt));
  EXPECT_EQ(pt2.level(), 3u);
  EXPECT_EQ(pt2.scale(), 0x1p35);
  EXPECT_EQ(save(pt2), save(pt));
  Ciphertext ct = encryptor_.encrypt(enc_.encode_complex(v));
  Ciphertext back = load_ciphertext(*ctx_, save(ct));
  EXPECT_EQ(save(back), save(ct));
  EXPECT_EQ(back.scale(), ct.scale());
  EXPECT_LT(max_error(roundtrip(ct), v), 1e-8);
  // A size-3, rescaled (non-power-of-two scale) ciphertext keeps its exact scale.
  Evaluator ev(ctx_);
  Ciphertext m = ev.rescale(ev.multiply(ct, ct));
  Ciphertext m2 = load_ciphertext(*ctx_, save(m));
  EXPECT_EQ(m2.size(), 3u);
  EXPECT_EQ(m2.scale(), m.scale());
  // Keys: the shared RLWE objects under the CKKS params id; a loaded key set still works.
  auto sk = load_secret_key(*ctx_, save(keygen_.secret_key()));
  auto pk = load_public_key(*ctx_, save(keygen_.create_public_key()));
  auto rk = load_relin_keys(*ctx_, save(keygen_.create_relin_keys()));
  auto gk = load_galois_keys(*ctx_, save(create_rotation_keys(keygen_, {1})));
  Ciphertext c = Encryptor(ctx_, pk).encrypt(enc_.encode_complex(v));
  c = ev.rotate(ev.rescale(ev.square_relin(c, rk)), 1, gk);
  const std::size_t s = enc_.slot_count();
  std::vector<Complex> want(s);
  for (std::size_t j = 0; j < s; ++j) want[j] = v[(j + 1) % s] * v[(j + 1) % s];
  EXPECT_LT(max_error(enc_.decode_complex(Decryptor(ctx_, sk).decrypt(c)), want), 1e-7);
}

TEST_F(CkksSerializationTest, SeededCiphertextIsHalfSizeAtAnyLevel) {
  auto v = random_complex(enc_.slot_count(), rng_);
  SymmetricEncryptor sym(ctx_, keygen_.secret_key());
  for (std::size_t level : {4u, 2u}) {
    he::Seed seed{};
    Ciphertext ct = sym.encrypt(enc_.encode_complex(v, 0, level), &seed);
    const std::string full = save(ct), half = save_seeded(ct, seed);
    EXPECT_LT(half.size(), full.size() / 2 + 64);
    Ciphertext back = load_ciphertext(*ctx_, half);
    EXPECT_EQ(save(back), full);
    EXPECT_LT(max_error(enc_.decode_complex(dec_.decrypt(back)), v), 1e-8);
  }
  Evaluator ev(ctx_);
  EXPECT_THROW(save_seeded(ev.square(encryptor_.encrypt(enc_.encode_complex(v))), he::Seed{}), InvalidArgument);
}

// Pins the byte format: any change to the layout must bump the format version and this hash.
TEST(CkksSerializationGolden, FormatHash) {
  auto ctx = Context::create(tiny_insecure_params());
  Ciphertext ct(ctx->params_id(), 64, 3, 2, 0x1p40 * 1.0000001);
  for (std::size_t k = 0; k < 2; ++k)
    for (std::size_t i = 0; i < 3; ++i)
      for (std::size_t c = 0; c < 64; ++c) ct.data(k, i)[c] = (c * 2654435761ULL + k * 97 + i) % ctx->modulus(i).value();
  Plaintext pt(ctx->params_id(), 64, 2, 0x1p30);
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t c = 0; c < 64; ++c) pt.data(i)[c] = (c * 7 + i) % ctx->modulus(i).value();
  he::Seed seed{};
  for (std::size_t i = 0; i < 32; ++i) seed[i] = static_cast<std::uint8_t>(i);
  const std::string all = save(ctx->params()) + save(ct) + save(pt) + save_seeded(ct, seed);
  EXPECT_EQ(hex_hash(all), "64a9c9f6fccac1feb054d3b5cca34fd39c9f339be2c8869e96cc984bd81f7da7");
}

TEST_F(CkksSerializationTest, RejectsMalformedInput) {
  auto v = random_complex(enc_.slot_count(), rng_);
  const std::string good = save(encryptor_.encrypt(enc_.encode_complex(v)));
  for (std::size_t len = 0; len < good.size(); ++len)
    EXPECT_THROW(load_ciphertext(*ctx_, std::string_view(good).substr(0, len)), FormatError) << "len " << len;
  auto expect_msg = [&](const std::string& bytes, const char* needle) {
    try {
      load_ciphertext(*ctx_, bytes);
      ADD_FAILURE() << "accepted malformed input (" << needle << ")";
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  // Header 16 bytes, then N (4), level (4), size (4), scale (8), seeded flag (1), 8 width bytes.
  const std::size_t at_level = 20, at_scale = 28, body = 37, rows = 8;
  std::string b = good;
  b[0] = 'X';
  expect_msg(b, "magic");
  b = good;
  b[4] = 9;
  expect_msg(b, "version");
  b = good;
  b[6] = 7;  // a BFV ciphertext's type
  expect_msg(b, "object type");
  b = good;
  b[8] ^= 1;
  expect_msg(b, "params id");
  b = good;
  b[at_level] = 5;
  expect_msg(b, "level 5");
  for (double bad : {0.0, -1.0, std::nan(""), HUGE_VAL}) {
    b = good;
    const std::uint64_t bits = std::bit_cast<std::uint64_t>(bad);
    std::memcpy(b.data() + at_scale, &bits, 8);
    expect_msg(b, "scale");
  }
  b = good;
  b[body - 1] = 2;
  expect_msg(b, "seeded flag");
  b = good;
  b[body + 1] = 60;  // row 1 claims 60-bit coefficients (its prime has ~40)
  expect_msg(b, "at most");
  b = good;
  std::fill(b.begin() + static_cast<std::ptrdiff_t>(body + rows),
            b.begin() + static_cast<std::ptrdiff_t>(body + rows + 16), '\xff');
  expect_msg(b, "not below its modulus");
  expect_msg(good + "x", "trailing");
  // Other loaders and the BFV loaders reject CKKS bytes, and the other way round.
  EXPECT_THROW(load_plaintext(*ctx_, good), FormatError);
  EXPECT_THROW(load_params(good), FormatError);
  EXPECT_THROW(bfv::load_params(save(ctx_->params())), FormatError);
  auto bfv_ctx = bfv::Context::create(bfv::Params::create(64, {40, 40, 40, 41}, 257, Security::kInsecureForTests));
  EXPECT_THROW(load_public_key(*bfv_ctx, save(keygen_.create_public_key())), FormatError);  // params id
  std::string p = save(ctx_->params());
  p.back() = 0;  // marked 128-bit: N = 64 is refused (and the id no longer matches)
  EXPECT_THROW(load_params(p), Error);
}

}  // namespace
}  // namespace leukocrypt::ckks
