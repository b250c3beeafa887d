// CKKS evaluation in the NTT domain (see evaluator.h). Key switching is rlwe::key_switch_add with
// NTT-form output; rescaling divides by the last prime with rounding (Cheon-Kim-Kim-Song 2017,
// RNS form of Cheon-Han-Kim-Kim-Song, SAC 2018, Sec. 3.3).
#include "he/ckks/evaluator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/thread_pool.h"
#include "he/ckks/internal.h"
#include "he/kernels/eltwise.h"
#include "he/kernels/ntt.h"
#include "he/ring/rns_poly.h"
#include "he/rlwe/key_switch.h"

namespace leukocrypt::ckks {
namespace {

// Residue of a signed 64-bit integer.
std::uint64_t signed_mod(std::int64_t w, const Modulus& q) {
  const std::uint64_t mag = q.reduce(w < 0 ? 0 - static_cast<std::uint64_t>(w) : static_cast<std::uint64_t>(w));
  return w < 0 ? he::neg_mod(mag, q.value()) : mag;
}

std::string level_mismatch(const char* what, std::size_t a, std::size_t b) {
  return std::string(what) + ": ciphertexts at different levels (" + std::to_string(a) + " vs " + std::to_string(b) +
         "); mod_drop_to the higher one first";
}

// Widens a (size 2) to `size` polynomials, zero-filled, so a size-3 operand can be added to it.
void grow_to_size(Ciphertext& a, std::size_t size) {
  if (size <= a.size()) return;
  Ciphertext grown(a.params_id(), a.n(), a.level(), size, a.scale());
  std::memcpy(grown.raw(), a.raw(), a.raw_size() * sizeof(std::uint64_t));
  a = std::move(grown);
}

}  // namespace

Evaluator::Evaluator(ContextPtr ctx) : ctx_(std::move(ctx)) { require(ctx_ != nullptr, "Evaluator: null context"); }

void Evaluator::check_pair(const Ciphertext& a, const Ciphertext& b, const char* what) const {
  detail::check_ciphertext(*ctx_, a, what);
  detail::check_ciphertext(*ctx_, b, what);
  if (a.level() != b.level()) throw InvalidArgument(level_mismatch(what, a.level(), b.level()));
}

void Evaluator::check_plain_level(const Ciphertext& ct, const Plaintext& pt, const char* what) const {
  detail::check_ciphertext(*ctx_, ct, what);
  detail::check_plaintext(*ctx_, pt, what);
  if (ct.level() != pt.level())
    throw InvalidArgument(std::string(what) + ": plaintext at level " + std::to_string(pt.level()) +
                          ", ciphertext at level " + std::to_string(ct.level()) + " (encode at the ciphertext's level)");
}

// ---- Additive ops: O(N*l) -----------------------------------------------------------------------

void Evaluator::add_inplace(Ciphertext& a, const Ciphertext& b) const {
  check_pair(a, b, "add");
  detail::require_same_scale(a.scale(), b.scale(), "add");
  grow_to_size(a, b.size());
  for (std::size_t k = 0; k < b.size(); ++k)
    for (std::size_t i = 0; i < a.level(); ++i)
      he::eltwise_add_mod(a.data(k, i), a.data(k, i), b.data(k, i), ctx_->n(), ctx_->modulus(i));
}

Ciphertext Evaluator::add(const Ciphertext& a, const Ciphertext& b) const {
  Ciphertext r = a;
  add_inplace(r, b);
  return r;
}

void Evaluator::sub_inplace(Ciphertext& a, const Ciphertext& b) const {
  check_pair(a, b, "sub");
  detail::require_same_scale(a.scale(), b.scale(), "sub");
  grow_to_size(a, b.size());
  for (std::size_t k = 0; k < b.size(); ++k)
    for (std::size_t i = 0; i < a.level(); ++i)
      he::eltwise_sub_mod(a.data(k, i), a.data(k, i), b.data(k, i), ctx_->n(), ctx_->modulus(i));
}

Ciphertext Evaluator::sub(const Ciphertext& a, const Ciphertext& b) const {
  Ciphertext r = a;
  sub_inplace(r, b);
  return r;
}

void Evaluator::negate_inplace(Ciphertext& a) const {
  detail::check_ciphertext(*ctx_, a, "negate");
  for (std::size_t k = 0; k < a.size(); ++k)
    for (std::size_t i = 0; i < a.level(); ++i)
      he::eltwise_neg_mod(a.data(k, i), a.data(k, i), ctx_->n(), ctx_->modulus(i));
}

Ciphertext Evaluator::negate(const Ciphertext& a) const {
  Ciphertext r = a;
  negate_inplace(r);
  return r;
}

void Evaluator::add_plain_inplace(Ciphertext& ct, const Plaintext& pt) const {
  check_plain_level(ct, pt, "add_plain");
  detail::require_same_scale(ct.scale(), pt.scale(), "add_plain");
  detail::add_plain_rows(*ctx_, pt, ct.poly(0), ct.level(), false);
}

void Evaluator::sub_plain_inplace(Ciphertext& ct, const Plaintext& pt) const {
  check_plain_level(ct, pt, "sub_plain");
  detail::require_same_scale(ct.scale(), pt.scale(), "sub_plain");
  detail::add_plain_rows(*ctx_, pt, ct.poly(0), ct.level(), true);
}

void Evaluator::add_scalar_inplace(Ciphertext& ct, double value) const {
  detail::check_ciphertext(*ctx_, ct, "add_scalar");
  const double scaled = std::nearbyint(value * ct.scale());
  require(std::isfinite(scaled) && std::log2(std::fabs(scaled) + 1) < ctx_->level(ct.level()).log2_q - 1,
          "add_scalar: value * scale = 2^" + std::to_string(std::log2(std::fabs(scaled))) +
              " does not fit below half the modulus at level " + std::to_string(ct.level()));
  // A constant polynomial is the same value at every NTT point.
  for (std::size_t i = 0; i < ct.level(); ++i) {
    const Modulus& q = ctx_->modulus(i);
    const std::uint64_t r = std::fabs(scaled) < 0x1p62 ? signed_mod(static_cast<std::int64_t>(scaled), q)
                                                       : detail::integer_double_mod(scaled, q);
    he::eltwise_add_scalar_mod(ct.data(0, i), ct.data(0, i), r, ctx_->n(), q);
  }
}

// ---- Multiplicative ops -------------------------------------------------------------------------

double Evaluator::product_scale(const Ciphertext& a, double scale_b, const char* what) const {
  const double s = a.scale() * scale_b;
  const double room = ctx_->level(a.level()).log2_q - 1;
  if (!(std::log2(s) < room)) {
    char buf[200];
    std::snprintf(buf, sizeof(buf), "%s: result scale 2^%.2f does not fit below the modulus at level %zu (2^%.2f); "
                  "rescale first", what, std::log2(s), a.level(), room + 1);
    throw InvalidArgument(buf);
  }
  return s;
}

void Evaluator::multiply_rows_by_constant(Ciphertext& ct, std::int64_t w) const {
  for (std::size_t i = 0; i < ct.level(); ++i) {
    const Modulus& q = ctx_->modulus(i);
    const ShoupOperand s = he::make_shoup(signed_mod(w, q), q.value());
    for (std::size_t k = 0; k < ct.size(); ++k) he::eltwise_mul_scalar_mod(ct.data(k, i), ct.data(k, i), s, ctx_->n(), q);
  }
}

std::int64_t Evaluator::scalar_constant(const Ciphertext& ct, double value, double& scalar_scale,
                                        const char* what) const {
  if (scalar_scale == 0) {
    require(ct.level() >= 2, std::string(what) + ": at level 1 there is no prime left to rescale by; pass a scalar_scale");
    scalar_scale = static_cast<double>(ctx_->modulus(ct.level() - 1).value());
  }
  require(std::isfinite(scalar_scale) && scalar_scale >= 1, std::string(what) + ": scalar_scale must be finite and >= 1");
  const double scaled = std::nearbyint(value * scalar_scale);
  require(std::isfinite(scaled) && std::fabs(scaled) < 0x1p62,
          std::string(what) + ": value * scalar_scale = " + std::to_string(scaled) + " is not below 2^62");
  return static_cast<std::int64_t>(scaled);
}

void Evaluator::multiply_scalar_inplace(Ciphertext& ct, double value, double scalar_scale) const {
  detail::check_ciphertext(*ctx_, ct, "multiply_scalar");
  const std::int64_t w = scalar_constant(ct, value, scalar_scale, "multiply_scalar");
  const double s = product_scale(ct, scalar_scale, "multiply_scalar");
  multiply_rows_by_constant(ct, w);
  ct.set_scale(s);
}

void Evaluator::multiply_scalar_add_inplace(Ciphertext& acc, const Ciphertext& ct, double value,
                                            double scalar_scale) const {
  if (acc.empty()) {
    acc = multiply_scalar(ct, value, scalar_scale);
    return;
  }
  check_pair(acc, ct, "multiply_scalar_add");
  const std::int64_t w = scalar_constant(ct, value, scalar_scale, "multiply_scalar_add");
  detail::require_same_scale(acc.scale(), product_scale(ct, scalar_scale, "multiply_scalar_add"),
                             "multiply_scalar_add");
  grow_to_size(acc, ct.size());
  for (std::size_t i = 0; i < ct.level(); ++i) {
    const Modulus& q = ctx_->modulus(i);
    const ShoupOperand s = he::make_shoup(signed_mod(w, q), q.value());
    for (std::size_t k = 0; k < ct.size(); ++k) he::eltwise_fma_scalar_mod(acc.data(k, i), ct.data(k, i), s, ctx_->n(), q);
  }
}

std::vector<Ciphertext> Evaluator::linear_layer(const std::vector<const Ciphertext*>& in, const std::uint32_t* row_start,
                                                const std::uint32_t* index, const float* weight, std::size_t n_out,
                                                double scalar_scale) const {
  require(!in.empty(), "linear_layer: no inputs");
  const Ciphertext& first = *in.front();
  for (const auto* ct : in) {
    check_pair(first, *ct, "linear_layer");
    detail::require_same_scale(first.scale(), ct->scale(), "linear_layer");
    require(ct->size() == first.size(), "linear_layer: inputs of different sizes");
  }
  const std::size_t nnz = row_start[n_out], level = first.level(), size = first.size(), n = ctx_->n();
  std::vector<std::int64_t> w(nnz);
  for (std::size_t j = 0; j < nnz; ++j) {
    require(index[j] < in.size(), "linear_layer: input index " + std::to_string(index[j]) + " out of range");
    w[j] = scalar_constant(first, double(weight[j]), scalar_scale, "linear_layer");
  }
  if (nnz == 0) scalar_constant(first, 0.0, scalar_scale, "linear_layer");  // resolve the scale
  const double s = product_scale(first, scalar_scale, "linear_layer");
  // Runs of consecutive outputs that read the same inputs in the same order (a dense layer: one run;
  // a convolution: its maps at one position) go through the dense product kernel, each input block
  // loaded once for up to 8 outputs; the other outputs take lazy multiply-adds one by one.
  struct Run {
    std::size_t begin, end;  // outputs [begin, end)
  };
  std::vector<Run> runs;
  for (std::size_t o = 0; o < n_out;) {
    std::size_t e = o + 1;
    const std::size_t len = row_start[o + 1] - row_start[o];
    while (e < n_out && row_start[e + 1] - row_start[e] == len && len <= he::kMatmulMaxTerms &&
           std::equal(index + row_start[o], index + row_start[o + 1], index + row_start[e]))
      ++e;
    runs.push_back({o, e});
    o = e;
  }
  std::vector<std::vector<ShoupOperand>> shoup(level, std::vector<ShoupOperand>(nnz));
  std::vector<std::vector<std::uint64_t>> residue(level, std::vector<std::uint64_t>(nnz));
  for (std::size_t i = 0; i < level; ++i)
    for (std::size_t j = 0; j < nnz; ++j) {
      residue[i][j] = signed_mod(w[j], ctx_->modulus(i));
      shoup[i][j] = he::make_shoup(residue[i][j], ctx_->modulus(i).value());
    }
  std::vector<Ciphertext> out;
  out.reserve(n_out);
  for (std::size_t o = 0; o < n_out; ++o) out.emplace_back(first.params_id(), n, level, size, s, Ciphertext::Uninitialized{});
  // Blocks of coefficients: a task's input blocks stay in the core's L2 (about 512 KB) while all
  // outputs read them: 256 coefficients for short rows (a convolution's 25 taps), 64 for a dense
  // layer's 845 inputs (dense2 of MNIST: 0.87-1.0 s instead of 1.1-1.25 s at 256); each lazy
  // output's block accumulates in L1.
  constexpr std::size_t kBlock = 256;
  std::size_t longest = 1;
  for (std::size_t o = 0; o < n_out; ++o) longest = std::max<std::size_t>(longest, row_start[o + 1] - row_start[o]);
  std::size_t block = std::min(kBlock, n);
  while (block > 64 && block * longest * sizeof(std::uint64_t) > (std::size_t{512} << 10)) block /= 2;
  const std::size_t blocks = n / block;
  ThreadPool::global().parallel_for(0, level * blocks, [&](std::size_t task) {
    const std::size_t i = task / blocks, b0 = (task % blocks) * block;
    const Modulus& q = ctx_->modulus(i);
    const std::size_t limit = he::fma_lazy_terms(q);
    std::uint64_t acc[kBlock];
    std::vector<const std::uint64_t*> rows;
    std::vector<std::uint64_t*> outs;
    for (std::size_t k = 0; k < size; ++k)
      for (const Run& run : runs) {
        const std::size_t len = row_start[run.begin + 1] - row_start[run.begin];
        if (run.end - run.begin > 1) {
          rows.resize(len);
          outs.resize(run.end - run.begin);
          for (std::size_t j = 0; j < len; ++j) rows[j] = in[index[row_start[run.begin] + j]]->data(k, i) + b0;
          for (std::size_t o = run.begin; o < run.end; ++o) outs[o - run.begin] = out[o].data(k, i) + b0;
          he::eltwise_matmul_mod(outs.data(), rows.data(), residue[i].data() + row_start[run.begin], outs.size(), len,
                                 block, q);
          continue;
        }
        const std::size_t o = run.begin;
        std::fill(acc, acc + block, 0);
        std::size_t terms = 0;
        for (auto j = row_start[o]; j < row_start[o + 1]; ++j) {
          if (terms == limit) {
            he::eltwise_reduce_mod(acc, acc, block, q);
            terms = 0;
          }
          he::eltwise_fma_lazy_mod(acc, in[index[j]]->data(k, i) + b0, shoup[i][j], block, q);
          ++terms;
        }
        he::eltwise_reduce_mod(out[o].data(k, i) + b0, acc, block, q);
      }
  });
  return out;
}

Ciphertext Evaluator::multiply_scalar(const Ciphertext& ct, double value, double scalar_scale) const {
  Ciphertext r = ct;
  multiply_scalar_inplace(r, value, scalar_scale);
  return r;
}

void Evaluator::multiply_integer_inplace(Ciphertext& ct, std::int64_t k) const {
  detail::check_ciphertext(*ctx_, ct, "multiply_integer");
  multiply_rows_by_constant(ct, k);
}

void Evaluator::multiply_plain_inplace(Ciphertext& ct, const Plaintext& pt) const {
  check_plain_level(ct, pt, "multiply_plain");
  const double s = product_scale(ct, pt.scale(), "multiply_plain");
  for (std::size_t i = 0; i < ct.level(); ++i)
    for (std::size_t k = 0; k < ct.size(); ++k)
      he::eltwise_mul_mod(ct.data(k, i), ct.data(k, i), pt.data(i), ctx_->n(), ctx_->modulus(i));
  ct.set_scale(s);
}

Ciphertext Evaluator::multiply_plain(const Ciphertext& ct, const Plaintext& pt) const {
  Ciphertext r = ct;
  multiply_plain_inplace(r, pt);
  return r;
}

Ciphertext Evaluator::multiply(const Ciphertext& a, const Ciphertext& b) const {
  check_pair(a, b, "multiply");
  if (a.size() != 2 || b.size() != 2)
    throw InvalidArgument("multiply: ciphertexts must have size 2 (relinearize first), got " +
                          std::to_string(a.size()) + " and " + std::to_string(b.size()));
  const double s = product_scale(a, b.scale(), "multiply");
  const std::size_t n = ctx_->n(), l = a.level();
  Ciphertext r(a.params_id(), n, l, 3, s);
  std::uint64_t* t = he::scratch(7, n);
  // (a0 + a1 s)(b0 + b1 s) = a0 b0 + (a0 b1 + a1 b0) s + a1 b1 s^2, element-wise per prime.
  for (std::size_t i = 0; i < l; ++i) {
    const Modulus& q = ctx_->modulus(i);
    he::eltwise_mul_mod(r.data(0, i), a.data(0, i), b.data(0, i), n, q);
    he::eltwise_mul_mod(r.data(1, i), a.data(0, i), b.data(1, i), n, q);
    he::eltwise_mul_mod(t, a.data(1, i), b.data(0, i), n, q);
    he::eltwise_add_mod(r.data(1, i), r.data(1, i), t, n, q);
    he::eltwise_mul_mod(r.data(2, i), a.data(1, i), b.data(1, i), n, q);
  }
  return r;
}

Ciphertext Evaluator::square(const Ciphertext& a) const {
  detail::check_ciphertext(*ctx_, a, "square");
  if (a.size() != 2)
    throw InvalidArgument("square: ciphertext must have size 2 (relinearize first), got " + std::to_string(a.size()));
  const double s = product_scale(a, a.scale(), "square");
  const std::size_t n = ctx_->n(), l = a.level();
  Ciphertext r(a.params_id(), n, l, 3, s, Ciphertext::Uninitialized{});
  for (std::size_t i = 0; i < l; ++i) {
    const Modulus& q = ctx_->modulus(i);
    he::eltwise_mul_mod(r.data(0, i), a.data(0, i), a.data(0, i), n, q);
    he::eltwise_mul_mod(r.data(1, i), a.data(0, i), a.data(1, i), n, q);
    he::eltwise_add_mod(r.data(1, i), r.data(1, i), r.data(1, i), n, q);
    he::eltwise_mul_mod(r.data(2, i), a.data(1, i), a.data(1, i), n, q);
  }
  return r;
}

// ---- Key switching ------------------------------------------------------------------------------

void Evaluator::relinearize_inplace(Ciphertext& ct, const RelinKeys& rk) const {
  detail::check_ciphertext(*ctx_, ct, "relinearize");
  if (ct.size() == 2) return;
  require(rk.params_id() == ctx_->params_id(), "relinearize: relin keys were made for other parameters");
  require(!rk.empty(), "relinearize: empty relin keys");
  const std::size_t n = ctx_->n(), l = ct.level();
  // The digits of c2 are taken in coefficient form (key switching uses scratch slots 3-5).
  std::uint64_t* d = he::scratch(6, l * n);
  std::memcpy(d, ct.poly(2), l * n * sizeof(std::uint64_t));
  for (std::size_t i = 0; i < l; ++i) he::inverse_ntt(d + i * n, ctx_->ntt(i));
  rlwe::key_switch_add(*ctx_, d, ct.poly(2), rk.key(), ct.poly(0), ct.poly(1), l, /*ntt_output=*/true);
  ct.truncate_size(2);
}

Ciphertext Evaluator::multiply_relin(const Ciphertext& a, const Ciphertext& b, const RelinKeys& rk) const {
  Ciphertext r = multiply(a, b);
  relinearize_inplace(r, rk);
  return r;
}

Ciphertext Evaluator::square_relin(const Ciphertext& a, const RelinKeys& rk) const {
  Ciphertext r = square(a);
  relinearize_inplace(r, rk);
  return r;
}

Ciphertext Evaluator::apply_galois(const Ciphertext& ct, std::uint32_t g, const GaloisKeys& gk) const {
  detail::check_ciphertext(*ctx_, ct, "apply_galois");
  require(ct.size() == 2, "apply_galois: ciphertext must have size 2 (relinearize first)");
  require(gk.params_id() == ctx_->params_id(), "apply_galois: Galois keys were made for other parameters");
  const rlwe::KeySwitchKey& key = gk.get(g);
  const std::size_t n = ctx_->n(), l = ct.level();
  // In the NTT domain X -> X^g permutes the evaluation points.
  std::vector<std::uint32_t> index(n);
  he::automorphism_ntt_index(n, g, ctx_->bitrev(), index.data());
  if (gk.permuted()) {
    // Evaluation-form key (rlwe/keys.h): c1 itself is switched, c0 + the pair permuted (key_switch.h).
    Ciphertext r(ct.params_id(), n, l, 2, ct.scale());
    rlwe::automorphism_ntt_permuted_key(*ctx_, ct.poly(0), ct.poly(1), l, key, index.data(), r.poly(0), r.poly(1));
    return r;
  }
  Ciphertext r(ct.params_id(), n, l, 2, ct.scale());
  std::uint64_t* c1g = he::scratch(6, l * n);      // coefficient form: the digits
  std::uint64_t* c1g_ntt = he::scratch(7, l * n);  // NTT form: digit i's transform mod q_i
  for (std::size_t i = 0; i < l; ++i) {
    he::apply_automorphism_ntt(ct.data(0, i), r.data(0, i), n, index.data());
    he::apply_automorphism_ntt(ct.data(1, i), c1g_ntt + i * n, n, index.data());
    std::memcpy(c1g + i * n, c1g_ntt + i * n, n * sizeof(std::uint64_t));
    he::inverse_ntt(c1g + i * n, ctx_->ntt(i));
  }
  // (c0(X^g), c1(X^g)) decrypts under s(X^g); switch the c1 part back to s.
  rlwe::key_switch_add(*ctx_, c1g, c1g_ntt, key, r.poly(0), r.poly(1), l, /*ntt_output=*/true);
  return r;
}

rlwe::HoistedDigits Evaluator::hoist(const Ciphertext& ct) const {
  detail::check_ciphertext(*ctx_, ct, "hoist");
  require(ct.size() == 2, "hoist: ciphertext must have size 2 (relinearize first)");
  const std::size_t n = ctx_->n(), l = ct.level();
  std::uint64_t* c1 = he::scratch(6, l * n);  // c1 in coefficient form: the digits' source
  for (std::size_t i = 0; i < l; ++i) {
    std::memcpy(c1 + i * n, ct.data(1, i), n * sizeof(std::uint64_t));
    he::inverse_ntt(c1 + i * n, ctx_->ntt(i));
  }
  return rlwe::HoistedDigits(*ctx_, c1, l);
}

Ciphertext Evaluator::rotate_hoisted(const Ciphertext& ct, const rlwe::HoistedDigits& digits, int step,
                                     const GaloisKeys& gk) const {
  detail::check_ciphertext(*ctx_, ct, "rotate_hoisted");
  require(ct.size() == 2 && digits.level() == ct.level(),
          "rotate_hoisted: the digits were hoisted from another ciphertext (level " + std::to_string(digits.level()) +
              ", ciphertext level " + std::to_string(ct.level()) + ")");
  require(gk.params_id() == ctx_->params_id(), "rotate_hoisted: Galois keys were made for other parameters");
  const std::uint32_t g = galois_elt_for_rotation(step, ctx_->n());
  const rlwe::KeySwitchKey& key = gk.get(g);
  const std::size_t n = ctx_->n(), l = ct.level();
  std::vector<std::uint32_t> index(n);
  he::automorphism_ntt_index(n, g, ctx_->bitrev(), index.data());
  Ciphertext r(ct.params_id(), n, l, 2, ct.scale());
  for (std::size_t i = 0; i < l; ++i) {
    he::apply_automorphism_ntt(ct.data(0, i), r.data(0, i), n, index.data());
    std::fill(r.data(1, i), r.data(1, i) + n, 0);
  }
  rlwe::key_switch_hoisted_add(*ctx_, digits, index.data(), key, r.poly(0), r.poly(1), gk.permuted());
  return r;
}

Ciphertext Evaluator::rotate(const Ciphertext& ct, int step, const GaloisKeys& gk) const {
  return apply_galois(ct, galois_elt_for_rotation(step, ctx_->n()), gk);
}

Ciphertext Evaluator::conjugate(const Ciphertext& ct, const GaloisKeys& gk) const {
  return apply_galois(ct, galois_elt_for_conjugation(ctx_->n()), gk);
}

// ---- Levels -------------------------------------------------------------------------------------

void Evaluator::rescale_inplace(Ciphertext& ct) const {
  detail::check_ciphertext(*ctx_, ct, "rescale");
  const std::size_t l = ct.level(), n = ctx_->n();
  require(l >= 2, "rescale: ciphertext is already at level 1 (no prime left to divide by)");
  const LevelData& ld = ctx_->level(l);
  const Modulus& last = ctx_->modulus(l - 1);
  const std::uint64_t h = (last.value() - 1) / 2;
  // round(c / q_last) = (c - [c]_{q_last}) / q_last with [c] centred as y - h, y = (c + h) mod
  // q_last: per prime j, (c_j - NTT(y - h mod q_j)) * q_last^-1 (the -h applies to every
  // coefficient, so it is formed before the transform). Rows move to the level-(l-1) layout in
  // place (destinations never overtake their sources).
  std::uint64_t* y = he::scratch(6, n);
  std::uint64_t* yj = he::scratch(7, n);
  std::uint64_t* base = ct.raw();
  for (std::size_t k = 0; k < ct.size(); ++k) {
    std::memcpy(y, base + (k * l + l - 1) * n, n * sizeof(std::uint64_t));
    he::inverse_ntt(y, ctx_->ntt(l - 1));
    he::eltwise_add_scalar_mod(y, y, h, n, last);
    for (std::size_t j = 0; j + 1 < l; ++j) {
      const Modulus& q = ctx_->modulus(j);
      he::eltwise_reduce_mod(yj, y, n, q);
      he::eltwise_add_scalar_mod(yj, yj, ld.neg_half_last[j], n, q);
      he::forward_ntt(yj, ctx_->ntt(j));
      std::uint64_t* out = base + (k * (l - 1) + j) * n;
      he::eltwise_sub_mod(out, base + (k * l + j) * n, yj, n, q);
      he::eltwise_mul_scalar_mod(out, out, ld.inv_last[j], n, q);
    }
  }
  ct.shrink_level(l - 1);
  ct.set_scale(ct.scale() / static_cast<double>(last.value()));
}

Ciphertext Evaluator::rescale(const Ciphertext& ct) const {
  Ciphertext r = ct;
  rescale_inplace(r);
  return r;
}

void Evaluator::mod_drop_to_inplace(Ciphertext& ct, std::size_t level) const {
  detail::check_ciphertext(*ctx_, ct, "mod_drop_to");
  require(level >= 1 && level <= ct.level(),
          "mod_drop_to: target level " + std::to_string(level) + " not in [1, " + std::to_string(ct.level()) + "]");
  const std::size_t l = ct.level(), n = ctx_->n();
  if (level == l) return;
  std::uint64_t* base = ct.raw();
  for (std::size_t k = 1; k < ct.size(); ++k)
    std::memmove(base + k * level * n, base + k * l * n, level * n * sizeof(std::uint64_t));
  ct.shrink_level(level);
}

Plaintext Evaluator::mod_drop_to(const Plaintext& pt, std::size_t level) const {
  detail::check_plaintext(*ctx_, pt, "mod_drop_to");
  require(level >= 1 && level <= pt.level(),
          "mod_drop_to: target level " + std::to_string(level) + " not in [1, " + std::to_string(pt.level()) + "]");
  Plaintext r(pt.params_id(), pt.n(), level, pt.scale());
  std::memcpy(r.raw(), pt.raw(), level * pt.n() * sizeof(std::uint64_t));
  return r;
}

}  // namespace leukocrypt::ckks
