// Lowering of a plan to the latency layout: slot positions of every value, Halevi–Shoup diagonals
// with baby-step/giant-step rotations, and Gazelle's rotate-and-sum fold for wide dense layers.
#include "nn/slot_layout.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/error.h"
#include "nn/plan.h"

namespace leukocrypt::nn {

const char* to_string(Layout layout) { return layout == Layout::kLatency ? "latency" : "throughput"; }

Layout layout_from_string(const std::string& name) {
  if (name == "throughput") return Layout::kThroughput;
  if (name == "latency") return Layout::kLatency;
  throw InvalidArgument("layout '" + name + "': expected throughput or latency");
}

std::size_t SlotLinear::rotations() const {
  std::size_t r = fold.size();
  for (int b : baby) r += b != 0;
  for (const auto& g : giants) r += g.step != 0;
  return r;
}

std::size_t SlotLinear::diagonals() const {
  std::size_t d = 0;
  for (const auto& g : giants) d += g.terms.size();
  return d;
}

std::vector<int> SlotLayout::rotation_steps() const {
  std::set<int> steps;
  for (const auto& l : linear) {
    for (int b : l.baby) steps.insert(b);
    for (const auto& g : l.giants) steps.insert(g.step);
    for (int f : l.fold) steps.insert(f);
  }
  steps.erase(0);
  return {steps.begin(), steps.end()};
}

nlohmann::json SlotLayout::to_json() const {
  nlohmann::json steps = nlohmann::json::array();
  for (std::size_t s = 0; s < linear.size(); ++s) {
    if (linear[s].out_slot.empty()) continue;
    const auto& l = linear[s];
    const auto baby = std::size_t(std::count_if(l.baby.begin(), l.baby.end(), [](int r) { return r != 0; }));
    steps.push_back({{"step", s}, {"diagonals", l.diagonals()}, {"rotations", l.rotations()},
                     {"baby", baby}, {"giant", l.rotations() - baby - l.fold.size()}, {"fold", l.fold.size()}});
  }
  return {{"n", n}, {"block", block}, {"cells_per_ciphertext", cells_per_ciphertext()},
          {"rotation_steps", rotation_steps().size()}, {"linear", steps}};
}

nlohmann::json SlotLayout::client_json() const {
  return {{"n", n},
          {"rows", rows},
          {"block", block},
          {"cells_per_ciphertext", cells_per_ciphertext()},
          {"inputs", in_slot.size()},
          {"galois_steps", rotation_steps()},
          {"out_slot", out_slot}};
}

SlotLayout SlotLayout::from_client_json(const nlohmann::json& j) {
  SlotLayout sl;
  try {
    sl.n = j.at("n").get<std::size_t>();
    sl.rows = j.value("rows", std::size_t(2));  // written before CKKS had a latency layout: BFV
    sl.block = j.at("block").get<std::size_t>();
    const auto inputs = j.at("inputs").get<std::size_t>();
    sl.out_slot = j.at("out_slot").get<std::vector<std::uint32_t>>();
    if ((sl.rows != 1 && sl.rows != 2) || sl.n < 4 || (sl.n & (sl.n - 1)) != 0 || sl.n > 65536 || sl.block == 0 ||
        (sl.block & (sl.block - 1)) != 0 || sl.block > sl.n / 2 || inputs == 0 || inputs > sl.block || sl.out_slot.empty() || sl.out_slot.size() > 4096)
      throw FormatError("latency layout: inconsistent n/rows/block/inputs/out_slot");
    for (auto o : sl.out_slot)
      if (o >= sl.block) throw FormatError("latency layout: logit slot " + std::to_string(o) + " outside the block");
    sl.in_slot.resize(inputs);
    for (std::size_t i = 0; i < inputs; ++i) sl.in_slot[i] = std::uint32_t(i);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(std::string("latency layout: missing or mistyped field (") + e.what() + ")");
  }
  return sl;
}

namespace {

// The taps of one linear layer: the integer rows (BFV) or the float rows (CKKS, f_*).
struct TapRows {
  const LinearOp& l;
  bool real;
  std::uint32_t begin(int o) const { return real ? l.f_row_start[o] : l.row_start[o]; }
  std::uint32_t end(int o) const { return real ? l.f_row_start[o + 1] : l.row_start[o + 1]; }
  std::uint32_t input(std::uint32_t k) const { return real ? l.f_index[k] : l.index[k]; }
};

// A linear layer mapped onto slots, before the block size is known: every tap as
// (position of the (partial) output, rotation r = input position - output position, tap index k
// in its TapRows).
struct SlotMap {
  struct Tap {
    std::uint32_t pos;
    int r;
    std::uint32_t k;
  };
  std::vector<Tap> taps;
  std::vector<std::uint32_t> out_slot;
  std::vector<int> fold;
  std::uint32_t span = 0;  // every position touched is < span

