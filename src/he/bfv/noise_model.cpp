// Worst-case noise bounds (infinity norm of the invariant noise v), derived for this engine's
// exact algorithms; B = 21 bounds every error coefficient (CBD(21)), ternary s, u give
// ||x*s|| <= N*||x||. Notation: Q = product of the present primes, N ring degree.
//   fresh (public):   t/Q * (B*(2N+1) + 1/2)        (-e*u + e1*s + e0 + rounding of round(Qm/t))
//   fresh (secret):   t/Q * (B + 1/2)
//   scalar w:         |w| * v
//   add plain:        v + t/(2Q)
//   multiply plain:   N * ||m|| * v
//   multiply:         N*t*(N+3)/2 * (v1+v2) + N*v1*v2 + t/Q*(N^2+N+1)/2
//                     (t/Q*c_i(s) = m_i + v_i + t*a_i with ||a_i|| <= (N+2)/2, plus HPS rounding)
//   key switch:       v + t/Q * (dnum*k*N*B*D_max/P + (k - 1/2)*(N+1))
//                     (dnum = ceil(l/k) digits, each below k*D_g after fast base conversion, D_g
//                     the product of its k primes; rounding of /P, off by < k with k > 1 special
//                     primes; k = 1: l*N*B*q_max/p + (N+1)/2)
//   mod switch:       v + t/Q' * (N+1)/2            (rounding of c/q_last, Q' = Q/q_last)
#include "he/bfv/noise_model.h"

#include <algorithm>
#include <cmath>

namespace leukocrypt::bfv {
namespace {
constexpr double kB = 21.0;
double lg(double x) { return std::log2(x); }
// log2(2^a + 2^b)
double lg_add(double a, double b) {
  double hi = std::max(a, b), lo = std::min(a, b);
  return hi + std::log2(1.0 + std::exp2(lo - hi));
}
}  // namespace

double NoiseModel::fresh_public(std::size_t level) const {
  const double n = static_cast<double>(params_.n());
  return lg(static_cast<double>(params_.t())) - params_.log2_q(lvl(level)) + lg(kB * (2 * n + 1) + 0.5);
}

double NoiseModel::fresh_symmetric(std::size_t level) const {
  return lg(static_cast<double>(params_.t())) - params_.log2_q(lvl(level)) + lg(kB + 0.5);
}

double NoiseModel::add(double a, double b) const { return lg_add(a, b); }

double NoiseModel::scalar_sum(double v, double sum_abs_w) const {
  return sum_abs_w <= 0 ? -1e9 : v + lg(sum_abs_w);
}

double NoiseModel::add_plain(double v, std::size_t level) const {
  return lg_add(v, lg(static_cast<double>(params_.t())) - params_.log2_q(lvl(level)) - 1.0);
}

double NoiseModel::multiply_plain(double v, double max_abs) const {
  if (max_abs <= 0) max_abs = static_cast<double>(params_.t()) / 2;
  return v + lg(static_cast<double>(params_.n())) + lg(max_abs);
}

double NoiseModel::multiply(double a, double b, std::size_t level) const {
  const double n = static_cast<double>(params_.n());
  const double lt = lg(static_cast<double>(params_.t()));
  double r = lg(n) + lt + lg((n + 3) / 2) + lg_add(a, b);
  r = lg_add(r, lg(n) + a + b);
  r = lg_add(r, lt - params_.log2_q(lvl(level)) + lg((n * n + n + 1) / 2));
  return r;
}

double NoiseModel::key_switch(double v, std::size_t level) const {
  const std::size_t l = lvl(level), k = params_.special_primes().size(), dnum = (l + k - 1) / k;
  const double n = static_cast<double>(params_.n());
  double log_d_max = 0;  // log2 of the largest digit modulus D_g
  for (std::size_t g = 0; g < dnum; ++g) {
    double b = 0;
    for (std::size_t i = g * k; i < std::min(l, g * k + k); ++i) b += lg(static_cast<double>(params_.q()[i]));
    log_d_max = std::max(log_d_max, b);
  }
  const double ks = lg_add(lg(static_cast<double>(dnum * k) * n * kB) + log_d_max - params_.log2_special(),
                           lg((static_cast<double>(k) - 0.5) * (n + 1)));
  return lg_add(v, lg(static_cast<double>(params_.t())) - params_.log2_q(l) + ks);
}

double NoiseModel::mod_switch(double v, std::size_t level) const {
  const double n = static_cast<double>(params_.n());
  return lg_add(v, lg(static_cast<double>(params_.t())) - params_.log2_q(lvl(level) - 1) + lg((n + 1) / 2));
}

}  // namespace leukocrypt::bfv
