// Server-side plan execution on BFV ciphertexts: resident (step by step) and streaming (per prime).
#include "nn/bfv_evaluator.h"

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <tuple>
#include <utility>

#include "common/env.h"
#include "common/error.h"
#include "common/thread_pool.h"
#include "common/timer.h"
#include "he/bfv/serialization.h"
#include "he/kernels/eltwise.h"
#include "nn/crt.h"

namespace leukocrypt::nn {

std::size_t EncryptedBatch::download_bytes() const {
  std::size_t total = 0;
  for (const auto& v : values)
    if (!v.empty()) total += bfv::save(v[0]).size() * v.size();  // same level and size throughout
  return total;
}

namespace {

double cpu_clock(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}
double thread_cpu() { return cpu_clock(CLOCK_THREAD_CPUTIME_ID); }
double process_cpu() { return cpu_clock(CLOCK_PROCESS_CPUTIME_ID); }

// Wall and CPU time of one piece of work on the current thread.
struct ThreadTimer {
  Timer wall;
  double cpu0 = thread_cpu();
  void reset() {
    wall.reset();
    cpu0 = thread_cpu();
  }
  double cpu() const { return thread_cpu() - cpu0; }
};

}  // namespace

// Per-step seconds added from several threads.
class BfvPlanEvaluator::StepClock {
 public:
  explicit StepClock(std::size_t steps) : seconds_(steps, 0.0), cpu_(steps, 0.0) {}
  void add(std::size_t step, const ThreadTimer& t) {
    const double w = t.wall.seconds(), c = t.cpu();
    std::lock_guard<std::mutex> lk(mu_);
    seconds_[step] += w;
    cpu_[step] += c;
  }
  void add_source(const ThreadTimer& t) {
    const double w = t.wall.seconds(), c = t.cpu();
    std::lock_guard<std::mutex> lk(mu_);
    source_ += w;
    source_cpu_ += c;
  }
  std::vector<double> seconds_, cpu_;
  double source_ = 0, source_cpu_ = 0;
  std::size_t max_resident_ = 0;

