// Scalar element-wise kernels against per-element 128-bit reference arithmetic, aliasing included.
#include "he/kernels/eltwise.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace leukocrypt::he {
namespace {

std::uint64_t ref(u128 x, std::uint64_t q) { return static_cast<std::uint64_t>(x % q); }

class EltwiseScalar : public ::testing::TestWithParam<std::uint64_t> {
 protected:
  void SetUp() override {
    q_ = GetParam();
    std::mt19937_64 rng(q_);
    a_.resize(kN);
    b_.resize(kN);
    for (std::size_t i = 0; i < kN; ++i) {
      a_[i] = rng() % q_;
      b_[i] = rng() % q_;
    }
    a_[0] = 0; b_[0] = q_ - 1;
    a_[1] = q_ - 1; b_[1] = q_ - 1;
    a_[2] = q_ - 1; b_[2] = 0;
  }
  static constexpr std::size_t kN = 1000;
  std::uint64_t q_;
  std::vector<std::uint64_t> a_, b_;
};

TEST_P(EltwiseScalar, BinaryOps) {
  Modulus m(q_);
  std::vector<std::uint64_t> out(kN);
  scalar::eltwise_add_mod(out.data(), a_.data(), b_.data(), kN, m);
  for (std::size_t i = 0; i < kN; ++i) ASSERT_EQ(out[i], ref(u128(a_[i]) + b_[i], q_));
  scalar::eltwise_sub_mod(out.data(), a_.data(), b_.data(), kN, m);
  for (std::size_t i = 0; i < kN; ++i) ASSERT_EQ(out[i], ref(u128(a_[i]) + q_ - b_[i], q_));
  scalar::eltwise_mul_mod(out.data(), a_.data(), b_.data(), kN, m);
  for (std::size_t i = 0; i < kN; ++i) ASSERT_EQ(out[i], ref(u128(a_[i]) * b_[i], q_));
  out = b_;
  scalar::eltwise_mul_add_mod(out.data(), a_.data(), b_.data(), kN, m);
  for (std::size_t i = 0; i < kN; ++i) ASSERT_EQ(out[i], ref(u128(a_[i]) * b_[i] + b_[i], q_));
  // Aliasing: out == a.
  auto c = a_;
  scalar::eltwise_add_mod(c.data(), c.data(), b_.data(), kN, m);
  for (std::size_t i = 0; i < kN; ++i) ASSERT_EQ(c[i], ref(u128(a_[i]) + b_[i], q_));
}

TEST_P(EltwiseScalar, UnaryAndScalarOps) {
  Modulus m(q_);
  std::vector<std::uint64_t> out(kN);
  scalar::eltwise_neg_mod(out.data(), a_.data(), kN, m);
  for (std::size_t i = 0; i < kN; ++i) ASSERT_EQ(out[i], (q_ - a_[i]) % q_);
  for (std::uint64_t w : {std::uint64_t{0}, std::uint64_t{1}, q_ - 1, q_ / 3}) {
    ShoupOperand ws = make_shoup(w, q_);
    scalar::eltwise_mul_scalar_mod(out.data(), a_.data(), ws, kN, m);
    for (std::size_t i = 0; i < kN; ++i) ASSERT_EQ(out[i], ref(u128(a_[i]) * w, q_));
    out = b_;
    scalar::eltwise_fma_scalar_mod(out.data(), a_.data(), ws, kN, m);
    for (std::size_t i = 0; i < kN; ++i) ASSERT_EQ(out[i], ref(u128(a_[i]) * w + b_[i], q_));
    scalar::eltwise_add_scalar_mod(out.data(), a_.data(), w, kN, m);
    for (std::size_t i = 0; i < kN; ++i) ASSERT_EQ(out[i], ref(u128(a_[i]) + w, q_));
  }
  std::mt19937_64 rng(7);
  std::vector<std::uint64_t> wide(kN);
  for (auto& x : wide) x = rng();
  wide[0] = ~0ull;
  scalar::eltwise_reduce_mod(out.data(), wide.data(), kN, m);
  for (std::size_t i = 0; i < kN; ++i) ASSERT_EQ(out[i], wide[i] % q_);
}

INSTANTIATE_TEST_SUITE_P(Moduli, EltwiseScalar,
                         ::testing::Values(1048583ull, 957181001729ull, (1ull << 50) - 27,
                                           1152921504606830593ull, (1ull << 61) - 1));

}  // namespace
}  // namespace leukocrypt::he