  // Estimated cost in plaintext products (a rotation costs about three: l(l+1) NTTs against ~2l).
  double cost() const;
};

std::uint32_t pow2_at_least(std::uint64_t v) {
  std::uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

int giant_of(int r, int b) { return r >= 0 ? r / b : -((-r + b - 1) / b); }

// Rotations (baby + giant, zero excluded) of the rotation set rs with baby step b.
std::size_t bsgs_rotations(const std::vector<int>& rs, int b) {
  std::vector<int> baby, giant;
  for (int r : rs) {
    const int g = giant_of(r, b);
    baby.push_back(r - g * b);
    giant.push_back(g);
  }
  auto distinct_nonzero = [](std::vector<int>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v.size() - std::size_t(std::count(v.begin(), v.end(), 0));
  };
  return distinct_nonzero(baby) + distinct_nonzero(giant);
}

// Baby step b minimising the rotations for the rotation set rs: r = g·b + i, 0 <= i < b. Tries
// every b up to 256 and the powers of two beyond (the structured sets of convolutions and folds
// are best served by small or power-of-two steps).
int best_baby_step(const std::vector<int>& rs) {
  int hi = 1;
  for (int r : rs) hi = std::max(hi, std::abs(r) + 1);
  int best_b = 1;
  std::size_t best = SIZE_MAX;
  for (int b = 1; b <= hi; b = b < 256 ? b + 1 : b * 2) {
    const std::size_t c = bsgs_rotations(rs, b);
    if (c < best) best = c, best_b = b;
  }
  return best_b;
}

std::vector<int> rotation_set(const std::vector<SlotMap::Tap>& taps) {
  std::vector<int> rs;
  for (const auto& t : taps) rs.push_back(t.r);
  std::sort(rs.begin(), rs.end());
  rs.erase(std::unique(rs.begin(), rs.end()), rs.end());
  return rs;
}

double SlotMap::cost() const {
  const auto rs = rotation_set(taps);
  const double rot = double(bsgs_rotations(rs, best_baby_step(rs)) + fold.size());
  return double(rs.size()) + 3.0 * rot;
}

void add_span(SlotMap& m) {
  for (const auto& t : m.taps) m.span = std::max<std::uint32_t>(m.span, std::max<std::int64_t>(t.pos, std::int64_t(t.pos) + t.r) + 1);
  for (auto o : m.out_slot) m.span = std::max(m.span, o + 1);
}

// Outputs at the given slots; every tap reads its input directly (no fold).
SlotMap direct_map(const TapRows& rows, const std::vector<std::uint32_t>& in, std::vector<std::uint32_t> out) {
  SlotMap m;
  m.out_slot = std::move(out);
  for (int o = 0; o < rows.l.n_out; ++o)
    for (auto k = rows.begin(o); k < rows.end(o); ++k)
      m.taps.push_back({m.out_slot[o], int(in[rows.input(k)]) - int(m.out_slot[o]), k});
  add_span(m);
  return m;
}

// Gazelle's hybrid method: tap (o, i) adds into the slot nearest its input that is = o (mod m),
// m = the output count rounded up to a power of two; rotate-and-sum by m, 2m, ... then collects
// every output's partial sums in slot o.
SlotMap fold_map(const TapRows& rows, const std::vector<std::uint32_t>& in) {
  const LinearOp& l = rows.l;
  SlotMap m;
  const std::uint32_t mm = pow2_at_least(std::uint64_t(l.n_out));
  std::uint32_t top = 0;
  for (auto p : in) top = std::max(top, p + 1);
  const std::uint32_t span = std::max(mm, pow2_at_least(top));
  for (int o = 0; o < l.n_out; ++o) {
    m.out_slot.push_back(std::uint32_t(o));
    for (auto k = rows.begin(o); k < rows.end(o); ++k) {
      const int p = int(in[rows.input(k)]);
      int j = p - (((p - o) % int(mm)) + int(mm)) % int(mm);
      if (j < 0) j += int(mm);
      m.taps.push_back({std::uint32_t(j), p - j, k});
    }
  }
  for (std::uint32_t f = mm; f < span; f <<= 1) m.fold.push_back(int(f));
  add_span(m);
  m.span = std::max(m.span, span);
  return m;
}

// A convolution whose input is in CHW order at slots 0..n_in-1: output (m, oy, ox) sits at the
// slot of input pixel (0, oy·s, ox·s), maps spread over the s x s offsets and then over further
// channel planes, so every kernel tap (c, u, v) of a map is one rotation for all positions.
// Empty when the outputs would collide.
std::vector<std::uint32_t> anchored_slots(const ConvGeometry& g) {
  const int s = g.stride, plane = g.in.h * g.in.w;
  std::vector<std::uint32_t> out;
  std::set<std::uint32_t> used;
  for (int m = 0; m < g.out.c; ++m) {
    const int mm = m % (s * s), extra = m / (s * s);
    for (int oy = 0; oy < g.out.h; ++oy)
      for (int ox = 0; ox < g.out.w; ++ox) {
        const int x = ox * s + mm % s, y = oy * s + mm / s;
        if (x >= g.in.w || y >= g.in.h) return {};
        const auto slot = std::uint32_t(extra * plane + y * g.in.w + x);
        if (!used.insert(slot).second) return {};
        out.push_back(slot);
      }
  }
  return out;
}

bool is_identity(const std::vector<std::uint32_t>& in) {
  for (std::size_t i = 0; i < in.size(); ++i)
    if (in[i] != i) return false;
  return true;
}

// allow_fold = false for the plan's last linear step: its result is what the key holder decrypts,
// and a fold (rotate-and-sum) leaves partial sums of the weights in every slot that is not an
// output (slot o + m holds the sum of output o's taps placed at slots >= o + m, ...), which would
// hand the key holder intermediate values of the model beyond the logits. A direct map writes
// only its output slots (each diagonal is zero elsewhere, and rotations by giant steps only move
// those zeros), so every other slot of the result is exactly 0, at no cost in noise: a 0/1 slot
// mask multiplied in after a fold would grow the noise by up to N * t/2 (about 62 bits at
// N = 16384, t ~ 2^49), while a direct last layer only adds rotations at the lowest level.
SlotMap map_linear(const TapRows& rows, const std::vector<std::uint32_t>& in, bool allow_fold) {
  const LinearOp& l = rows.l;
  std::vector<SlotMap> options;
  if (l.conv && is_identity(in)) {
    auto a = anchored_slots(*l.conv);
    if (!a.empty()) options.push_back(direct_map(rows, in, std::move(a)));
  }
  std::vector<std::uint32_t> compact(std::size_t(l.n_out));
  for (std::size_t o = 0; o < compact.size(); ++o) compact[o] = std::uint32_t(o);
  options.push_back(direct_map(rows, in, compact));
  if (allow_fold) options.push_back(fold_map(rows, in));
  return *std::min_element(options.begin(), options.end(),
                           [](const SlotMap& a, const SlotMap& b) { return a.cost() < b.cost(); });
}

// rot_{-g·b}(d) of a block pattern: slot s takes slot s - g·b (block-periodic, so modulo the block).
template <typename T>
std::vector<T> unrotate_giant(const std::vector<T>& d, int giant_step, std::uint32_t block) {
  std::vector<T> pre(block);
  const long long shift = ((-(long long)giant_step) % (long long)block + block) % block;
  for (std::uint32_t s = 0; s < block; ++s) pre[s] = d[(s + shift) % block];
  return pre;
}

// Baby-step/giant-step diagonals of one mapped layer for blocks of `block` slots.
SlotLinear build_linear(const SlotMap& m, const TapRows& rows, std::uint32_t block) {
  const LinearOp& l = rows.l;
  std::map<int, std::vector<std::int64_t>> diag;  // r -> block pattern of diag_r
  std::map<int, std::vector<double>> fdiag;       // the same, float weights (CKKS)
  for (const auto& t : m.taps) {
    if (rows.real) {
      auto& d = fdiag[t.r];
      if (d.empty()) d.assign(block, 0.0);
      d[t.pos] += double(l.f_weight[t.k]);
    } else {
      auto& d = diag[t.r];
      if (d.empty()) d.assign(block, 0);
      d[t.pos] += l.weight[t.k];
    }
  }
  const int b = best_baby_step(rotation_set(m.taps));
  SlotLinear out;
  std::map<int, std::uint32_t> baby_index;
  std::map<int, std::size_t> giant_index;
  for (const int r : rotation_set(m.taps)) {
    const int g = giant_of(r, b), i = r - g * b;
    if (!baby_index.count(i)) {
      baby_index[i] = std::uint32_t(out.baby.size());
      out.baby.push_back(i);
    }
    if (!giant_index.count(g * b)) {
      giant_index[g * b] = out.giants.size();
      out.giants.push_back({g * b, {}});
    }
    SlotLinear::Term term{baby_index[i], {}, {}};
    if (rows.real) term.fdiag = unrotate_giant(fdiag[r], g * b, block);
    else term.diag = unrotate_giant(diag[r], g * b, block);
    out.giants[giant_index[g * b]].terms.push_back(std::move(term));
  }
  out.fold = m.fold;
  out.out_slot = m.out_slot;
  for (int o = 0; o < l.n_out; ++o) {
    if (rows.real) out.fbias.push_back({m.out_slot[o], double(l.f_bias[o])});
    else out.bias.push_back({m.out_slot[o], l.bias[o]});
  }
  return out;
}

// The result's slots other than the logits must be exactly 0 (see map_linear): no fold, and every
// diagonal (rotated back from its giant step) non-zero only at output slots.
void check_writes_only_outputs(const SlotLinear& l, std::uint32_t block) {
  std::vector<bool> out(block, false);
  for (auto o : l.out_slot) out[o] = true;
  bool ok = l.fold.empty();
  for (const auto& g : l.giants)
    for (const auto& t : g.terms)
      for (std::uint32_t s = 0; s < block; ++s) {
        // pre[s] is diag_r at slot s - g·b (modulo the block): the slot the product lands in.
        const long long at = (((long long)s - g.step) % (long long)block + block) % block;
        const bool nonzero = t.fdiag.empty() ? t.diag[s] != 0 : t.fdiag[s] != 0.0;
        if (nonzero && !out[std::size_t(at)]) ok = false;
      }
  require(ok, "latency layout: the last linear step writes slots other than the logits");
}

}  // namespace

Plan to_latency(const Plan& plan, std::size_t n, SlotScheme scheme) {
  require(n >= 4 && (n & (n - 1)) == 0, "to_latency: N = " + std::to_string(n) + " is not a power of two >= 4");
  const bool real = scheme == SlotScheme::kCkks;
  Plan p = plan;
  p.layout = Layout::kLatency;
  SlotLayout& sl = p.slots;
  sl = SlotLayout{};
  sl.n = n;
  sl.rows = real ? 1 : 2;
  sl.in_slot.resize(plan.input_size());
  for (std::size_t i = 0; i < sl.in_slot.size(); ++i) sl.in_slot[i] = std::uint32_t(i);
  std::vector<std::uint32_t> cur = sl.in_slot;
  std::uint32_t span = pow2_at_least(cur.size());
  std::vector<SlotMap> maps(plan.steps.size());
  std::size_t last = plan.steps.size();
  for (std::size_t s = 0; s < plan.steps.size(); ++s)
    if (plan.steps[s].kind == OpKind::kLinear) last = s;
  for (std::size_t s = 0; s < plan.steps.size(); ++s) {
    if (plan.steps[s].kind != OpKind::kLinear) continue;
    maps[s] = map_linear(TapRows{plan.steps[s].linear, real}, cur, s != last);
    span = std::max(span, pow2_at_least(maps[s].span));
    cur = maps[s].out_slot;
  }
  require(span <= n / 2, "latency layout: a cell needs " + std::to_string(span) + " slots, more than a row of N/2 = " +
                             std::to_string(n / 2) + " (choose a larger N)");
  sl.block = span;
  sl.linear.resize(plan.steps.size());
  for (std::size_t s = 0; s < plan.steps.size(); ++s)
    if (plan.steps[s].kind == OpKind::kLinear) sl.linear[s] = build_linear(maps[s], TapRows{plan.steps[s].linear, real}, span);
  sl.out_slot = cur;
  if (last < plan.steps.size()) check_writes_only_outputs(sl.linear[last], sl.block);
  return p;
}

}  // namespace leukocrypt::nn
