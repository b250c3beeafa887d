// CKKS parameter choice for a plan: the precision model walked along the plan's steps.
#include "nn/ckks_settings.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <optional>
#include <sstream>

#include "common/error.h"
#include "common/thread_pool.h"
#include "he/ckks/precision_model.h"
#include "he/kernels/ntt.h"
#include "he/math/primes.h"
#include "nn/ckks_circuit_privacy.h"

namespace leukocrypt::nn {
namespace {

std::size_t wire_batches(std::size_t cells, std::size_t slots) { return (cells + slots - 1) / slots; }

// How many primes (q_i and the special prime) are too large for the SIMD kernels
// (he::kIfmaMaxModulusBits): each runs every NTT and multiply-add of its rows on the scalar
// reference, 5-8x slower (MNIST at scale 2^50, rescale primes alternately just above and below
// 2^50: 65 % of the CPU time in scalar kernels).
int scalar_primes(const ckks::Params& p) {
  auto big = [](std::uint64_t q) { return std::bit_width(q) > he::kIfmaMaxModulusBits ? 1 : 0; };
  int count = big(p.special_prime());
  for (auto q : p.q()) count += big(q);
  return count;
}

// Signed bits of the largest value the last prime q_0 must hold (beyond the scale), plus one bit
// of sign and one of room.
int headroom_bits(double max_logit) { return std::max(1, int(std::ceil(std::log2(std::max(1.0, max_logit))))) + 2; }

// One linear layer on inputs that all share the estimate x: the worst row (largest noise) after
// its multiply-adds, the rescale and the bias.
ckks::PrecisionEstimate predict_linear(const ckks::PrecisionModel& model, const LinearOp& l,
                                       const ckks::PrecisionEstimate& x, const CkksStepScale& sc) {
  const double weight_scale = sc.weight_scale();
  ckks::PrecisionEstimate worst{};
  for (int o = 0; o < l.n_out; ++o) {
    ckks::PrecisionEstimate acc{};
    bool first = true;
    for (auto j = l.f_row_start[o]; j < l.f_row_start[o + 1]; ++j) {
      auto term = model.multiply_scalar(x, double(l.f_weight[j]), weight_scale);
      acc = first ? term : model.add(acc, term);
      first = false;
    }
    if (first) acc = model.multiply_scalar(x, 0.0, weight_scale);
    for (int r = 0; r < sc.rescales; ++r) acc = model.rescale(acc);
    acc = model.add_plain(acc, std::fabs(double(l.f_bias[o])));
    if (o == 0 || acc.noise() > worst.noise()) worst = acc;
  }
  return worst;
}

// One latency linear step (CkksSlotEvaluator::run_linear) on x (rotations hoisted to the baby
// rotation's noise). Integer units: a diagonal encoded at scale q with rounding error R (every
// slot, whatever its weight) multiplies the rotated input x_b (scale s, |slot| <= M, noise B_b):
// s M R + q |w| B_b + B_b R per diagonal, so an output slot gets q W B_b (W = its row's sum |w|,
// counted once whether the row's taps land in one slot or in partial sums that the folds collect)
// plus D (s M R + B_b R) over the D diagonals; each giant rotation adds one key switch to the
// partial sums. F folds add 2^F partial-sum slots together (their encoding and key-switch terms
// 2^F times) and one key switch each, doubled by every later fold: (2^F - 1) key switches. Then
// the rescale and the bias.
ckks::PrecisionEstimate predict_slot_linear(const ckks::PrecisionModel& model, const ckks::Params& params,
                                            const LinearOp& l, const SlotLinear& sl, const ckks::PrecisionEstimate& x,
                                            const CkksStepScale& sc) {
  const double q = sc.weight_bits > 0 ? sc.weight_scale() : double(params.q()[x.level - 1]);
  ckks::PrecisionEstimate xb = x;
  if (std::any_of(sl.baby.begin(), sl.baby.end(), [](int b) { return b != 0; })) xb = model.key_switch(x);
  double w_max = 0, bias_max = 0;
  for (int o = 0; o < l.n_out; ++o) {
    double w = 0;
    for (auto j = l.f_row_start[o]; j < l.f_row_start[o + 1]; ++j) w += std::fabs(double(l.f_weight[j]));
    w_max = std::max(w_max, w);
    bias_max = std::max(bias_max, std::fabs(double(l.f_bias[o])));
  }
  const auto enc = model.multiply_plain(xb, 0.0, q);  // s M R + B_b R (its fixed part: s M R + F_b R)
  const double ks = model.key_switch_noise(x.level);
  const double d = double(sl.diagonals());
  double giants = 0;
  for (const auto& g : sl.giants) giants += g.step != 0 ? ks : 0.0;
  const double folded = std::ldexp(1.0, int(sl.fold.size()));
  // Fixed: the weights times the inputs' fixed error and the diagonals' encoding; random: the
  // weights times the rotated inputs' random error (baby key switches included), the random
  // error's share of the encoding term, the giant steps' and folds' key switches.
  const double fixed = q * w_max * xb.fixed + folded * d * enc.fixed;
  const double random = q * w_max * xb.random + folded * (d * enc.random + giants) + (folded - 1) * ks;
  ckks::PrecisionEstimate y{x.level, x.scale * q, w_max * x.magnitude, fixed, random};
  for (int r = 0; r < sc.rescales; ++r) y = model.rescale(y);
  return model.add_plain(y, bias_max);
}

// One latency linear step on one packed slot vector in doubles, as CkksSlotEvaluator runs it
// (rotations over the one row of N/2 slots).
std::vector<double> apply_slot_linear(const SlotLinear& l, const std::vector<double>& x, std::size_t block) {
  const std::size_t n = x.size();
  std::vector<std::vector<double>> baby;
  for (int b : l.baby) baby.push_back(rotate_slot_rows(x, b, 1));
  std::vector<double> y(n, 0.0);
  for (const auto& g : l.giants) {
    std::vector<double> acc(n, 0.0);
    for (const auto& t : g.terms)
      for (std::size_t s = 0; s < n; ++s) acc[s] += t.fdiag[s % block] * baby[t.baby][s];
    acc = rotate_slot_rows(acc, g.step, 1);
    for (std::size_t s = 0; s < n; ++s) y[s] += acc[s];
  }
  for (int f : l.fold) {
    const auto r = rotate_slot_rows(y, f, 1);
    for (std::size_t s = 0; s < n; ++s) y[s] += r[s];
  }
  for (std::size_t b0 = 0; b0 < n; b0 += block)
    for (const auto& [slot, bias] : l.fbias) y[b0 + slot] += bias;
  return y;
}

// The slot program on one packed vector; visit(step, slots) after every step.
template <class Visit>
void run_slot_program(const Plan& plan, const std::uint8_t* const* cells, std::size_t count, const Visit& visit) {
  const SlotLayout& sl = plan.slots;
  std::vector<double> x(sl.slot_count(), 0.0);
  for (std::size_t k = 0; k < count; ++k)
    for (std::size_t v = 0; v < sl.in_slot.size(); ++v)
      x[k * sl.block + sl.in_slot[v]] = double(cells[k][v]) * double(plan.input_scale);
  for (std::size_t s = 0; s < plan.steps.size(); ++s) {
    if (plan.steps[s].kind == OpKind::kLinear) x = apply_slot_linear(sl.linear[s], x, sl.block);
    else if (plan.steps[s].kind == OpKind::kSquare)
      for (auto& v : x) v *= v;
    visit(s, x);
  }
}

// plan_magnitudes for a CKKS latency plan: cells packed as the key holder packs them.
std::vector<double> slot_magnitudes(const Plan& plan, const std::vector<const std::uint8_t*>& images) {
  const SlotLayout& sl = plan.slots;
  const std::size_t per = sl.cells_per_ciphertext();
  std::vector<std::vector<double>> mags(sl.ciphertexts_for(images.size()), std::vector<double>(plan.steps.size(), 0.0));
  ThreadPool::global().parallel_for(0, mags.size(), [&](std::size_t c) {
    run_slot_program(plan, images.data() + c * per, std::min(per, images.size() - c * per),
                     [&](std::size_t s, const std::vector<double>& x) {
                       for (double v : x) mags[c][s] = std::max(mags[c][s], std::fabs(v));
                     });
  });
  std::vector<double> mag(plan.steps.size(), 0.0);
  for (const auto& m : mags)
    for (std::size_t s = 0; s < m.size(); ++s) mag[s] = std::max(mag[s], m[s]);
  return mag;
}

}  // namespace

std::vector<std::vector<double>> slot_program_trace(const Plan& plan, const std::vector<const std::uint8_t*>& cells) {
  require(plan.layout == Layout::kLatency && plan.slots.scheme() == SlotScheme::kCkks,
          "slot_program_trace: not a CKKS latency plan");
  require(!cells.empty() && cells.size() <= plan.slots.cells_per_ciphertext(),
          "slot_program_trace: 1.." + std::to_string(plan.slots.cells_per_ciphertext()) + " cells");
  std::vector<std::vector<double>> trace(plan.steps.size());
  run_slot_program(plan, cells.data(), cells.size(), [&](std::size_t s, const std::vector<double>& x) { trace[s] = x; });
  return trace;
}

Plan ckks_latency_plan(const Plan& plan, std::size_t n) {
  if (n == 0) n = 2 * to_latency(plan, std::size_t(1) << 17, SlotScheme::kCkks).slots.block;
  return to_latency(plan, n, SlotScheme::kCkks);
}

Plan ckks_plan_for(const Plan& plan, const CkksSettings& settings) {
  if (settings.layout == Layout::kThroughput) {
    require(plan.layout == Layout::kThroughput,
            "ckks: the plan is in the latency layout, the parameters are for throughput");
    return plan;
  }
  const std::size_t n = settings.params.n();
  if (plan.layout == Layout::kLatency && plan.slots.scheme() == SlotScheme::kCkks && plan.slots.n == n) return plan;
  require(plan.layout == Layout::kThroughput, "ckks: the plan is in another latency layout than the parameters'");
  return ckks_latency_plan(plan, n);
}

std::vector<double> plan_magnitudes(const Plan& plan, const std::vector<const std::uint8_t*>& images) {
  if (plan.layout == Layout::kLatency) return slot_magnitudes(plan, images);
  std::vector<double> mag(plan.steps.size(), 0.0);
  for (const auto* img : images) {
    std::vector<double> x(plan.input_size());
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = double(img[i]) * double(plan.input_scale);
    for (std::size_t s = 0; s < plan.steps.size(); ++s) {
      const auto& st = plan.steps[s];
      if (st.kind == OpKind::kLinear) {
        const auto& l = st.linear;
        std::vector<double> y(std::size_t(l.n_out));
        for (int o = 0; o < l.n_out; ++o) {
          double acc = l.f_bias[o];
          for (auto j = l.f_row_start[o]; j < l.f_row_start[o + 1]; ++j) acc += double(l.f_weight[j]) * x[l.f_index[j]];
          y[std::size_t(o)] = acc;
        }
        x = std::move(y);
      } else if (st.kind == OpKind::kSquare) {
        for (auto& v : x) v *= v;
      }
      for (double v : x) mag[s] = std::max(mag[s], std::fabs(v));
    }
  }
  return mag;
}

std::size_t ckks_levels(const Plan& plan) {
  std::size_t levels = 0;
  for (const auto& s : plan.steps) levels += (s.kind == OpKind::kLinear || s.kind == OpKind::kSquare) ? 1 : 0;
  return levels;
}

CkksStepScale step_scale(const CkksSchedule& schedule, const Plan& plan, std::size_t s) {
  const bool rescaling = plan.steps[s].kind == OpKind::kLinear || plan.steps[s].kind == OpKind::kSquare;
  if (schedule.empty()) return {rescaling ? 1 : 0, 0};
  return schedule[s];
}

std::size_t ckks_rescales(const Plan& plan, const CkksSchedule& schedule) {
  if (schedule.empty()) return ckks_levels(plan);
  require(schedule.size() == plan.steps.size(), "ckks: the scale schedule has " + std::to_string(schedule.size()) +
                                                    " entries, the plan " + std::to_string(plan.steps.size()) + " steps");
  std::size_t primes = 0;
  for (std::size_t s = 0; s < schedule.size(); ++s) {
    const auto& e = schedule[s];
    const auto kind = plan.steps[s].kind;
    const bool rescaling = kind == OpKind::kLinear || kind == OpKind::kSquare;
    require(e.rescales >= 0 && e.rescales <= 8 && e.weight_bits >= 0 && e.weight_bits <= 60 &&
                (rescaling || (e.rescales == 0 && e.weight_bits == 0)) && (kind == OpKind::kLinear || e.weight_bits == 0),
            "ckks: scale schedule entry " + std::to_string(s) + " (" + std::to_string(e.rescales) + " rescales, weights at 2^" +
                std::to_string(e.weight_bits) + ") does not fit step '" + plan.steps[s].name + "'");
    require(kind != OpKind::kLinear || e.weight_bits > 0 || e.rescales > 0,
            "ckks: scale schedule: linear step '" + plan.steps[s].name + "' has neither a rescale prime nor a weight scale");
    primes += std::size_t(e.rescales);
  }
  return primes;
}

namespace {

// The precision model's estimate after every plan step, at `confidence`.
std::vector<ckks::PrecisionEstimate> walk_plan(const Plan& plan, const ckks::Params& params,
                                               const std::vector<double>& magnitudes, double confidence,
                                               const CkksSchedule& schedule) {
  require(magnitudes.size() == plan.steps.size(), "predict_ckks_errors: " + std::to_string(magnitudes.size()) +
                                                      " magnitudes for " + std::to_string(plan.steps.size()) + " steps");
  const std::size_t need = ckks_rescales(plan, schedule) + 1;
  require(params.max_level() >= need, "predict_ckks_errors: " + std::to_string(params.max_level()) +
                                          " primes; the plan needs " + std::to_string(need));
  const ckks::PrecisionModel model(params, confidence);
  std::vector<ckks::PrecisionEstimate> out(plan.steps.size());
  ckks::PrecisionEstimate x{};
  for (std::size_t s = 0; s < plan.steps.size(); ++s) {
    const auto& st = plan.steps[s];
    if (st.kind == OpKind::kEncrypt) {
      x = model.fresh_secret(magnitudes[s], params.default_scale());
    } else if (st.kind == OpKind::kLinear) {
      x = plan.layout == Layout::kLatency
              ? predict_slot_linear(model, params, st.linear, plan.slots.linear[s], x, step_scale(schedule, plan, s))
              : predict_linear(model, st.linear, x, step_scale(schedule, plan, s));
    } else if (st.kind == OpKind::kSquare) {
      x = model.key_switch(model.multiply(x, x));
      for (int r = 0; r < step_scale(schedule, plan, s).rescales; ++r) x = model.rescale(x);
    }
    // The model's magnitude bound compounds sum |w| over every layer; the measured bound is tighter.
    if (st.kind != OpKind::kDecrypt) x.magnitude = std::min(x.magnitude, magnitudes[s]);
    out[s] = x;
  }
  return out;
}

// The result after the server's circuit privacy: flood bits for the noise bound at
// kCkksFloodConfidence, the flooded slot error, and whether the flooded result fits its modulus.
struct FloodPrediction {
  int bits = 0;
  double noise_log2 = 0;  // log2 of the noise bound the flood covers
  double error = 0;       // flooded largest logit error
  bool fits = false;
};

FloodPrediction predict_flood(const Plan& plan, const ckks::Params& params, const std::vector<double>& magnitudes,
                              const ckks::PrecisionEstimate& result, std::size_t result_ciphertexts,
                              const CkksSchedule& schedule) {
  FloodPrediction f;
  // What the flood must cover: the noise that is not a fixed function of the decrypted inputs
  // and the weights (ckks::PrecisionEstimate::random, nn/ckks_circuit_privacy.h).
  const double wide = walk_plan(plan, params, magnitudes, kCkksFloodConfidence, schedule).back().random;
  f.noise_log2 = std::log2(wide);
  f.bits = ckks_flood_bits(wide, params.n(), result_ciphertexts);
  const int b = std::min(f.bits, kMaxFloodBits);
  const auto flooded = ckks::PrecisionModel(params).sanitise(result, b);
  f.error = flooded.slot_error(params.n());
  double log2_q = 0;
  for (std::size_t i = 0; i < flooded.level; ++i) log2_q += std::log2(double(params.q()[i]));
  f.fits = f.bits <= kMaxFloodBits && std::log2(flooded.magnitude * flooded.scale + flooded.noise()) < log2_q - 1;
  return f;
}

}  // namespace

std::vector<double> predict_ckks_errors(const Plan& plan, const ckks::Params& params,
                                        const std::vector<double>& magnitudes, const CkksSchedule& schedule) {
  const auto est = walk_plan(plan, params, magnitudes, 6.0, schedule);
  std::vector<double> err(est.size());
  for (std::size_t s = 0; s < est.size(); ++s) err[s] = est[s].slot_error(params.n());
  return err;
}

namespace {

// Per-op seconds on 2 cores (he-ckks.md, N = 16384, 8 primes: rotate 6.3 ms, multiply_plain 0.16 ms,
// scalar multiply-add 0.06 ms, rescale 0.9 ms, encrypt 2 ms) per N x level (x (level + 1) for key switches).
constexpr double kKeySwitch = 6.3e-3 / (16384.0 * 8 * 9);
constexpr double kPlainProduct = 0.16e-3 / (16384.0 * 8);
constexpr double kScalarMac = 0.06e-3 / (16384.0 * 8);
constexpr double kRescale = 0.9e-3 / (16384.0 * 8);
constexpr double kEncrypt = 2e-3 / (16384.0 * 8);

// Server seconds of one ciphertext (latency) or one batch (throughput) along the plan.
double server_seconds(const Plan& plan, std::size_t n, std::size_t top, const CkksSchedule& schedule) {
  const double dn = double(n);
  double secs = 0;
  std::size_t level = top;
  for (std::size_t s = 0; s < plan.steps.size(); ++s) {
    const auto& st = plan.steps[s];
    const double l = double(level);
    const auto drops = std::size_t(step_scale(schedule, plan, s).rescales);
    if (st.kind == OpKind::kLinear) {
      if (plan.layout == Layout::kLatency) {
        const auto& sl = plan.slots.linear[&st - plan.steps.data()];
        secs += dn * (double(sl.rotations()) * l * (l + 1) * kKeySwitch + double(sl.diagonals()) * l * kPlainProduct +
                      l * kRescale);
      } else {
        secs += dn * (double(st.linear.f_weight.size()) * l * kScalarMac + double(st.linear.n_out * drops) * l * kRescale);
      }
      level -= drops;
    } else if (st.kind == OpKind::kSquare) {
      const double values = plan.layout == Layout::kLatency ? 1.0 : double(st.size);
      secs += values * dn * (l * (l + 1) * kKeySwitch + 2 * l * kPlainProduct + double(drops) * l * kRescale);
      level -= drops;
    }
  }
  return secs;
}

}  // namespace

nlohmann::json CkksCostEstimate::to_json() const {
  return {{"upload_bytes", upload_bytes},         {"download_bytes", download_bytes},
          {"keyholder_seconds", keyholder_seconds}, {"server_seconds", server_seconds},
          {"total_seconds", total_seconds}};
}

CkksCostEstimate estimate_ckks_cost(const Plan& plan, const CkksSettings& s, std::size_t cells, double bandwidth_mbit) {
  require(cells > 0 && bandwidth_mbit > 0, "estimate_ckks_cost: cells and bandwidth must be > 0");
  const std::size_t n = s.params.n(), top = s.params.max_level();
  const bool latency = plan.layout == Layout::kLatency;
  // Ciphertexts sent and received, and how many times the server runs the plan.
  const double runs = latency ? double(plan.slots.ciphertexts_for(cells)) : double(wire_batches(cells, n / 2));
  const double sent = latency ? runs : runs * double(plan.input_size());
  const double received = latency ? runs : runs * double(plan.output_size());
  CkksCostEstimate e;
  e.upload_bytes = sent * double(n * top * 8) / 2;  // seeded: the second polynomial is a seed
  const std::size_t result_level = top - ckks_rescales(plan, s.schedule);
  e.download_bytes = received * double(n * 2 * 8 * result_level);  // two polynomials at the result's level
  e.keyholder_seconds = sent * double(n * top) * kEncrypt;
  e.server_seconds = runs * server_seconds(plan, n, top, s.schedule) / 2;  // two cores
  const double transfer_s = (e.upload_bytes + e.download_bytes) * 8 / (bandwidth_mbit * 1e6);
  e.total_seconds = e.keyholder_seconds + e.server_seconds + transfer_s;
  return e;
}

nlohmann::json CkksSettings::to_json() const {
  nlohmann::json j = {{"scheme", "ckks"},
          {"layout", to_string(layout)},
          {"params", nlohmann::json::parse(params.to_json())},
          {"levels", params.max_level() - 1},
          {"scale_bits", std::log2(params.default_scale())},
          {"target_logit_error", target_error},
          {"predicted_logit_error", predicted_error},
          {"circuit_privacy", circuit_privacy ? nlohmann::json{{"enabled", true},
                                                               {"statistical_security_bits", statistical_bits},
                                                               {"flood_bits", flood_bits},
                                                               {"result_ciphertexts_per_job", privacy_ciphertexts}}
                                              : nlohmann::json{{"enabled", false}}}};
  if (!schedule.empty()) {
    nlohmann::json rescales = nlohmann::json::array(), weight_bits = nlohmann::json::array();
    for (const auto& e : schedule) {
      rescales.push_back(e.rescales);
      weight_bits.push_back(e.weight_bits);
    }
    j["schedule"] = {{"rescales", rescales}, {"weight_bits", weight_bits}};
  }
  return j;
}

namespace {

// The uniform chain with every prime on the SIMD kernels (he::kIfmaMaxModulusBits) where it puts
// q_0, and with it the special prime, above them: q_0 is cut to the kernels' size and the prime
// rescaled away just before the last linear layer (q_2) grows by the same k bits, so the last
// layer's input and the result carry the nominal scale / ~2^k and q_0 holds the logits with the same
// headroom. The special prime is the kernels' size too (>= every q_i: key-switching noise stays
// divided by about the largest digit). No more bits than the uniform chain, so the same N. The
// precision model walks the true primes (the last two rescales' rounding counts ~2^k more); the
// chooser keeps the set only where it still meets the target. Empty when nothing is to gain or the
// enlarged q_2 would itself pass the kernels' size.
std::optional<ckks::Params> simd_chain(const ckks::Params& p, int scale_bits, int first_bits) {
  const int cap = he::kIfmaMaxModulusBits, k = first_bits - cap;
  if (k <= 0 || p.max_level() < 3 || scale_bits + k > cap) return std::nullopt;
  std::vector<std::uint64_t> q = p.q(), used;
  for (std::size_t i = 1; i < q.size(); ++i)
    if (i != 2) used.push_back(q[i]);
  auto largest_free_below = [&](int bits) {
    for (auto c : he::ntt_primes_below(bits, p.log_n(), used.size() + 1))
      if (std::find(used.begin(), used.end(), c) == used.end()) {
        used.push_back(c);
        return c;
      }
    throw InvalidArgument("ckks: no free NTT-friendly prime below 2^" + std::to_string(bits));
  };
  try {
    q[2] = largest_free_below(scale_bits + k);
    q[0] = largest_free_below(cap);
    const std::uint64_t special = largest_free_below(cap);
    return ckks::Params::create_from_primes(p.n(), std::move(q), special, p.default_scale(), p.security());
  } catch (const Error&) {
    return std::nullopt;
  }
}

// The best (smallest) predicted error seen, for the refusal message.
struct BestSeen {
  double error = INFINITY;
  int scale_bits = 0;
  std::size_t n = 0;
  double unflooded = 0;
  FloodPrediction flood;
};

[[noreturn]] void refuse_target(const CkksChoiceOptions& o, std::size_t levels, std::size_t cts, const BestSeen& b) {
  std::ostringstream m;
  m << "ckks: no 128-bit parameters reach a logit error of " << o.target_error;
  if (o.circuit_privacy) m << " with circuit privacy";
  m << " for this plan (" << levels << " rescales); best predicted " << b.error << " at scale 2^" << b.scale_bits
    << ", N = " << b.n;
  if (o.circuit_privacy && b.n > 0) {
    m << ", of which the server's flood: 2^" << b.flood.bits << " per coefficient = the result's noise bound 2^"
      << std::round(b.flood.noise_log2 * 10) / 10 << " x 2^" << std::round((b.flood.bits - b.flood.noise_log2) * 10) / 10
      << " (2^-40 statistical distance over " << cts << " result ciphertexts per job)";
    if (!b.flood.fits) m << ", more than the result's modulus holds";
    m << "; the same parameters without the flood: " << b.unflooded
      << ". CKKS flooding costs ~" << int(std::round(ckks_flood_ratio_bits(b.n, cts) + std::log2(6 * std::sqrt(double(b.n)))))
      << " bits of precision (nn/ckks_circuit_privacy.h); a looser --target-error may be reached, or use "
         "--no-circuit-privacy (the key holder may then learn more about the model than the logits) or BFV";
  }
  throw SecurityError(m.str());
}

// The wide chain of circuit privacy (CkksStepScale): every prime below the SIMD kernels' size.
constexpr int kWidePrimeBits = 49;
constexpr int kWideLinearBits = 40;     // later linear layers: weights at, and rescaled by, a ~2^40 prime
constexpr int kWideMinWeightBits = 24;  // the least weight scale after the last square

// Distinct NTT-friendly primes for one ring degree.
class PrimePicker {
 public:
  explicit PrimePicker(int log_n) : m_(std::uint64_t(2) << log_n) {}
  // The free prime nearest x, or the smallest free prime >= x (at_least); below 2^50.
  std::uint64_t near(double x, bool at_least = false) {
    require(x > double(m_) && x < 0x1p50, "ckks: no NTT-friendly prime near 2^" + std::to_string(std::log2(x)));
    std::uint64_t lo = std::uint64_t((x - 1) / double(m_)), hi = lo + 1;  // candidates k m + 1
    bool lo_left = lo > 0;
    for (;;) {
      const bool take_hi = at_least || !lo_left || double(hi * m_ + 1) - x <= x - double(lo * m_ + 1);
      std::uint64_t c = 0;
      if (take_hi) {
        c = hi++ * m_ + 1;
        if (c >= (std::uint64_t(1) << 50)) throw InvalidArgument("ckks: no free NTT-friendly prime below 2^50");
      } else {
        c = lo * m_ + 1;
        lo_left = --lo > 0;
      }
      if (he::is_prime(c) && std::find(used_.begin(), used_.end(), c) == used_.end()) {
        used_.push_back(c);
        return c;
      }
    }
  }

