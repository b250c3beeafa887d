// Parameter selection: noise simulation of the plan, mod-switch schedule, cost model, search.
#include "nn/param_select.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "common/error.h"
#include "he/bfv/noise_model.h"
#include "he/math/primes.h"
#include "nn/circuit_privacy.h"

namespace leukocrypt::nn {

// ---------------------------------------------------------------- noise

namespace {

// A latency-layout linear step: baby rotations (key switching), every giant sums its diagonal
// products (multiply_plain by a plaintext with centred coefficients up to t/2: x N t/2), a giant
// rotation, the sum over giants, each fold step doubles and key-switches, then the bias.
double latency_linear_noise(const bfv::NoiseModel& nm, const SlotLinear& l, double v, std::size_t level) {
  bool baby_rot = false, giant_rot = false;
  for (int b : l.baby) baby_rot |= b != 0;
  std::size_t terms = 1;
  for (const auto& g : l.giants) {
    giant_rot |= g.step != 0;
    terms = std::max(terms, g.terms.size());
  }
  if (baby_rot) v = nm.key_switch(v, level);
  v = nm.scalar_sum(nm.multiply_plain(v), double(terms));
  if (giant_rot) v = nm.key_switch(v, level);
  v += std::log2(double(std::max<std::size_t>(1, l.giants.size())));
  for (std::size_t f = 0; f < l.fold.size(); ++f) v = nm.key_switch(v + 1.0, level);
  return nm.add_plain(v, level);
}

}  // namespace

NoiseSimulation simulate_noise(const Plan& plan, const bfv::Params& params,
                               const std::vector<std::size_t>& mod_switch_levels, bool defer_relin) {
  const bfv::NoiseModel nm(params);
  const auto deferral = relin_deferral_targets(plan);
  const double n = double(params.n());
  NoiseSimulation sim;
  std::size_t level = params.max_level();
  double v = -1e9;
  std::size_t ms = 0;
  bool pending = false;  // a size-3 ciphertext whose relinearisation waits for the next linear layer
  for (std::size_t si = 0; si < plan.steps.size(); ++si) {
    const auto& st = plan.steps[si];
    switch (st.kind) {
      case OpKind::kEncrypt:
        // Secret-key encryption by the key holder; public-key encryption is the worse of the two.
        v = std::max(nm.fresh_symmetric(level), nm.fresh_public(level));
        break;
      case OpKind::kLinear:
        if (plan.layout == Layout::kLatency) {
          v = latency_linear_noise(nm, plan.slots.linear[si], v, level);
          break;
        }
        v = nm.add_plain(nm.scalar_sum(v, double(std::max<std::int64_t>(1, st.linear.sum_abs_weight_max))), level);
        if (pending) v = nm.key_switch(v, level);
        pending = false;
        break;
      case OpKind::kSquare:
        v = nm.multiply(v, v, level);
        break;
      case OpKind::kRelinearize:
        if (defer_relin && deferral[si] != 0) pending = true;
        else v = nm.key_switch(v, level);
        break;
      case OpKind::kModSwitch: {
        const std::size_t target = ms < mod_switch_levels.size() ? mod_switch_levels[ms] : 0;
        ++ms;
        while (target != 0 && level > target && level > 1) {
          v = nm.mod_switch(v, level--);
          // The third polynomial's rounding error is multiplied by s^2 (||s^2||_1 <= N^2).
          if (pending) v = nm.add(v, std::log2(double(params.t())) - params.log2_q(level) + std::log2((n * n + n + 1) / 2));
        }
        break;
      }
      case OpKind::kBlockSum: {
        // Each block's partial sum is rotated (one key switch, plus the row swap for the second
        // row's sum) and added: the linear step's bound covers the sum of the partial rows' noise,
        // the key switches add at most key_switches() times one key switch's own noise.
        const double ks = nm.key_switch(-1e9, level);
        v = nm.add(v, ks + std::log2(double(std::max<std::size_t>(1, plan.blocks.key_switches()))));
        break;
      }
      case OpKind::kDecrypt:
        break;
    }
    sim.budget_after_step.push_back(bfv::NoiseModel::noise_budget_bits(v));
    sim.level_after_step.push_back(level);
  }
  sim.final_budget = sim.budget_after_step.back();
  return sim;
}

namespace {

double min_final_budget(const Plan& plan, const std::vector<bfv::Params>& params, const std::vector<std::size_t>& sched,
                        bool defer_relin) {
  double b = 1e9;
  for (const auto& p : params) b = std::min(b, simulate_noise(plan, p, sched, defer_relin).final_budget);
  return b;
}

std::size_t count_mod_switches(const Plan& plan) {
  std::size_t n = 0;
  for (const auto& s : plan.steps) n += s.kind == OpKind::kModSwitch;
  return n;
}

}  // namespace

std::vector<std::size_t> choose_mod_switch_levels(const Plan& plan, const std::vector<bfv::Params>& params,
                                                  double margin_bits, bool defer_relin) {
  require(!params.empty(), "choose_mod_switch_levels: no parameters");
  const std::size_t count = count_mod_switches(plan);
  std::vector<std::size_t> sched(count, 0);
  std::size_t level = params[0].max_level();
  for (std::size_t i = 0; i < count; ++i) {
    for (std::size_t target = 1; target < level; ++target) {
      sched[i] = target;
      if (min_final_budget(plan, params, sched, defer_relin) >= margin_bits) break;
      sched[i] = 0;
    }
    if (sched[i] != 0) level = sched[i];
  }
  return sched;
}

std::optional<BfvSettings> adapt_to_layout(const Plan& plan, const BfvSettings& settings, Layout layout,
                                           double margin_bits) {
  BfvSettings s = settings;
  if (s.layout == layout) return s;
  s.layout = layout;
  if (layout == Layout::kLatency) {
    s.defer_relin = false;
    s.blocks = 1;  // blocks are a throughput-layout option
  }
  Plan lp;
  try {
    lp = plan_for(plan, s);
  } catch (const InvalidArgument&) {
    return std::nullopt;
  }
  const auto params = s.params();
  s.mod_switch_levels = choose_mod_switch_levels(lp, params, margin_bits, s.defer_relin);
  if (min_final_budget(lp, params, s.mod_switch_levels, s.defer_relin) < margin_bits) return std::nullopt;
  return s;
}

std::size_t result_ciphertexts_per_job(const Plan& plan, const BfvSettings& s, const JobCaps& caps) {
  const std::size_t k = s.plain_primes.size();
  if (plan.layout == Layout::kLatency) return plan.slots.ciphertexts_for(caps.max_cells) * k;
  const std::size_t per_batch = s.cells_per_batch();
  const std::size_t batches = std::min(caps.max_batches, (caps.max_cells + per_batch - 1) / per_batch);
  return std::max<std::size_t>(1, batches) * k * plan.output_size();
}

double required_final_budget(const Plan& plan, const BfvSettings& s, double margin_bits, bool circuit_privacy,
                             const JobCaps& caps) {
  if (!circuit_privacy) return margin_bits;
  return std::max(margin_bits, circuit_privacy_reserved_bits(s.n, result_ciphertexts_per_job(plan, s, caps)));
}

// ---------------------------------------------------------------- cost

namespace {

// Per-operation costs of this engine, seconds per coefficient, fitted to a measured encrypted run
// (N = 8192, 3 ciphertext primes, 4 plaintext primes: encryption 1.7 ms, scalar multiply-add
// 110 us, square 8.3 ms, relinearisation 4 ms per ciphertext and core on the shared dev machine).
// Used to rank candidates. The kernels have since become much faster (AVX-512 IFMA, hoisting,
// hybrid key switching): on the IFMA host the absolute server estimates are ~7x the measured
// times (session 12: 100 cells 54 vs 6.9 s, MNIST 3.4 vs 0.5 s, 1 cell 3.6 vs 0.6 s), uniformly
// enough that the rankings hold; transfer times are physical, so at a given bandwidth the
// model over-weights computation against transfer.
constexpr double kElem = 2.2e-9;    // one modular multiply-add on one coefficient of one prime
constexpr double kButterfly = 3.0e-9;  // one NTT butterfly (Harvey, Shoup operands)

double ntt_cost(double n) { return kButterfly * n / 2 * std::log2(n); }

}  // namespace

namespace {

// One key switch at level l with k special primes: dnum = ceil(l/k) digits, each transformed in
// the l + k targets, dnum(l + k) products per component, 2(l + k) inverse/forward transforms for
// the division by P, and (k > 1) the fast base conversions of the digits and of the special part.
double relin_cost(double n, double l, double k = 1) {
  const double dnum = std::ceil(l / k), targets = l + k;
  const double conv = k > 1 ? (dnum * k * targets + 2 * k * l) * n * kElem : 0;
  return (dnum * targets + 2 * targets) * ntt_cost(n) + 2 * dnum * targets * n * kElem + conv;
}

// Auxiliary primes of the HPS base at `level` (bfv::Context: log2 P >= log2 Q_l + log2 t + log2 N
// + 4, in primes of about the size of the largest q_i, at most 50 bits). With a 49-bit t and 50-bit
// q_i that is 8 at level 6 against 5 for a 25-bit t and 31-bit q_i: the square's cost depends on t,
// which counting 2l + 2 rows for every set missed.
double hps_aux_primes(const BfvSettings& s, std::size_t level) {
  double log_t = 0;
  for (auto t : s.plain_primes) log_t = std::max(log_t, std::log2(double(t)));
  auto need = [&](std::size_t l) {
    double log_q = 0;
    for (std::size_t i = 0; i < l && i < s.q_bits.size(); ++i) log_q += s.q_bits[i];
    return log_q + log_t + std::log2(double(s.n)) + 4.0;
  };
  int q_max = 0;
  for (std::size_t i = 0; i < s.levels() && i < s.q_bits.size(); ++i) q_max = std::max(q_max, s.q_bits[i]);
  const double top = need(s.levels()), k_min = std::ceil(top / 49.9);
  const double bits = std::clamp(std::max(std::ceil(top / k_min) + 1, double(q_max - 1)), 30.0, 50.0);
  return std::ceil(need(level) / (bits - 0.05));
}

// One HPS square at `level`: two extensions to Q u P and forward NTTs, the tensor, three inverse
// NTTs and scalings back (base conversions of l x aux words per coefficient).
double square_cost(const BfvSettings& s, double n, std::size_t level) {
  const double l = double(level), aux = hps_aux_primes(s, level), rows = l + aux;
  return 5 * rows * ntt_cost(n) + 4 * n * l * aux * kElem + 3 * n * rows * kElem;
}

// Per coefficient of a request row (seconds): bit-unpacking with the < q_i check, the full-width
// row check (row_check.h) and the seed expansion of c1 (ChaCha20, rejection sampling). A
// micro-benchmark on the shared dev machine at load ~8 measured 9-14, 3-15 and 20-35 ns (N = 8192
// and 16384); taken at about half, as for a quiet machine like the other constants.
constexpr double kUnpack = 5.0e-9, kRowCheck = 6.0e-9, kExpand = 15.0e-9;

// Server seconds (one thread) to validate and load one fresh seeded request ciphertext of `top`
// primes: the validation pass (unpack, check the sent rows) and the evaluation's load (unpack,
// expand the seed). Both passes read the request; the 4.4 GB C-NMC request with circuit privacy
// makes this a visible part of the server's time, which the estimate used to leave out.
double input_cost(double n, double top) { return n * top * (2 * kUnpack + kRowCheck + kExpand); }

double sum_bits(const std::vector<int>& q_bits, std::size_t levels) {
  double b = 0;
  for (std::size_t i = 0; i < levels && i < q_bits.size(); ++i) b += q_bits[i];
  return b;
}

// Latency layout, per ciphertext (up to cells_per_ciphertext cells) and plaintext prime: baby
// rotations to the NTT domain, diagonal products there, giant sums back and rotated, folds;
// squares and relinearisations as in the throughput layout on one ciphertext.
CostEstimate estimate_latency_cost(const Plan& plan, const BfvSettings& s, std::size_t images, std::size_t threads,
                                   bool circuit_privacy) {
  CostEstimate c;
  const double n = double(s.n), k = double(s.plain_primes.size());
  const SlotLayout& sl = plan.slots;
  const std::size_t cts = sl.ciphertexts_for(std::max<std::size_t>(1, images));
  const double ks = double(s.special_primes);
  c.batches = cts;
  std::size_t level = s.levels(), ms = 0;
  double server = 0, setup = 0, diag_bytes = 0, peak_ct = 0;
  for (std::size_t si = 0; si < plan.steps.size(); ++si) {
    const auto& st = plan.steps[si];
    const double l = double(level);
    if (st.kind == OpKind::kLinear) {
      const auto& sln = sl.linear[si];
      const double babies = double(sln.baby.size()), giants = double(sln.giants.size()), terms = double(sln.diagonals());
      server += babies * 2 * l * ntt_cost(n) + giants * 2 * l * ntt_cost(n) + terms * 2 * l * n * kElem +
                double(sln.rotations()) * relin_cost(n, l, ks);  // hoisted baby rotations: measured ~0.9x of this
      setup += terms * l * ntt_cost(n);  // diagonals to the NTT domain, once per prime and run
      diag_bytes += terms * l * n * 8;
      peak_ct = std::max(peak_ct, (babies + giants) * 2 * l * n * 8);
    } else if (st.kind == OpKind::kSquare) {
      server += square_cost(s, n, level);
    } else if (st.kind == OpKind::kRelinearize) {
      server += relin_cost(n, l, ks);
    } else if (st.kind == OpKind::kModSwitch) {
      const std::size_t target = ms < s.mod_switch_levels.size() ? s.mod_switch_levels[ms] : 0;
      ++ms;
      if (target != 0 && target < level) {
        server += double(level - target) * 2 * n * l * 2 * kElem;
        level = target;
      }
    }
  }
  const double top = double(s.levels());
  server += input_cost(n, top);
  // Circuit privacy: one public-key encryption of zero per result ciphertext, switched down and added.
  if (circuit_privacy)
    server += top * (3 * ntt_cost(n) + 8 * n * kElem) + (top - double(level)) * 2 * n * top * 2 * kElem +
              6 * n * double(level) * kElem;
  const double client = (ntt_cost(n) + top * (2 * ntt_cost(n) + 4 * n * kElem)) +        // encode + encrypt
                        (2 * double(level) * ntt_cost(n) + 3 * n * double(level) * kElem + ntt_cost(n));  // decrypt
  const double par = double(std::max<std::size_t>(1, threads));
  c.client_seconds = client * k * double(cts) / par;
  c.server_seconds = (server * double(cts) + setup) * k / par;
  c.upload_bytes = k * double(cts) * (n * sum_bits(s.q_bits, s.levels()) / 8 + 64);
  c.download_bytes = k * double(cts) * (2 * n * sum_bits(s.q_bits, level) / 8 + 64);
  const double L = top;
  // Sent seeded: per step and decomposition component one bit-packed polynomial plus a 32-byte seed
  // (the uniform half is expanded by the server).
  const double dnum = std::ceil(L / ks), key_primes = L + ks;
  c.galois_key_bytes = k * double(sl.rotation_steps().size()) * dnum * (n * sum_bits(s.q_bits, s.q_bits.size()) / 8 + 32);
  // Resident: every prime's diagonals and Galois keys (8-byte words), one ciphertext's rotations.
  c.peak_bytes = k * (diag_bytes + double(sl.rotation_steps().size()) * 2 * dnum * key_primes * n * 8) + peak_ct;
  return c;
}

}  // namespace

CostEstimate estimate_cost(const Plan& plan, const BfvSettings& s, std::size_t images, std::size_t threads,
                           double bandwidth_mbit, bool circuit_privacy) {
  require(bandwidth_mbit > 0, "estimate_cost: bandwidth must be positive");
  if (plan.layout == Layout::kLatency) {
    auto c = estimate_latency_cost(plan, s, images, threads, circuit_privacy);
    c.transfer_seconds = (c.upload_bytes + c.download_bytes) * 8 / (bandwidth_mbit * 1e6);
    return c;
  }
  CostEstimate c;
  const double n = double(s.n);
  const std::size_t top = s.levels();
  // images = 0: one full batch of N cells (with blocks: N cells in batches of one block's slots).
  const std::size_t per_batch = s.cells_per_batch(), cells = images == 0 ? s.n : images;
  c.batches = (cells + per_batch - 1) / per_batch;
  const double k = double(s.plain_primes.size());
  const auto counts = plan.counts();
  const auto deferral = relin_deferral_targets(plan);
  auto relin_cost = [&](double l) { return nn::relin_cost(n, l, double(s.special_primes)); };
  double client = 0, server = 0;
  // Client: encode (one NTT mod t) + secret-key encryption (uniform a, a*s in NTT form, error).
  client += double(counts.input_values) * (ntt_cost(n) + double(top) * (2 * ntt_cost(n) + 4 * n * kElem));
  server += double(counts.input_values) * input_cost(n, double(top));
  std::size_t level = top, ms = 0, size = 2;
  double values_now = double(counts.input_values), peak = 0;
  // Streaming (BfvPlanEvaluator): the first layer's inputs arrive on demand, and its outputs go
  // through the steps up to the next linear layer a task at a time (threads x 64 ciphertexts),
  // folded into per-thread accumulator sets of that layer; later layers hold inputs and outputs.
  int linear_seen = 0, linears = 0;
  for (const auto& st : plan.steps) linears += st.kind == OpKind::kLinear;
  const bool fold = linears >= 2;  // the evaluator folds the second layer into the stream
  const double pool = double(std::max<std::size_t>(1, threads)), in_flight = pool * 64;
  auto bytes = [&](double cts, double polys, double lvl) { return cts * polys * lvl * n * 8; };
  for (std::size_t si = 0; si < plan.steps.size(); ++si) {
    const auto& st = plan.steps[si];
    const double l = double(level);
    const double values = double(st.size);
    switch (st.kind) {
      case OpKind::kLinear: {
        server += double(st.linear.weight.size()) * double(size) * n * l * kElem + values * 2 * l * kElem;
        if (size == 3) server += values * relin_cost(l);
        if (linear_seen == 0)  // inputs on demand; outputs a task at a time when folded
          peak = std::max(peak, bytes(fold ? std::min(values, in_flight) : values, 2, l));
        else if (linear_seen == 1 && fold)  // a task's inputs, one accumulator set per thread
          peak = std::max(peak, bytes(in_flight, double(size), l) + bytes(pool * values, double(size), l));
        else
          peak = std::max(peak, bytes(values_now, double(size), l) + bytes(values, 2, l));
        ++linear_seen;
        size = 2;
        break;
      }
      case OpKind::kSquare:
        server += values * square_cost(s, n, level);
        size = 3;
        break;
      case OpKind::kRelinearize:
        if (!(s.defer_relin && deferral[si] != 0)) {
          server += values * relin_cost(l);
          size = 2;
        }
        break;
      case OpKind::kModSwitch: {
        const std::size_t target = ms < s.mod_switch_levels.size() ? s.mod_switch_levels[ms] : 0;
        ++ms;
        if (target != 0 && target < level) {
          server += values * double(level - target) * double(size) * n * l * 2 * kElem;
          level = target;
        }
        const bool streamed = fold && linear_seen == 1;  // between the first and the folded layer
        peak = std::max(peak, bytes(streamed ? std::min(values, in_flight) : values, double(size), double(level)));
        break;
      }
      case OpKind::kBlockSum:
        // One key switch per rotated block and output, and the additions.
        server += values * double(plan.blocks.key_switches()) * (relin_cost(l) + 2 * n * l * kElem);
        break;
      case OpKind::kDecrypt:
        client += values * (2 * l * ntt_cost(n) + 3 * n * l * kElem + ntt_cost(n));
        // Circuit privacy: a public-key encryption of zero at the top level (NTT of u, two
        // products and inverse NTTs, errors), switched down to l, added, plus the flooding noise.
        if (circuit_privacy)
          server += values * (double(top) * (3 * ntt_cost(n) + 8 * n * kElem) +
                              double(top - level) * 2 * n * double(top) * 2 * kElem + 6 * n * l * kElem);
        break;
      default:
        break;
    }
    values_now = values;
  }
  const double par = double(std::max<std::size_t>(1, threads));
  c.client_seconds = client * k * double(c.batches) / par;
  c.server_seconds = server * k * double(c.batches) / par;
  c.peak_bytes = peak;
  c.upload_bytes = k * double(c.batches) * double(counts.input_values) * (n * sum_bits(s.q_bits, top) / 8 + 64);
  c.download_bytes = k * double(c.batches) * double(counts.output_values) * (2 * n * sum_bits(s.q_bits, level) / 8 + 64);
  c.transfer_seconds = (c.upload_bytes + c.download_bytes) * 8 / (bandwidth_mbit * 1e6);
  return c;
}

// ---------------------------------------------------------------- search

namespace {

std::string fmt(double v, int prec = 1) {
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(prec);
  o << v;
  return o.str();
}

int log2_exact(std::size_t n) {
  int l = 0;
  while ((std::size_t(1) << l) < n) ++l;
  return l;
}

// Ciphertext prime sizes for L primes plus the special prime, using as much of the 128-bit
// budget as allowed with primes <= 50 bits (AVX-512 IFMA kernels take <= 52-bit primes).
std::vector<int> q_bits_for(std::size_t n, std::size_t levels) {
  const int total = bfv::Params::max_secure_bits(n);
  const int primes = int(levels) + 1;
  if (total / primes < 20) return {};
  std::vector<int> b(primes, std::min(50, total / primes));
  int left = total - b[0] * primes;
  for (int i = primes - 1; i >= 0 && left > 0; --i)
    while (b[i] < 50 && left > 0) { ++b[i]; --left; }
  std::sort(b.begin(), b.end());  // special prime (last) the largest
  return b;
}

// Replaces the one special prime of s.q_bits (q_bits_for's last entry) by k special primes as large
// as the largest ciphertext prime (digits of k primes then stay below P); false when the 128-bit
// budget does not hold them.
bool with_special_primes(std::size_t n, std::size_t k, BfvSettings& s) {
  const std::size_t levels = s.q_bits.size() - s.special_primes;
  std::vector<int> b(s.q_bits.begin(), s.q_bits.begin() + static_cast<std::ptrdiff_t>(levels));
  const int p_bits = k == 1 ? s.q_bits.back() : *std::max_element(b.begin(), b.end());
  if (k > 1 && p_bits > 50) return false;
  b.insert(b.end(), k, p_bits);
  int total = 0;
  for (int x : b) total += x;
  if (total > bfv::Params::max_secure_bits(n)) return false;
  s.q_bits = std::move(b);
  s.special_primes = k;
  return true;
}

// The number of special primes with the cheapest key switch that the 128-bit budget allows
// (hybrid key switching): at N = 32768 with 10 primes of 50 bits, 5 special primes give 2 digits,
// 3.6x fewer key products than 1 (and keys 3.6x smaller).
void choose_special_primes(std::size_t n, BfvSettings& s) {
  const std::size_t levels = s.levels();
  double best = relin_cost(double(n), double(levels), 1);
  std::size_t best_k = 1;
  for (std::size_t k = 2; k <= levels; ++k) {
    BfvSettings t = s;  // s itself changes only once the best k is known
    if (!with_special_primes(n, k, t)) continue;
    const double c = relin_cost(double(n), double(levels), double(k));
    if (c < best * 0.97) {
      best = c;
      best_k = k;
    }
  }
  if (best_k > 1) with_special_primes(n, best_k, s);
}

// k primes t = 1 mod 2N with product >= 2^bits_needed, each < 2^60; empty when impossible.
std::vector<std::uint64_t> plain_primes_for(std::size_t n, int bits_needed, std::size_t k) {
  const int log_n = log2_exact(n);
  const double per = std::max(double(bits_needed) / double(k), double(log_n) + 2.0);
  if (per > 59.5) return {};
  try {
    auto t = he::ntt_primes(per, log_n, k);
    for (auto p : t) if (p >= (std::uint64_t(1) << 60)) return {};
    return t;
  } catch (const Error&) {
    return {};
  }
}

struct Candidate {
  BfvSettings s;
  NoiseSimulation noise;
  CostEstimate cost;
  bool ok = false;
  std::string why;
};

Candidate evaluate(const Plan& plan, const ParamsRequest& req, BfvSettings s) {
  Candidate c;
  c.s = std::move(s);
  c.s.insecure_for_tests = req.insecure_for_tests;
  std::vector<bfv::Params> params;
  try {
    params = c.s.params();
  } catch (const SecurityError& e) {
    c.why = std::string("insecure: ") + e.what();
    return c;
  } catch (const Error& e) {
    c.why = e.what();
    return c;
  }
  // The budget to leave at decryption: the margin, or the flooding reserve when larger.
  double need = required_final_budget(plan, c.s, req.margin_bits, req.circuit_privacy, req.job);
  if (c.s.log2_plain() < double(req.bits_needed)) {
    c.why = "plaintext primes give T = 2^" + fmt(c.s.log2_plain()) + " < 2^" + std::to_string(req.bits_needed) +
            " needed by the logits (results would wrap around mod T)";
    return c;
  }
  // Both relinearisation placements; the cheaper one that leaves the margin (else the better budget).
  bool have = false;
  for (bool defer : {false, true}) {
    if (defer && plan.layout == Layout::kLatency) continue;  // rotations need size-2 ciphertexts
    BfvSettings s2 = c.s;
    s2.defer_relin = defer;
    s2.mod_switch_levels = choose_mod_switch_levels(plan, params, need, defer);
    NoiseSimulation worst;
    worst.final_budget = 1e9;
    for (const auto& p : params) {
      auto sim = simulate_noise(plan, p, s2.mod_switch_levels, defer);
      if (sim.final_budget < worst.final_budget) worst = sim;
    }
    const auto cost = estimate_cost(plan, s2, req.images, req.threads, req.bandwidth_mbit, req.circuit_privacy);
    const bool fits = worst.final_budget >= need, had_fit = have && c.noise.final_budget >= need;
    const bool better = !have || (fits && !had_fit) ||
                        (fits == had_fit && (fits ? cost.total() < c.cost.total() : worst.final_budget > c.noise.final_budget));
    if (better) {
      c.s = s2;
      c.noise = worst;
      c.cost = cost;
      have = true;
    }
  }
  const NoiseSimulation& worst = c.noise;
  if (req.circuit_privacy && !worst.level_after_step.empty()) {
    const std::size_t cts = result_ciphertexts_per_job(plan, c.s, req.job);
    for (const auto& p : params)
      need = std::max(need, circuit_privacy_reserved_bits(p, worst.level_after_step.back(), cts));
  }
  if (worst.final_budget < need) {
    c.why = "worst-case noise budget at decryption " + fmt(worst.final_budget) + " bits < " +
            (req.circuit_privacy && need > req.margin_bits
                 ? fmt(need) + " reserved for circuit privacy (flooding at 2^-" +
                       std::to_string(kCircuitPrivacyStatisticalBits) + ")"
                 : "margin " + fmt(req.margin_bits) + " (decryption could fail)");
    return c;
  }
  if (c.cost.peak_bytes > req.memory_limit_bytes) {
    c.why = std::string("resident ciphertexts") +
            (plan.layout == Layout::kLatency ? " (with every prime's diagonals and Galois keys)" : " (one prime, streamed)") +
            " need " + fmt(c.cost.peak_bytes / 1e9, 2) + " GB > limit " +
            fmt(req.memory_limit_bytes / 1e9, 2) + " GB";
    return c;
  }
  c.ok = true;
  return c;
}

nlohmann::json candidate_json(const Candidate& c) {
  nlohmann::json j = c.s.to_json();
  j["ok"] = c.ok;
  j["upload_bytes"] = c.cost.upload_bytes;
  j["download_bytes"] = c.cost.download_bytes;
  if (!c.ok) j["rejected"] = c.why;
  j["log2_plain"] = c.s.log2_plain();
  if (!c.noise.budget_after_step.empty()) j["final_noise_budget_bits"] = c.noise.final_budget;
  j["estimated_seconds"] = c.cost.total();
  return j;
}

// Candidates for one N and layout: every plaintext prime count (or the requested primes), each
// with the fewest ciphertext primes that carry the plan's noise (or the requested sizes).
void add_candidates(const Plan& plan, const ParamsRequest& req, const BfvSettings& base, std::vector<Candidate>& cands) {
  const std::size_t n = base.n;
  std::vector<std::vector<std::uint64_t>> t_options;
  if (!req.plain_primes.empty()) t_options.push_back(req.plain_primes);
  else
    for (std::size_t k = 1; k <= 4; ++k)
      if (auto t = plain_primes_for(n, req.bits_needed, k); !t.empty()) t_options.push_back(t);
  for (const auto& t : t_options) {
    BfvSettings s = base;
    s.plain_primes = t;
    if (!req.q_bits.empty()) {
      s.q_bits = req.q_bits;
      s.special_primes = req.special_primes == 0 ? 1 : req.special_primes;
      cands.push_back(evaluate(plan, req, s));
      continue;
    }
    Candidate last;
    for (std::size_t levels = 1; levels <= 40; ++levels) {
      s.q_bits = q_bits_for(n, levels);
      if (s.q_bits.empty()) break;
      s.special_primes = 1;
      if (req.special_primes != 0) {
        if (!with_special_primes(n, req.special_primes, s)) continue;
      } else {
        choose_special_primes(n, s);
      }
      last = evaluate(plan, req, s);
      // More primes only add memory; a memory refusal is the informative reason to keep.
      if (last.ok || last.why.rfind("resident ciphertexts", 0) == 0) break;
    }
    if (!last.s.q_bits.empty()) cands.push_back(last);
  }
}

}  // namespace

nlohmann::json ParamsChoice::to_json() const {
  nlohmann::json steps = nlohmann::json::array();
  return {{"bfv", settings.to_json()},
          {"log2_plain_modulus", settings.log2_plain()},
          {"noise_budget_after_step_bits", noise.budget_after_step},
          {"level_after_step", noise.level_after_step},
          {"final_noise_budget_bits", noise.final_budget},
          {"estimate",
           {{"client_seconds", cost.client_seconds},
            {"server_seconds", cost.server_seconds},
            {"transfer_seconds", cost.transfer_seconds},
            {"upload_bytes", cost.upload_bytes},
            {"download_bytes", cost.download_bytes},
            {"galois_key_bytes", cost.galois_key_bytes},
            {"batches", cost.batches},
            {"peak_ciphertext_bytes", cost.peak_bytes}}},
          {"circuit_privacy",
           {{"enabled", circuit_privacy_bits > 0},
            {"statistical_security_bits", circuit_privacy_bits > 0 ? kCircuitPrivacyStatisticalBits : 0},
            {"reserved_noise_bits", circuit_privacy_bits},
            {"result_ciphertexts_per_job", circuit_privacy_ciphertexts},
            {"max_cells_per_job", job.max_cells},
            {"max_batches_per_job", job.max_batches}}},
          {"reasons", reasons},
          {"candidates", candidates}};
}

ParamsChoice choose_params(const Plan& plan, const ParamsRequest& req) {
  require(req.bits_needed >= 2 && req.bits_needed <= 126,
          "params: the logits need " + std::to_string(req.bits_needed) +
              " bits; supported are 2..126 (lower the quantisation weight precision)");
  const bool explicit_all = req.n != 0 && !req.plain_primes.empty() && !req.q_bits.empty();
  std::vector<std::size_t> ns;
  if (req.n != 0) ns = {req.n};
  else ns = {2048, 4096, 8192, 16384, 32768};
  std::vector<Layout> layouts{Layout::kThroughput, Layout::kLatency};
  if (req.layout) layouts = {*req.layout};
  else if (plan.layout == Layout::kLatency) layouts = {Layout::kLatency};
  std::vector<Candidate> cands;
  std::vector<std::string> unfit;  // layouts that do not fit some N, with the reason
  for (auto n : ns)
    for (Layout layout : layouts) {
      // Throughput: without blocks and with every block count that tiles the first layer's rows
      // (block_layout.h), or the requested count; the cost model picks.
      std::vector<std::size_t> block_options{1};
      if (layout == Layout::kThroughput) {
        if (req.blocks != 0) block_options = {req.blocks};
        else if (plan.layout == Layout::kThroughput && plan.steps.size() > 1 && plan.steps[1].kind == OpKind::kLinear &&
                 plan.steps[1].linear.conv)
          for (std::size_t b = 2; b <= 16; ++b)
            if (canonical_block_count(std::size_t(plan.steps[1].linear.conv->out.h), b)) block_options.push_back(b);
      }
      for (std::size_t blocks : block_options) {
        BfvSettings base;
        base.n = n;
        base.layout = layout;
        base.blocks = blocks;
        Plan lp;
        try {
          lp = plan_for(plan, base);
        } catch (const InvalidArgument& e) {
          unfit.push_back(std::string("N = ") + std::to_string(n) + ": " + e.what());
          continue;
        }
        add_candidates(lp, req, base, cands);
      }
    }
  ParamsChoice choice;
  for (const auto& c : cands) choice.candidates.push_back(candidate_json(c));
  const Candidate* best = nullptr;
  for (const auto& c : cands)
    if (c.ok && (!best || c.cost.total() < best->cost.total())) best = &c;
  if (!best) {
    std::string why = cands.empty() ? (unfit.empty() ? "no candidate parameters" : unfit.front()) : cands.front().why;
    if (cands.empty() && req.special_primes > 1)
      why = std::to_string(req.special_primes) +
            " special primes of the ciphertext primes' size do not fit the 128-bit budget with any level count "
            "that was tried (fewer special primes, or a larger --n)";
    if (explicit_all || req.n != 0 || !req.plain_primes.empty()) {
      if (!cands.empty()) {
        // Explicit settings: surface the precise reason (security first, then the rest).
        for (const auto& c : cands)
          if (c.why.rfind("insecure", 0) == 0) throw SecurityError("params: refused: " + c.why);
      }
      throw InvalidArgument("params: refused: " + why);
    }
    throw InvalidArgument("params: no 128-bit secure parameters fit this model (" + why +
                          "); lower the quantisation weight precision");
  }
  choice.settings = best->s;
  choice.noise = best->noise;
  choice.cost = best->cost;
  auto& r = choice.reasons;
  r.push_back(std::string(to_string(best->s.layout)) + " layout" +
              (best->s.layout == Layout::kLatency
                   ? " (each cell's values in the slots of one ciphertext, " +
                         std::to_string(plan_for(plan, best->s).slots.cells_per_ciphertext()) + " cells per ciphertext)"
                   : best->s.blocks > 1
                         ? " with " + std::to_string(best->s.blocks) + " spatial blocks of " +
                               std::to_string(best->s.cells_per_batch()) +
                               " slots (one ciphertext per input strip value, one cell per slot of a block; the "
                               "second linear layer's blocks added by rotations)"
                         : " (one ciphertext per value, one cell per slot)") +
              (req.layout ? ": requested" : ": lowest estimated end-to-end time of both layouts"));
  r.push_back("logits need " + std::to_string(req.bits_needed) + " signed bits: " +
              std::to_string(best->s.plain_primes.size()) + " plaintext prime(s) joined by CRT give T = 2^" +
              fmt(best->s.log2_plain()));
  double log2_qp = 0;
  for (int b : best->s.q_bits) log2_qp += b;
  r.push_back("N = " + std::to_string(best->s.n) + ", " + std::to_string(best->s.levels()) +
              " ciphertext primes + " + std::to_string(best->s.special_primes) +
              (best->s.special_primes == 1
                   ? " special prime"
                   : " special primes (key switching in " +
                         std::to_string((best->s.levels() + best->s.special_primes - 1) / best->s.special_primes) +
                         " digits)") +
              " (~" + fmt(log2_qp, 0) + " bits <= " +
              std::to_string(bfv::Params::max_secure_bits(best->s.n)) + " allowed for 128-bit security" +
              (req.insecure_for_tests ? "; INSECURE test parameters requested" : "") + ")");
  choice.job = req.job;
  if (req.circuit_privacy) {
    const Plan bp = plan_for(plan, best->s);
    choice.circuit_privacy_ciphertexts = result_ciphertexts_per_job(bp, best->s, req.job);
    choice.circuit_privacy_bits = required_final_budget(bp, best->s, 0, true, req.job);
  }
  r.push_back("worst-case noise budget left at decryption: " + fmt(best->noise.final_budget) + " bits (needed " +
              (req.circuit_privacy
                   ? "max(margin " + fmt(req.margin_bits) + ", " + fmt(choice.circuit_privacy_bits) +
                         " for the server's noise flooding): circuit privacy at 2^-" +
                         std::to_string(kCircuitPrivacyStatisticalBits) + " statistical distance per job of up to " +
                         std::to_string(req.job.max_cells) + " cells / " + std::to_string(req.job.max_batches) +
                         " batches (" + std::to_string(choice.circuit_privacy_ciphertexts) + " result ciphertexts)"
                   : "margin " + fmt(req.margin_bits) + "; circuit privacy off") +
              ")");
  std::string sched;
  for (auto l : best->s.mod_switch_levels) sched += (sched.empty() ? "" : ",") + std::to_string(l);
  r.push_back("mod-switch levels after each square and before the result: [" + sched + "] (0 = stay)");
  r.push_back(best->s.defer_relin
                  ? "relinearisation deferred to after the next linear layer (fewer relinearisations, estimated cheaper)"
                  : "relinearisation right after each square (estimated cheaper than deferring it)");
  if (best->s.layout == Layout::kThroughput && best->s.blocks > 1) {
    const Plan bp = plan_for(plan, best->s);
    r.push_back("Galois keys for the block sum: " + std::to_string(bp.blocks.rotation_steps().size()) + " rotation step(s)" +
                (bp.blocks.swaps() ? " and the row swap" : "") + "; " + std::to_string(bp.input_size()) +
                " input ciphertexts per prime and batch instead of " + std::to_string(plan.input_size()));
  }
  if (best->s.layout == Layout::kLatency)
    r.push_back("Galois keys for " + std::to_string(plan_for(plan, best->s).slots.rotation_steps().size()) +
                " rotation steps: " + fmt(best->cost.galois_key_bytes / 1e6, 1) + " MB (registered once per key)");
  r.push_back("upload " + fmt(best->cost.upload_bytes / 1e6, 2) + " MB, download " +
              fmt(best->cost.download_bytes / 1e6, 2) + " MB at " + fmt(req.bandwidth_mbit, 0) + " Mbit/s: " +
              fmt(best->cost.transfer_seconds, 2) + " s");
  r.push_back("estimated end-to-end time for " + std::to_string(req.images == 0 ? best->s.n : req.images) + " images on " +
              std::to_string(req.threads) + " threads: " + fmt(best->cost.total(), 1) + " s (" +
              std::to_string(best->cost.batches) + " batch(es)); lowest of " + std::to_string(cands.size()) +
              " candidates");
  return choice;
}

}  // namespace leukocrypt::nn