 private:
  std::mutex mu_;
};

namespace {

// Outputs are computed in groups of kGroup that share one pass over their inputs: for every block
// of kBlock coefficients, each input block is read once and folded into every accumulator of the
// group that uses it (G x 2 KiB accumulators stay in L1/L2). Without grouping, a dense layer
// re-reads every input ciphertext once per output and is memory-bound.
constexpr std::size_t kBlock = 256;
constexpr std::size_t kGroup = 16;
// Stream groups per task when the next linear layer is folded in: the task folds their outputs
// together, so each pass over the accumulator set (the whole next layer) serves kFoldGroups * kGroup
// inputs.
constexpr std::size_t kFoldGroups = 4;

// Centred representative of w mod t (|w| < t/2 for every quantised weight, but be exact anyway),
// then its residue mod q: the same scalar the Evaluator's multiply_scalar_add_inplace uses.
std::int64_t centred_mod(std::int64_t w, std::uint64_t t) {
  const Int128 tt = Int128(t);
  Int128 r = Int128(w) % tt;
  if (r < 0) r += tt;
  if (r > tt / 2) r -= tt;
  return std::int64_t(r);
}

std::uint64_t weight_mod_q(std::int64_t w, std::uint64_t t, std::uint64_t q) {
  Int128 m = Int128(centred_mod(w, t)) % Int128(q);
  if (m < 0) m += q;
  return std::uint64_t(m);
}

bool lazy_mac_disabled() { return env_off("LEUKOCRYPT_LAZY_MAC"); }

}  // namespace

BfvPlanEvaluator::BfvPlanEvaluator(const Plan& plan, BfvSettings settings, std::vector<bfv::ContextPtr> contexts,
                                   std::vector<bfv::RelinKeys> relin_keys, std::vector<bfv::GaloisKeys> galois_keys)
    : blocked_(needs_blocking(plan, settings) ? plan_for(plan, settings) : Plan{}),
      plan_(needs_blocking(plan, settings) ? blocked_ : plan),
      settings_(std::move(settings)),
      galois_keys_(std::move(galois_keys)),
      contexts_(std::move(contexts)),
      relin_keys_(std::move(relin_keys)) {
  settings_.validate();
  require(plan_.layout == Layout::kThroughput && plan_.blocks.count == settings_.blocks,
          "BfvPlanEvaluator: the plan's layout or blocks differ from the settings'");
  if (!plan_.blocks.empty()) {
    require(galois_keys_.size() == settings_.plain_primes.size(),
            "BfvPlanEvaluator: " + std::to_string(settings_.blocks) + " blocks need Galois keys for every plaintext prime");
    for (std::size_t j = 0; j < galois_keys_.size(); ++j)
      for (auto g : block_sum_galois_elts(plan_.blocks))
        require(galois_keys_[j].has(g), "BfvPlanEvaluator: the Galois keys of plaintext prime " + std::to_string(j) +
                                            " lack element " + std::to_string(g) + " of the block sum");
  }
  const std::size_t k = settings_.plain_primes.size();
  require(contexts_.size() == k, "BfvPlanEvaluator: " + std::to_string(contexts_.size()) + " contexts for " +
                                     std::to_string(k) + " plaintext primes");
  require(relin_keys_.size() == k, "BfvPlanEvaluator: " + std::to_string(relin_keys_.size()) +
                                       " relinearisation keys for " + std::to_string(k) + " plaintext primes");
  for (std::size_t j = 0; j < k; ++j) {
    require(contexts_[j] && contexts_[j]->params().t() == settings_.plain_primes[j] &&
                contexts_[j]->n() == settings_.n,
            "BfvPlanEvaluator: context " + std::to_string(j) + " does not match the settings (N, t)");
    require(relin_keys_[j].params_id() == contexts_[j]->params_id(),
            "BfvPlanEvaluator: relinearisation key " + std::to_string(j) + " is for other parameters");
    evaluators_.emplace_back(contexts_[j]);
  }
  bias_mod_.resize(plan_.steps.size());
  lazy_.resize(plan_.steps.size());
  switch_level_.assign(plan_.steps.size(), 0);
  skip_relin_.assign(plan_.steps.size(), false);
  const auto deferral = relin_deferral_targets(plan_);
  std::size_t ms = 0;
  for (std::size_t s = 0; s < plan_.steps.size(); ++s) {
    const auto& st = plan_.steps[s];
    if (st.kind == OpKind::kLinear) {
      bias_mod_[s].resize(k);
      for (std::size_t j = 0; j < k; ++j) {
        const auto t = settings_.plain_primes[j];
        for (auto b : st.linear.bias) {
          std::uint64_t r = Crt::reduce(b, t);
          bias_mod_[s][j].push_back(r > t / 2 ? -std::int64_t(t - r) : std::int64_t(r));
        }
      }
      lazy_[s] = lazy_rows_of(st.linear);
    } else if (st.kind == OpKind::kModSwitch) {
      switch_level_[s] = ms < settings_.mod_switch_levels.size() ? settings_.mod_switch_levels[ms] : 0;
      ++ms;
    } else if (st.kind == OpKind::kRelinearize) {
      skip_relin_[s] = settings_.defer_relin && deferral[s] != 0;
    }
  }
  // Streaming layout of the first linear layer: outputs ordered by the last input they read, so a
  // convolution over CHW inputs proceeds row by row and inputs above the current rows are dropped.
  if (plan_.steps.size() > 1 && plan_.steps[1].kind == OpKind::kLinear) {
    const auto& l = plan_.steps[1].linear;
    stream_.step = 1;
    stream_.segment_end = 2;
    while (stream_.segment_end < plan_.steps.size() && plan_.steps[stream_.segment_end].kind != OpKind::kLinear &&
           plan_.steps[stream_.segment_end].kind != OpKind::kDecrypt)
      ++stream_.segment_end;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> key;  // (last input read, output)
    for (std::size_t o = 0; o < std::size_t(l.n_out); ++o) {
      std::uint32_t last = 0;
      for (auto tap = l.row_start[o]; tap < l.row_start[o + 1]; ++tap) last = std::max(last, l.index[tap]);
      key.emplace_back(last, std::uint32_t(o));
    }
    std::sort(key.begin(), key.end());
    stream_.uses.assign(plan_.input_size(), 0);
    for (std::size_t g0 = 0; g0 < key.size(); g0 += kGroup) {
      std::vector<std::uint32_t> outs;
      for (std::size_t i = g0; i < std::min(key.size(), g0 + kGroup); ++i) outs.push_back(key[i].second);
      stream_.groups.push_back(group_taps(l, std::move(outs)));
      for (auto u : stream_.groups.back().inputs) ++stream_.uses[u];
    }
    plan_fold();
  }
}

void BfvPlanEvaluator::plan_fold() {
  const std::size_t s2 = stream_.segment_end;
  if (s2 >= plan_.steps.size() || plan_.steps[s2].kind != OpKind::kLinear || env_off("LEUKOCRYPT_FOLD")) return;
  const auto& l2 = plan_.steps[s2].linear;
  require(l2.n_in == plan_.steps[stream_.step].linear.n_out,
          "plan: step " + std::to_string(s2) + " reads " + std::to_string(l2.n_in) + " values, the streamed layer makes " +
              std::to_string(plan_.steps[stream_.step].linear.n_out));
  std::vector<std::uint32_t> all(std::size_t(l2.n_out));
  for (std::size_t o = 0; o < all.size(); ++o) all[o] = std::uint32_t(o);
  std::vector<std::uint8_t> keep(std::size_t(l2.n_in), 0);
  for (std::size_t g0 = 0; g0 < stream_.groups.size(); g0 += kFoldGroups) {
    std::vector<std::uint32_t> made;  // the task's first-layer outputs, in the order it makes them
    for (std::size_t g = g0; g < std::min(stream_.groups.size(), g0 + kFoldGroups); ++g)
      made.insert(made.end(), stream_.groups[g].outputs.begin(), stream_.groups[g].outputs.end());
    for (auto o : made) keep[o] = 1;
    FoldTask f{group_taps(l2, all, &keep), {}};
    for (auto o : made) keep[o] = 0;
    for (auto u : f.taps.inputs)
      f.made_index.push_back(std::uint32_t(std::find(made.begin(), made.end(), u) - made.begin()));
    stream_.fold.push_back(std::move(f));
  }
  stream_.fold_step = s2;
}

std::vector<BfvPlanEvaluator::LazyRows> BfvPlanEvaluator::lazy_rows_of(const LinearOp& l) const {
  const bool off = lazy_mac_disabled();
  std::vector<LazyRows> out(contexts_.size());
  for (std::size_t j = 0; j < contexts_.size(); ++j) {
    // Every ciphertext prime an input may be at: the bound holds for all of them if for the largest.
    std::uint64_t q_max = 0;
    for (std::size_t i = 0; i < settings_.levels(); ++i) q_max = std::max(q_max, contexts_[j]->modulus(i).value());
    const he::Modulus q(q_max);
    LazyRows& r = out[j];
    r.weight.resize(l.weight.size());
    for (std::size_t tap = 0; tap < l.weight.size(); ++tap) r.weight[tap] = centred_mod(l.weight[tap], settings_.plain_primes[j]);
    r.lazy.assign(std::size_t(l.n_out), 0);
    for (std::size_t o = 0; o < std::size_t(l.n_out) && !off; ++o) {
      const auto b = l.row_start[o], e = l.row_start[o + 1];
      r.lazy[o] = he::lazy_mac_fits(r.weight.data() + b, e - b, q) ? 1 : 0;
      r.count += r.lazy[o];
    }
  }
  return out;
}

std::size_t BfvPlanEvaluator::lazy_rows(std::size_t step, std::size_t prime) const {
  require(step < lazy_.size() && prime < contexts_.size(),
          "lazy_rows: step " + std::to_string(step) + " or plaintext prime " + std::to_string(prime) + " out of range");
  return lazy_[step].empty() ? 0 : lazy_[step][prime].count;
}

void BfvPlanEvaluator::check_batch(const EncryptedBatch& batch) const {
  require(batch.primes() == contexts_.size(), "encrypted batch has " + std::to_string(batch.primes()) +
                                                  " plaintext primes, expected " + std::to_string(contexts_.size()));
  require(batch.images >= 1 && batch.images <= settings_.cells_per_batch(),
          "encrypted batch holds " + std::to_string(batch.images) + " images; must be 1.." +
              std::to_string(settings_.cells_per_batch()));
  for (std::size_t j = 0; j < batch.primes(); ++j) {
    require(batch.values[j].size() == plan_.input_size(),
            "encrypted batch has " + std::to_string(batch.values[j].size()) + " ciphertexts for prime " +
                std::to_string(j) + ", the model takes " + std::to_string(plan_.input_size()));
    for (const auto& ct : batch.values[j])
      require(ct.params_id() == contexts_[j]->params_id() && ct.size() == 2,
              "encrypted batch: a ciphertext for prime " + std::to_string(j) + " has other parameters or size");
  }
}

BfvPlanEvaluator::GroupTaps BfvPlanEvaluator::group_taps(const LinearOp& l, std::vector<std::uint32_t> outputs,
                                                         const std::vector<std::uint8_t>* keep_input) {
  std::vector<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>> all;  // (input, g, tap)
  for (std::size_t g = 0; g < outputs.size(); ++g) {
    const auto o = outputs[g];
    for (auto tap = l.row_start[o]; tap < l.row_start[o + 1]; ++tap)
      if (!keep_input || (*keep_input)[l.index[tap]]) all.emplace_back(l.index[tap], std::uint32_t(g), tap);
  }
  std::sort(all.begin(), all.end());
  GroupTaps g;
  g.outputs = std::move(outputs);
  for (std::size_t k = 0; k < all.size(); ++k) {
    if (k == 0 || std::get<0>(all[k]) != std::get<0>(all[k - 1])) {
      g.inputs.push_back(std::get<0>(all[k]));
      g.entry_start.push_back(std::uint32_t(g.entries.size()));
    }
    g.entries.emplace_back(std::get<1>(all[k]), std::get<2>(all[k]));
  }
  g.entry_start.push_back(std::uint32_t(g.entries.size()));
  return g;
}

// Shoup operands of every tap for ciphertext primes 0..levels-1: [tap * levels + i].
std::vector<he::ShoupOperand> BfvPlanEvaluator::shoup_operands(const LinearOp& l, std::size_t j, std::size_t levels) const {
  const auto& ctx = *contexts_[j];
  std::vector<he::ShoupOperand> shoup(l.weight.size() * levels);
  for (std::size_t tap = 0; tap < l.weight.size(); ++tap)
    for (std::size_t i = 0; i < levels; ++i) {
      const std::uint64_t q = ctx.modulus(i).value();
      shoup[tap * levels + i] = he::make_shoup(weight_mod_q(l.weight[tap], settings_.plain_primes[j], q), q);
    }
  return shoup;
}

void BfvPlanEvaluator::accumulate_prime(std::size_t s, std::size_t j, std::size_t i, const GroupTaps& taps,
                                        const std::vector<const bfv::Ciphertext*>& in,
                                        const std::vector<he::ShoupOperand>& shoup, std::size_t shoup_levels,
                                        const std::vector<bfv::Ciphertext*>& acc, bool reduce_lazy) const {
  const he::Modulus& q = contexts_[j]->modulus(i);
  const std::size_t n = settings_.n, size = acc.empty() ? 0 : acc[0]->size();
  // Lazy rows add unreduced 64-bit sums (their bound was checked at construction for every q_i of
  // this prime, accumulators starting below q) and are reduced once per block; the rest reduce
  // every term.
  const LazyRows& lz = lazy_[s][j];
  std::vector<std::uint8_t> lazy(taps.outputs.size());
  bool any_lazy = false;
  for (std::size_t g = 0; g < lazy.size(); ++g) any_lazy |= (lazy[g] = lz.lazy[taps.outputs[g]]) != 0;
  for (std::size_t poly = 0; poly < size; ++poly)
    for (std::size_t c0 = 0; c0 < n; c0 += kBlock) {
      const std::size_t len = std::min(kBlock, n - c0);
      for (std::size_t u = 0; u < taps.inputs.size(); ++u) {
        const std::uint64_t* x = in[u]->data(poly, i) + c0;
        for (auto e = taps.entry_start[u]; e < taps.entry_start[u + 1]; ++e) {
          const auto [go, tap] = taps.entries[e];
          std::uint64_t* a = acc[go]->data(poly, i) + c0;
          if (lazy[go])
            he::eltwise_mac_small(a, x, lz.weight[tap], len, q);
          else
            he::eltwise_fma_scalar_mod(a, x, shoup[std::size_t(tap) * shoup_levels + i], len, q);
        }
      }
      if (!any_lazy || !reduce_lazy) continue;
      for (std::size_t g = 0; g < lazy.size(); ++g)
        if (lazy[g]) {
          std::uint64_t* a = acc[g]->data(poly, i) + c0;
          he::eltwise_reduce_mod(a, a, len, q);
        }
    }
}

void BfvPlanEvaluator::finish_output(std::size_t s, std::size_t j, std::uint32_t o, bfv::Ciphertext& ct) const {
  evaluators_[j].add_scalar_inplace(ct, bias_mod_[s][j][o]);
  // Only a deferred relinearisation leaves size-3 inputs here: relinearise the few outputs.
  if (ct.size() == 3) evaluators_[j].relinearize_inplace(ct, relin_keys_[j]);
}

std::vector<bfv::Ciphertext> BfvPlanEvaluator::linear_group(std::size_t s, std::size_t j, const GroupTaps& taps,
                                                            const std::vector<const bfv::Ciphertext*>& in,
                                                            const std::vector<he::ShoupOperand>& shoup,
                                                            std::size_t shoup_levels) const {
  const auto& ctx = *contexts_[j];
  const std::size_t level = in.empty() ? settings_.levels() : in[0]->level();
  const std::size_t size = in.empty() ? 2 : in[0]->size();
  std::vector<bfv::Ciphertext> acc;
  acc.reserve(taps.outputs.size());
  for (std::size_t g = 0; g < taps.outputs.size(); ++g) acc.emplace_back(ctx.params_id(), settings_.n, level, size);  // noiseless 0
  std::vector<bfv::Ciphertext*> ptrs;
  for (auto& a : acc) ptrs.push_back(&a);
  for (std::size_t i = 0; i < level; ++i) accumulate_prime(s, j, i, taps, in, shoup, shoup_levels, ptrs);
  for (std::size_t g = 0; g < acc.size(); ++g) finish_output(s, j, taps.outputs[g], acc[g]);
  return acc;
}

void BfvPlanEvaluator::run_linear(std::size_t s, std::size_t prime0, std::vector<std::vector<bfv::Ciphertext>>& values) const {
  const auto& l = plan_.steps[s].linear;
  const std::size_t k = values.size(), n_out = std::size_t(l.n_out);
  const std::size_t level = values[0][0].level(), size = values[0][0].size();
  for (std::size_t jj = 0; jj < k; ++jj)
    for (const auto& ct : values[jj])
      require(ct.level() == level && ct.size() == size, "linear step: inputs at different levels or sizes");
  std::vector<std::vector<he::ShoupOperand>> shoup(k);
  ThreadPool::global().parallel_for(0, k, [&](std::size_t jj) { shoup[jj] = shoup_operands(l, prime0 + jj, level); });
  const std::size_t groups = (n_out + kGroup - 1) / kGroup;
  std::vector<GroupTaps> gt(groups);
  ThreadPool::global().parallel_for(0, groups, [&](std::size_t g) {
    std::vector<std::uint32_t> outs;
    for (std::size_t o = g * kGroup; o < std::min(n_out, (g + 1) * kGroup); ++o) outs.push_back(std::uint32_t(o));
    gt[g] = group_taps(l, std::move(outs));
  });
  std::vector<std::vector<bfv::Ciphertext>> out(k, std::vector<bfv::Ciphertext>(n_out));
  auto inputs_of = [&](std::size_t jj, std::size_t g) {
    std::vector<const bfv::Ciphertext*> in;
    for (auto u : gt[g].inputs) in.push_back(&values[jj][u]);
    return in;
  };
  if (k * groups >= 4 * ThreadPool::global().size()) {
    ThreadPool::global().parallel_for(0, k * groups, [&](std::size_t idx) {
      const std::size_t jj = idx / groups, g = idx % groups;
      auto acc = linear_group(s, prime0 + jj, gt[g], inputs_of(jj, g), shoup[jj], level);
      for (std::size_t o = 0; o < acc.size(); ++o) out[jj][gt[g].outputs[o]] = std::move(acc[o]);
    });
  } else {
    // Few output groups (a small dense layer): split the work by ciphertext prime as well so every
    // thread stays busy (tasks write disjoint rows), then add biases and relinearise per output.
    for (std::size_t jj = 0; jj < k; ++jj)
      for (std::size_t o = 0; o < n_out; ++o)
        out[jj][o] = bfv::Ciphertext(contexts_[prime0 + jj]->params_id(), settings_.n, level, size);
    ThreadPool::global().parallel_for(0, k * groups * level, [&](std::size_t idx) {
      const std::size_t i = idx % level, g = (idx / level) % groups, jj = idx / (level * groups);
      std::vector<bfv::Ciphertext*> acc;
      for (auto o : gt[g].outputs) acc.push_back(&out[jj][o]);
      accumulate_prime(s, prime0 + jj, i, gt[g], inputs_of(jj, g), shoup[jj], level, acc);
    });
    ThreadPool::global().parallel_for(0, k * n_out, [&](std::size_t idx) {
      finish_output(s, prime0 + idx / n_out, std::uint32_t(idx % n_out), out[idx / n_out][idx % n_out]);
    });
  }
  values = std::move(out);
}

void BfvPlanEvaluator::run_unary(std::size_t s, std::size_t j, bfv::Ciphertext& ct) const {
  switch (plan_.steps[s].kind) {
    case OpKind::kSquare:
      ct = evaluators_[j].square(ct);
      break;
    case OpKind::kRelinearize:
      if (!skip_relin_[s]) evaluators_[j].relinearize_inplace(ct, relin_keys_[j]);
      break;
    case OpKind::kModSwitch:
      if (switch_level_[s] != 0 && ct.level() > switch_level_[s]) evaluators_[j].mod_switch_to_inplace(ct, switch_level_[s]);
      break;
    default:
      break;
  }
}

void BfvPlanEvaluator::run_block_sum(std::size_t s, std::size_t prime0,
                                     std::vector<std::vector<bfv::Ciphertext>>& values) const {
  const BlockLayout& bl = plan_.blocks;
  const std::size_t B = bl.count, row0 = std::min(B, bl.per_row), n_out = std::size_t(plan_.steps[s].size);
  for (const auto& v : values)
    require(v.size() == n_out * B, "block sum: " + std::to_string(v.size()) + " inputs, expected " + std::to_string(n_out * B));
  std::vector<std::vector<bfv::Ciphertext>> out(values.size(), std::vector<bfv::Ciphertext>(n_out));
  ThreadPool::global().parallel_for(0, values.size() * n_out, [&](std::size_t idx) {
    const std::size_t jj = idx / n_out, o = idx % n_out, j = prime0 + jj;
    auto& in = values[jj];
    const auto& ev = evaluators_[j];
    const auto& gk = galois_keys_[j];
    // Blocks [b0, b1) of one slot row, rotated to the row's offset 0 and added.
    auto row = [&](std::size_t b0, std::size_t b1) {
      bfv::Ciphertext acc = std::move(in[o * B + b0]);
      for (std::size_t b = b0 + 1; b < b1; ++b)
        ev.add_inplace(acc, ev.apply_galois(in[o * B + b], bfv::galois_elt_for_step(int((b - b0) * bl.slots), settings_.n), gk));
      return acc;
    };
    bfv::Ciphertext acc = row(0, row0);
    if (B > row0) ev.add_inplace(acc, ev.apply_galois(row(row0, B), bfv::galois_elt_for_columns(settings_.n), gk));
    out[jj][o] = std::move(acc);
  });
  values = std::move(out);
}

void BfvPlanEvaluator::run_steps(std::size_t from, std::size_t prime0, std::vector<std::vector<bfv::Ciphertext>>& values,
                                 std::vector<double>* step_seconds,
                                 const std::function<void(std::size_t)>& after_step,
                                 std::vector<double>* step_cpu_seconds) const {
  for (std::size_t s = from; s < plan_.steps.size(); ++s) {
    const auto kind = plan_.steps[s].kind;
    if (kind == OpKind::kEncrypt || kind == OpKind::kDecrypt) continue;
    Timer t;
    const double cpu0 = step_cpu_seconds ? process_cpu() : 0.0;
    if (kind == OpKind::kLinear) {
      run_linear(s, prime0, values);
    } else if (kind == OpKind::kBlockSum) {
      run_block_sum(s, prime0, values);
    } else {
      const std::size_t k = values.size(), n = values[0].size();
      ThreadPool::global().parallel_for(0, k * n, [&](std::size_t idx) {
        run_unary(s, prime0 + idx / n, values[idx / n][idx % n]);
      });
    }
    if (step_seconds) (*step_seconds)[s] += t.seconds();
    if (step_cpu_seconds) (*step_cpu_seconds)[s] += process_cpu() - cpu0;
    if (after_step) after_step(s);
  }
}

void BfvPlanEvaluator::evaluate(EncryptedBatch& batch, std::vector<double>* step_seconds, const StepHook& hook) const {
  check_batch(batch);
  if (step_seconds) step_seconds->assign(plan_.steps.size(), 0.0);
  std::function<void(std::size_t)> after;
  if (hook) after = [&](std::size_t s) { hook(s, batch); };
  run_steps(1, 0, batch.values, step_seconds, after);
}

// ---------------------------------------------------------------- streaming

// Accumulator sets of the fold step, one per concurrently running task: a task takes a free set
// (or makes one), folds its group into it and gives it back; the sets are added up at the end.
// Sums mod q do not depend on the order, so the result equals the unfolded evaluation exactly.
class BfvPlanEvaluator::FoldAccumulators {
 public:
  using Set = std::vector<bfv::Ciphertext>;
  Set* take(const bfv::Ciphertext& like, std::size_t count) {
    std::lock_guard<std::mutex> lk(mu_);
    if (!free_.empty()) {
      Set* s = free_.back();
      free_.pop_back();
      require((*s)[0].level() == like.level() && (*s)[0].size() == like.size(),
              "fold: stream groups ended at different levels or sizes");
      return s;
    }
    sets_.push_back(std::make_unique<Set>(count, bfv::Ciphertext(like.params_id(), like.n(), like.level(), like.size())));
    return sets_.back().get();
  }
  void give(Set* s) {
    std::lock_guard<std::mutex> lk(mu_);
    free_.push_back(s);
  }
  // Every set added into the first (called once the stream is done).
  std::vector<Set*> sets() {
    std::vector<Set*> all;
    for (auto& s : sets_) all.push_back(s.get());
    return all;
  }
  Set sum(const bfv::Evaluator& ev) {
    require(!sets_.empty(), "fold: no stream group was folded");
    Set& total = *sets_[0];
    for (std::size_t t = 1; t < sets_.size(); ++t) {
      ThreadPool::global().parallel_for(0, total.size(), [&](std::size_t o) { ev.add_inplace(total[o], (*sets_[t])[o]); });
      sets_[t].reset();
    }
    return std::move(total);
  }

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<Set>> sets_;
  std::vector<Set*> free_;
};

void BfvPlanEvaluator::fold_task(std::size_t j, std::size_t task, const std::vector<bfv::Ciphertext>& made,
                                 const std::vector<he::ShoupOperand>& shoup, std::vector<bfv::Ciphertext>& into) const {
  const auto& f = stream_.fold[task];
  std::vector<const bfv::Ciphertext*> in;
  in.reserve(f.taps.inputs.size());
  for (auto pos : f.made_index) in.push_back(&made[pos]);
  std::vector<bfv::Ciphertext*> ptrs;
  for (auto& a : into) ptrs.push_back(&a);
  const std::size_t level = made[0].level();
  for (std::size_t i = 0; i < level; ++i)
    accumulate_prime(stream_.fold_step, j, i, f.taps, in, shoup, level, ptrs, /*reduce_lazy=*/false);
}

std::vector<bfv::Ciphertext> BfvPlanEvaluator::stream_first_linear(std::size_t j, const PrimeSource& source,
                                                                   StepClock& clock, const SampleHook& hook) const {
  const std::size_t s1 = stream_.step, n_in = plan_.input_size(), top = settings_.levels();
  const auto& l = plan_.steps[s1].linear;
  const auto& ctx = *contexts_[j];
  // Operands for every ciphertext prime: inputs may arrive at any level.
  ThreadTimer prep;
  const auto shoup = shoup_operands(l, j, top);
  clock.add(s1, prep);
  struct Slot {
    std::once_flag once;
    bfv::Ciphertext ct;
    std::atomic<std::uint32_t> uses{0};
  };
  std::unique_ptr<Slot[]> slots(new Slot[n_in]);
  for (std::size_t u = 0; u < n_in; ++u) slots[u].uses.store(stream_.uses[u]);
  std::atomic<std::size_t> level{0}, resident{0}, max_resident{0};
  auto fetch = [&](std::uint32_t u) -> const bfv::Ciphertext* {
    Slot& slot = slots[u];
    std::call_once(slot.once, [&] {
      ThreadTimer t;
      bfv::Ciphertext ct = source(u);
      clock.add_source(t);
      require(ct.params_id() == ctx.params_id() && ct.n() == settings_.n && ct.size() == 2 && ct.level() >= 1 &&
                  ct.level() <= top,
              "input ciphertext " + std::to_string(u) + " of plaintext prime " + std::to_string(j) +
                  " has other parameters, size or level");
      std::size_t expected = 0;
      if (!level.compare_exchange_strong(expected, ct.level()) && expected != ct.level())
        throw InvalidArgument("input ciphertexts of plaintext prime " + std::to_string(j) + " at different levels (" +
                              std::to_string(expected) + " vs " + std::to_string(ct.level()) + ")");
      slot.ct = std::move(ct);
      const std::size_t r = ++resident;
      std::size_t m = max_resident.load();
      while (r > m && !max_resident.compare_exchange_weak(m, r)) {
      }
    });
    return &slot.ct;
  };
  std::vector<bfv::Ciphertext> mid(stream_.fold_step ? 0 : std::size_t(l.n_out));
  const std::size_t s2 = stream_.fold_step, groups = stream_.groups.size();
  FoldAccumulators fold;
  std::once_flag fold_shoup_once;
  std::vector<he::ShoupOperand> fold_shoup;
  // One stream group: the first layer's outputs, through the fused steps.
  auto run_group = [&](std::size_t g) {
    const auto& taps = stream_.groups[g];
    std::vector<const bfv::Ciphertext*> in;
    in.reserve(taps.inputs.size());
    for (auto u : taps.inputs) in.push_back(fetch(u));
    ThreadTimer t;
    auto acc = linear_group(s1, j, taps, in, shoup, top);
    clock.add(s1, t);
    for (auto u : taps.inputs)
      if (slots[u].uses.fetch_sub(1) == 1) {  // last reader: drop the input
        slots[u].ct = bfv::Ciphertext();
        --resident;
      }
    if (g == 0 && hook) hook(s1, j, acc[0]);
    for (std::size_t s = s1 + 1; s < stream_.segment_end; ++s) {
      t.reset();
      for (auto& ct : acc) run_unary(s, j, ct);
      clock.add(s, t);
      if (g == 0 && hook) hook(s, j, acc[0]);
    }
    return acc;
  };
  if (s2 == 0) {
    ThreadPool::global().parallel_for(0, groups, [&](std::size_t g) {
      auto acc = run_group(g);
      for (std::size_t o = 0; o < acc.size(); ++o) mid[stream_.groups[g].outputs[o]] = std::move(acc[o]);
    });
    clock.max_resident_ = max_resident.load();
    return mid;
  }
  const auto& l2 = plan_.steps[s2].linear;
  ThreadPool::global().parallel_for(0, stream_.fold.size(), [&](std::size_t task) {
    std::vector<bfv::Ciphertext> made;
    for (std::size_t g = task * kFoldGroups; g < std::min(groups, (task + 1) * kFoldGroups); ++g)
      for (auto& ct : run_group(g)) made.push_back(std::move(ct));
    ThreadTimer t;
    std::call_once(fold_shoup_once, [&] { fold_shoup = shoup_operands(l2, j, made[0].level()); });
    auto* set = fold.take(made[0], std::size_t(l2.n_out));
    fold_task(j, task, made, fold_shoup, *set);
    fold.give(set);
    clock.add(s2, t);
  });
  clock.max_resident_ = max_resident.load();
  ThreadTimer t;
  // Lazy rows were never reduced while folding (each set holds part of a row's terms, within the
  // row's bound): reduce every set's lazy outputs, then add the sets up.
  const auto& lazy = lazy_[s2][j].lazy;
  for (auto* set : fold.sets())
    ThreadPool::global().parallel_for(0, set->size(), [&](std::size_t o) {
      if (!lazy[o]) return;
      auto& ct = (*set)[o];
      for (std::size_t poly = 0; poly < ct.size(); ++poly)
        for (std::size_t i = 0; i < ct.level(); ++i)
          he::eltwise_reduce_mod(ct.data(poly, i), ct.data(poly, i), settings_.n, contexts_[j]->modulus(i));
    });
  auto out = fold.sum(evaluators_[j]);
  ThreadPool::global().parallel_for(0, out.size(), [&](std::size_t o) { finish_output(s2, j, std::uint32_t(o), out[o]); });
  clock.add(s2, t);
  if (hook) hook(s2, j, out[0]);
  return out;
}

std::vector<bfv::Ciphertext> BfvPlanEvaluator::evaluate_prime(std::size_t j, const PrimeSource& source,
                                                              StreamStats* stats, const SampleHook& hook) const {
  require(j < contexts_.size(), "evaluate_prime: plaintext prime " + std::to_string(j) + " of " +
                                    std::to_string(contexts_.size()));
  require(bool(source), "evaluate_prime: no ciphertext source");
  Timer wall;
  StepClock clock(plan_.steps.size());
  std::vector<std::vector<bfv::Ciphertext>> values(1);
  std::size_t from = 1;
  if (stream_.step != 0) {
    values[0] = stream_first_linear(j, source, clock, hook);
    from = stream_.fold_step ? stream_.fold_step + 1 : stream_.segment_end;
  } else {  // the plan does not start with a linear layer: nothing to stream, fetch everything
    const std::size_t n_in = plan_.input_size();
    values[0].resize(n_in);
    ThreadTimer t;
    const double cpu0 = process_cpu();
    ThreadPool::global().parallel_for(0, n_in, [&](std::size_t u) { values[0][u] = source(u); });
    clock.source_ += t.wall.seconds();
    clock.source_cpu_ += process_cpu() - cpu0;
    for (const auto& ct : values[0])
      require(ct.params_id() == contexts_[j]->params_id() && ct.size() == 2 && ct.level() == values[0][0].level(),
              "input ciphertexts of plaintext prime " + std::to_string(j) + ": other parameters, size or level");
    clock.max_resident_ = n_in;
  }
  std::function<void(std::size_t)> after;
  if (hook)
    after = [&](std::size_t s) {
      const auto& v = values[0];
      const std::size_t m = std::min<std::size_t>(4, v.size());
      for (std::size_t i = 0; i < m; ++i) hook(s, j, v[i * (v.size() / m)]);
    };
  run_steps(from, j, values, &clock.seconds_, after, &clock.cpu_);
  if (stats) {
    if (stats->step_seconds.size() != plan_.steps.size()) stats->step_seconds.assign(plan_.steps.size(), 0.0);
    if (stats->step_cpu_seconds.size() != plan_.steps.size()) stats->step_cpu_seconds.assign(plan_.steps.size(), 0.0);
    for (std::size_t s = 0; s < plan_.steps.size(); ++s) {
      stats->step_seconds[s] += clock.seconds_[s];
      stats->step_cpu_seconds[s] += clock.cpu_[s];
    }
    stats->source_seconds += clock.source_;
    stats->source_cpu_seconds += clock.source_cpu_;
    stats->wall_seconds += wall.seconds();
    stats->max_resident_inputs = std::max(stats->max_resident_inputs, clock.max_resident_);
  }
  return std::move(values[0]);
}

std::vector<std::vector<bfv::Ciphertext>> BfvPlanEvaluator::evaluate(std::size_t primes, std::size_t inputs,
                                                                     const CiphertextSource& source,
                                                                     StreamStats* stats) const {
  require(primes == contexts_.size(), "evaluate: " + std::to_string(primes) + " plaintext primes, the settings have " +
                                          std::to_string(contexts_.size()));
  require(inputs == plan_.input_size(), "evaluate: " + std::to_string(inputs) + " input ciphertexts per prime, the model takes " +
                                            std::to_string(plan_.input_size()));
  require(bool(source), "evaluate: no ciphertext source");
  std::vector<std::vector<bfv::Ciphertext>> out(primes);
  for (std::size_t j = 0; j < primes; ++j)
    out[j] = evaluate_prime(j, [&](std::size_t u) { return source(j, u); }, stats);
  return out;
}

}  // namespace leukocrypt::nn