 private:
  std::uint64_t m_;
  std::vector<std::uint64_t> used_;
};

// The wide chain at ring degree n and post-square scale 2^t_bits: input scale 2^d0 and first-layer
// weights at 2^k0 with d0 + k0 = (t + 49) / 2, so the first square's product, rescaled by one
// prime of <= 49 bits, lands at ~2^t; every later square rescaled by the primes (<= 49 bits each) whose
// product brings it back to 2^t as closely as NTT-friendly primes allow (the exact scale is
// tracked on the way); linear layers between squares at ~2^40 primes, those after the last square
// at 2^40 without a rescale (kept in q_0); q_0 of enough primes for the result's scale times the
// largest logit (head_bits) -- whether the flood also fits is predict_flood's check; the special
// prime the largest below 2^50. Empty when the set exceeds the 128-bit table at n.
// The latency layout (a CKKS latency plan): its first linear step rotates the inputs (baby steps)
// before any weight touches them, and those key switches' noise must sit 2^t below the values too,
// so the inputs come at the wide scale (d0 = t), every linear layer is rescaled by a ~2^40 prime
// (the last too: the flood, 2^55 above the result's random error, then stays within 126 bits),
// and the special prime is 59 bits (the rotations' key-switch noise divided by it).
std::optional<std::pair<ckks::Params, CkksSchedule>> wide_chain(const Plan& plan, std::size_t n, int t_bits,
                                                                 int head_bits, ckks::Security security) {
  const bool latency = plan.layout == Layout::kLatency;
  const int log_n = std::countr_zero(n);
  PrimePicker pick(log_n);
  // The first layer's output scale 2^s1 (the first square then rescales by one prime of <= 49 bits)
  // split between the input scale and the weights' so that the inputs' encryption noise (~2^11
  // over sum |w| ~ 2^4) and the weights' rounding (1/2 over sum |x| ~ 2^6) weigh about the same
  // in the precision model: d0 ~ s1/2 + 6 (C-NMC group C at s1 = 72: fixed error bound 5.5e-4 at
  // d0 = 40 and 6.1e-4 at 44, against 8e-3 at 36 and 9e-3 at 48).
  const int s1_bits = (t_bits + kWidePrimeBits) / 2, d0 = latency ? t_bits : s1_bits / 2 + 6, k0 = s1_bits - d0;
  CkksSchedule schedule(plan.steps.size(), CkksStepScale{0, 0});
  std::vector<std::uint64_t> consumed;  // in the order the rescales drop them
  double scale = std::ldexp(1.0, d0);
  std::size_t last_square = 0;
  for (std::size_t s = 0; s < plan.steps.size(); ++s)
    if (plan.steps[s].kind == OpKind::kSquare) last_square = s;
  bool first_linear = true;
  try {
    for (std::size_t s = 0; s < plan.steps.size(); ++s) {
      const auto kind = plan.steps[s].kind;
      if (kind == OpKind::kLinear && !latency && (first_linear || s > last_square)) {
        // No rescale: the first layer's products are exact; after the last square a rescale prime
        // would only move bits from q_0 (which must then hold 2^k more) to the chain. There the
        // weights take what q_0's primes leave (24..40 bits): MNIST at t = 101 gets 37 bits and
        // three q_0 primes instead of four.
        int k = k0;
        if (!first_linear) {
          const double at_least = std::log2(scale) + head_bits + 1 + kWideMinWeightBits;
          const int r = int(std::ceil(at_least / kWidePrimeBits));
          k = std::min(kWideLinearBits, int(std::floor(r * kWidePrimeBits - (at_least - kWideMinWeightBits))));
        }
        schedule[s] = {0, k};
        scale *= std::ldexp(1.0, k);
        first_linear = false;
      } else if (kind == OpKind::kLinear) {
        consumed.push_back(pick.near(std::ldexp(1.0, kWideLinearBits)));
        schedule[s] = {1, 0};
        first_linear = false;
      } else if (kind == OpKind::kSquare) {
        scale *= scale;
        const double ratio_bits = std::log2(scale) - t_bits;
        const int u = std::max(1, int(std::ceil(ratio_bits / kWidePrimeBits)));
        if (ratio_bits / u < 20) return std::nullopt;
        for (int i = 0; i < u; ++i) {
          const double want = i + 1 < u ? std::ldexp(1.0, int(std::lround(ratio_bits / u))) : scale / std::ldexp(1.0, t_bits);
          const auto p = pick.near(want);
          consumed.push_back(p);
          scale /= double(p);
        }
        schedule[s] = {u, 0};
      }
    }
    const double need = std::log2(scale) + head_bits + 1;
    const int r = std::max(1, int(std::ceil(need / kWidePrimeBits)));
    std::vector<std::uint64_t> q;
    for (int i = 0; i < r; ++i) q.push_back(pick.near(std::exp2(need / r), true));
    q.insert(q.end(), consumed.rbegin(), consumed.rend());
    // The latency layout's rotations add key-switch noise at the wide scale (baby steps before any
    // rescale): a 59-bit special prime divides it by 2^9 more, for one prime off the SIMD kernels.
    std::uint64_t special = 0;
    if (latency) {
      for (auto c : he::ntt_primes_below(59, log_n, q.size() + 1))
        if (std::find(q.begin(), q.end(), c) == q.end()) {
          special = c;
          break;
        }
    } else {
      special = pick.near(0x1p50 - double(std::uint64_t(2) << log_n) * 4096);
    }
    return std::make_pair(ckks::Params::create_from_primes(n, std::move(q), special, std::ldexp(1.0, d0), security),
                          std::move(schedule));
  } catch (const SecurityError&) {
    return std::nullopt;
  } catch (const InvalidArgument&) {
    return std::nullopt;
  }
}

// choose_ckks_settings with circuit privacy: the wide chain with the smallest N, then the smallest
// wide scale 2^t, whose flooded result meets the target and fits q_0.
CkksSettings choose_private(const Plan& plan, const std::vector<double>& mag, const CkksChoiceOptions& o, int head) {
  BestSeen seen;
  std::size_t cts = 0;
  const auto security = o.insecure_for_tests ? ckks::Security::kInsecureForTests : ckks::Security::k128;
  const bool latency = plan.layout == Layout::kLatency;
  const std::size_t min_n = std::max<std::size_t>(latency ? std::max(o.min_n, 2 * plan.slots.block) : o.min_n, 1024);
  for (std::size_t n = min_n; n <= 32768; n *= 2) {
    for (int t = 50; t <= 160; ++t) {
      auto chain = wide_chain(plan, n, t, head, security);
      if (!chain) {
        if (t > 50) break;  // a larger t needs more bits still
        continue;
      }
      const auto& p = chain->first;
      const auto est = walk_plan(plan, p, mag, 6.0, chain->second);
      cts = ckks_result_ciphertexts_per_job(plan, p.slots(), o.caps);
      const auto flood = predict_flood(plan, p, mag, est.back(), cts, chain->second);
      CkksSettings c;
      c.params = p;
      c.schedule = chain->second;
      c.layout = latency ? Layout::kLatency : Layout::kThroughput;
      c.target_error = o.target_error;
      c.predicted_error = flood.error;
      for (const auto& e : est) c.step_error.push_back(e.slot_error(p.n()));
      c.circuit_privacy = true;
      c.flood_bits = flood.bits;
      c.privacy_ciphertexts = cts;
      c.statistical_bits = kCircuitPrivacyStatisticalBits;
      if (c.predicted_error < seen.error) seen = {c.predicted_error, t, n, est.back().slot_error(p.n()), flood};
      if (flood.fits && c.predicted_error <= o.target_error) return c;
    }
    if (o.insecure_for_tests) break;
  }
  refuse_target(o, ckks_levels(plan), cts, seen);
}

}  // namespace

CkksSettings choose_ckks_settings(const Plan& plan, const std::vector<double>& magnitudes,
                                  const CkksChoiceOptions& o) {
  require(o.target_error > 0 && std::isfinite(o.target_error), "ckks: target logit error must be > 0");
  require(o.margin >= 1, "ckks: magnitude margin must be >= 1");
  require(o.min_scale_bits >= 20 && o.max_scale_bits <= 55 && o.min_scale_bits <= o.max_scale_bits,
          "ckks: scale bits must lie in 20..55");
  require(magnitudes.size() == plan.steps.size(), "ckks: one magnitude per plan step");
  std::vector<double> mag = magnitudes;
  for (auto& m : mag) m *= o.margin;
  const std::size_t levels = ckks_levels(plan);
  const bool latency = plan.layout == Layout::kLatency;
  require(!latency || plan.slots.scheme() == SlotScheme::kCkks, "ckks: the plan is in BFV's latency layout");
  // The latency layout needs N/2 >= the block of a cell.
  const std::size_t min_n = latency ? std::max(o.min_n, 2 * plan.slots.block) : o.min_n;
  const int special = o.special_bits > 0 ? o.special_bits : (latency ? 59 : 0);
  const int head = headroom_bits(mag.back());
  if (o.circuit_privacy) return choose_private(plan, mag, o, head);
  std::optional<CkksSettings> best, best_simd;
  int best_simd_count = 1 << 20;
  BestSeen seen;
  std::size_t cts = 0;
  for (int bits = o.min_scale_bits; bits <= o.max_scale_bits; ++bits) {
    const int first = std::min(60, bits + head);
    ckks::Params uniform = ckks::Params::default_for(8192);
    try {
      const int special_bits = special > 0 ? special : std::min(59, std::max(first, bits + 1));
      uniform = o.insecure_for_tests
                    ? ckks::Params::create(min_n, first, levels, bits, special_bits, ckks::Security::kInsecureForTests)
                    : ckks::Params::smallest_secure(levels, bits, first, min_n, special);
    } catch (const SecurityError&) {
      break;  // larger scales need even more bits
    }
    if (best && uniform.n() > best->params.n()) break;  // the chosen N is full
    // The all-SIMD variant first (throughput: the latency layout keeps its large special prime).
    std::vector<ckks::Params> sets;
    if (special == 0)
      if (auto simd = simd_chain(uniform, bits, first)) sets.push_back(*simd);
    sets.push_back(uniform);
    for (const auto& p : sets) {
      const auto est = walk_plan(plan, p, mag, 6.0, {});
      CkksSettings candidate;
      candidate.params = p;
      candidate.layout = latency ? Layout::kLatency : Layout::kThroughput;
      candidate.target_error = o.target_error;
      candidate.predicted_error = est.back().slot_error(p.n());
      for (const auto& e : est) candidate.step_error.push_back(e.slot_error(p.n()));
      FloodPrediction flood;
      if (o.circuit_privacy) {
        cts = ckks_result_ciphertexts_per_job(plan, p.slots(), o.caps);
        flood = predict_flood(plan, p, mag, est.back(), cts, {});
        candidate.predicted_error = flood.error;
        candidate.circuit_privacy = true;
        candidate.flood_bits = flood.bits;
        candidate.privacy_ciphertexts = cts;
        candidate.statistical_bits = kCircuitPrivacyStatisticalBits;
      }
      const bool usable = !o.circuit_privacy || flood.fits;
      if (candidate.predicted_error < seen.error) seen = {candidate.predicted_error, bits, p.n(), est.back().slot_error(p.n()), flood};
      if (usable && candidate.predicted_error <= o.target_error) {
        best = candidate;
        if (scalar_primes(p) <= best_simd_count) {
          best_simd = best;
          best_simd_count = scalar_primes(p);
        }
        break;  // this scale's first set that meets the target
      }
    }
  }
  if (!best) refuse_target(o, levels, cts, seen);
  // Among the scales that meet the target at this N, the largest with the fewest primes beyond the
  // SIMD kernels: a bit of (unneeded) precision margin for several times the speed.
  if (best_simd && best_simd->params.n() == best->params.n()) return *best_simd;
  return *best;
}

namespace {

// "circuit_privacy" of CkksSettings::to_json (absent or disabled: off). A document whose flood
// cannot be applied (bits outside [1, kMaxFloodBits], no job size) is malformed.
void read_circuit_privacy(const nlohmann::json& s, const std::string& what, CkksSettings& out) {
  if (!s.contains("circuit_privacy")) return;
  const auto& c = s.at("circuit_privacy");
  if (!c.value("enabled", false)) return;
  out.circuit_privacy = true;
  out.flood_bits = c.at("flood_bits").get<int>();
  out.privacy_ciphertexts = c.at("result_ciphertexts_per_job").get<std::size_t>();
  out.statistical_bits = c.value("statistical_security_bits", 0);  // not checkable here: reported as stated
  if (out.flood_bits < 1 || out.flood_bits > kMaxFloodBits || out.privacy_ciphertexts == 0)
    throw FormatError(what + ": CKKS circuit privacy: flood bits " + std::to_string(out.flood_bits) +
                      " or result ciphertexts per job " + std::to_string(out.privacy_ciphertexts) + " out of range");
}

// "schedule" of CkksSettings::to_json (absent: the default). Entries are checked against the plan
// where the plan is known (ckks_rescales); here their ranges and that q holds the rescales.
void read_schedule(const nlohmann::json& s, const std::string& what, CkksSettings& out) {
  if (!s.contains("schedule")) return;
  const auto r = s.at("schedule").at("rescales").get<std::vector<int>>();
  const auto w = s.at("schedule").at("weight_bits").get<std::vector<int>>();
  if (r.empty() || r.size() != w.size() || r.size() > 4096)
    throw FormatError(what + ": CKKS scale schedule: " + std::to_string(r.size()) + " rescale and " +
                      std::to_string(w.size()) + " weight entries");
  std::size_t primes = 0;
  for (std::size_t i = 0; i < r.size(); ++i) {
    if (r[i] < 0 || r[i] > 8 || w[i] < 0 || w[i] > 60)
      throw FormatError(what + ": CKKS scale schedule entry " + std::to_string(i) + " out of range");
    primes += std::size_t(r[i]);
    out.schedule.push_back({r[i], w[i]});
  }
  if (primes + 1 > out.params.max_level())
    throw FormatError(what + ": CKKS scale schedule rescales " + std::to_string(primes) + " times, the parameters have " +
                      std::to_string(out.params.max_level()) + " primes");
}

bool is_ckks_settings(const nlohmann::json& s) {
  return s.is_object() && s.value("scheme", "") == "ckks" && s.contains("params") && s["params"].is_object() &&
         s["params"].contains("q");
}

// The CkksSettings object inside a document, or null.
const nlohmann::json* find_ckks_settings(const nlohmann::json& j) {
  if (!j.is_object()) return nullptr;
  if (is_ckks_settings(j)) return &j;
  for (const char* key : {"ckks", "settings", "params"})
    if (j.contains(key) && is_ckks_settings(j[key])) return &j[key];
  return nullptr;
}

}  // namespace

bool is_ckks_document(const nlohmann::json& j) {
  return find_ckks_settings(j) != nullptr || (j.is_object() && j.value("scheme", "") == "ckks");
}

CkksSettings ckks_settings_from_json(const nlohmann::json& j, const std::string& what, bool allow_insecure_for_tests) {
  const auto* s = find_ckks_settings(j);
  if (!s) throw FormatError(what + ": holds no CKKS parameters (expected `leukocrypt params --scheme ckks` output or a CKKS model card)");
  const auto& p = (*s)["params"];
  CkksSettings out;
  try {
    const auto n = p.at("n").get<std::size_t>();
    auto q = p.at("q").get<std::vector<std::uint64_t>>();
    const auto special = p.at("special_prime").get<std::uint64_t>();
    const auto scale = p.at("default_scale").get<double>();
    if (n < 1024 || n > 65536 || q.empty() || q.size() > 64)
      throw FormatError(what + ": CKKS parameters: N = " + std::to_string(n) + " or " + std::to_string(q.size()) +
                        " primes out of range");
    const bool insecure = p.value("security", "128") != "128";
    if (insecure && !allow_insecure_for_tests)
      throw SecurityError(what + ": CKKS parameters are marked insecure-for-tests (below 128-bit security); refused "
                               "without --insecure-for-tests");
    out.params = ckks::Params::create_from_primes(n, std::move(q), special, scale,
                                                  insecure ? ckks::Security::kInsecureForTests : ckks::Security::k128);
    out.target_error = s->value("target_logit_error", 0.0);
    const auto layout = s->value("layout", std::string("throughput"));  // absent: made before the latency layout
    out.layout = layout_from_string(layout);
    out.predicted_error = s->value("predicted_logit_error", 0.0);
    read_circuit_privacy(*s, what, out);
    read_schedule(*s, what, out);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(what + ": malformed CKKS parameters (" + e.what() + ")");
  } catch (const InvalidArgument& e) {
    throw FormatError(what + ": invalid CKKS parameters: " + e.what());
  }
  if (p.contains("id") && p["id"].is_string()) {
    char buf[17];
    std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(out.params.id()));
    if (p["id"].get<std::string>() != buf)
      throw FormatError(what + ": CKKS params id " + p["id"].get<std::string>() + " does not match its primes (" + buf + ")");
  }
  return out;
}

}  // namespace leukocrypt::nn
