// Quantisation (CryptoNets' scaled integers), the worst-case bound, and the automatic choice of
// per-layer weight precision against calibration accuracy.
#include "nn/quantize.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "common/error.h"
#include "common/thread_pool.h"

namespace leukocrypt::nn {

// ---------------------------------------------------------------- int128 text

std::string to_string128(Int128 v) {
  if (v == 0) return "0";
  UInt128 u = abs128(v);
  std::string s;
  while (u) {
    s.push_back(char('0' + int(u % 10)));
    u /= 10;
  }
  if (v < 0) s.push_back('-');
  return {s.rbegin(), s.rend()};
}

Int128 parse_int128(const std::string& s, const std::string& what) {
  std::size_t i = 0;
  const bool neg = !s.empty() && s[0] == '-';
  if (neg) i = 1;
  if (i >= s.size() || s.size() - i > 39) throw FormatError(what + ": '" + s + "' is not a 128-bit integer");
  UInt128 u = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') throw FormatError(what + ": '" + s + "' is not a decimal integer");
    u = u * 10 + UInt128(s[i] - '0');
  }
  if (u > (UInt128(1) << 127) - (neg ? 0 : 1)) throw FormatError(what + ": '" + s + "' exceeds 128 bits");
  return neg ? Int128(UInt128(0) - u) : Int128(u);
}

// ---------------------------------------------------------------- options

int QuantizeOptions::weight_max_for(std::size_t i) const {
  require(!weight_max.empty(), "quantize: weight_max is empty");
  return weight_max.size() == 1 ? weight_max[0] : weight_max.at(i);
}

nlohmann::json QuantizeOptions::to_json() const { return {{"weight_max", weight_max}}; }

QuantizeOptions QuantizeOptions::from_json(const nlohmann::json& j) {
  QuantizeOptions o;
  if (!j.is_object() || !j.contains("weight_max") || !j["weight_max"].is_array() || j["weight_max"].empty())
    throw FormatError("quantization options: 'weight_max' missing or not a non-empty array");
  o.weight_max.clear();
  for (const auto& v : j["weight_max"]) {
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > (1 << 20))
      throw FormatError("quantization options: weight_max entries must be integers in [1, 2^20]");
    o.weight_max.push_back(v.get<int>());
  }
  return o;
}

int QuantizedModel::weighted_layers() const {
  int n = 0;
  for (const auto& l : layers) n += l.kind != LayerKind::kSquare;
  return n;
}

nlohmann::json QuantizedModel::summary() const {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& l : layers) {
    nlohmann::json e{{"kind", to_string(l.kind)},
                     {"out", {l.out.c, l.out.h, l.out.w}},
                     {"log2_scale", double(std::log2(l.scale))}};
    if (l.kind != LayerKind::kSquare) {
      std::int64_t mx = 0;
      for (auto w : l.weight) mx = std::max<std::int64_t>(mx, std::llabs(w));
      e["weight_scale"] = l.weight_scale;
      e["max_abs_weight"] = mx;
    }
    j.push_back(e);
  }
  return j;
}

// ---------------------------------------------------------------- quantize

namespace {

Int128 round_to_int128(long double x, const std::string& what) {
  require(std::isfinite(x) && std::fabs(x) < 1.0e38L, what + ": value too large for 128 bits");
  const long double r = std::round(x);
  const long double two64 = 18446744073709551616.0L;
  const bool neg = r < 0;
  const long double a = neg ? -r : r;
  const long double hi = std::floor(a / two64);
  const long double lo = a - hi * two64;
  UInt128 u = (UInt128(static_cast<std::uint64_t>(hi)) << 64) | UInt128(static_cast<std::uint64_t>(lo));
  return neg ? Int128(UInt128(0) - u) : Int128(u);
}

}  // namespace

namespace {

// One layer of the integer model. `scale` enters as the input's integer units per float unit and
// leaves as the output's.
QuantizedLayer quantize_layer(const Layer& l, std::size_t index, const Shape& in, const Shape& out, int wmax,
                              long double& scale) {
  QuantizedLayer ql;
  ql.kind = l.kind;
  ql.in = in;
  ql.out = out;
  switch (l.kind) {
    case LayerKind::kSquare:
      scale = scale * scale;
      break;
    case LayerKind::kConv2d:
    case LayerKind::kDense: {
      const auto nm = [&] { return "quantize: layer " + std::to_string(index) + " (" + to_string(l.kind) + ")"; };
      ql.kernel_h = l.kernel_h;
      ql.kernel_w = l.kernel_w;
      ql.stride = l.stride;
      ql.padding = l.padding;
      require(wmax >= 1 && wmax <= (1 << 20), nm() + ": weight_max " + std::to_string(wmax) + " out of [1, 2^20]");
      float amax = 0;
      for (float w : l.weight) amax = std::max(amax, std::fabs(w));
      ql.weight_scale = amax > 0 ? double(wmax) / amax : 1.0;
      ql.weight.resize(l.weight.size());
      for (std::size_t k = 0; k < l.weight.size(); ++k)
        ql.weight[k] = std::llround(double(l.weight[k]) * ql.weight_scale);
      scale = scale * ql.weight_scale;
      ql.bias.resize(l.bias.size());
      for (std::size_t k = 0; k < l.bias.size(); ++k) {
        const long double v = l.bias[k] * scale;
        if (!(std::isfinite(v) && std::fabs(v) < 1.0e38L)) require(false, nm() + " bias: value too large for 128 bits");
        ql.bias[k] = round_to_int128(v, "quantize bias");
      }
      break;
    }
    default:
      throw InvalidArgument("quantize: layer " + std::to_string(index) + " (" + to_string(l.kind) +
                            ") cannot run encrypted: only conv2d, dense and square layers are "
                            "supported (collapse an x2 model first)");
  }
  ql.scale = scale;
  return ql;
}

}  // namespace

QuantizedModel quantize(const Model& collapsed, const QuantizeOptions& options) {
  collapsed.validate();
  auto shapes = collapsed.shapes();
  QuantizedModel q;
  q.name = collapsed.name;
  q.input = collapsed.input;
  q.input_scale = collapsed.input_scale;
  q.classes = collapsed.classes;
  q.options = options;
  q.collapsed = collapsed;
  long double scale = 1.0L / collapsed.input_scale;  // pixels are the integers: 1 float unit = 1/input_scale
  Shape in = collapsed.input;
  std::size_t weighted = 0;
  for (std::size_t i = 0; i < collapsed.layers.size(); ++i) {
    const Layer& l = collapsed.layers[i];
    const bool is_weighted = l.kind == LayerKind::kConv2d || l.kind == LayerKind::kDense;
    const int wmax = is_weighted ? options.weight_max_for(weighted++) : 0;
    q.layers.push_back(quantize_layer(l, i, in, shapes[i], wmax, scale));
    in = shapes[i];
  }
  return q;
}

// ---------------------------------------------------------------- evaluation

namespace {

// One quantised layer on any arithmetic type T (double for speed, long double for bounds).
template <class T, class Fn>
void for_each_tap(const QuantizedLayer& l, Fn&& fn) {
  if (l.kind == LayerKind::kDense) {
    const int n_in = l.in.size();
    for (int o = 0; o < l.out.size(); ++o)
      for (int i = 0; i < n_in; ++i) fn(o, i, l.weight[std::size_t(o) * n_in + i]);
    return;
  }
  for (int o = 0; o < l.out.c; ++o)
    for (int oy = 0; oy < l.out.h; ++oy)
      for (int ox = 0; ox < l.out.w; ++ox) {
        const int out_idx = (o * l.out.h + oy) * l.out.w + ox;
        for (int c = 0; c < l.in.c; ++c)
          for (int u = 0; u < l.kernel_h; ++u) {
            const int iy = oy * l.stride - l.padding + u;
            if (iy < 0 || iy >= l.in.h) continue;
            for (int v = 0; v < l.kernel_w; ++v) {
              const int ix = ox * l.stride - l.padding + v;
              if (ix < 0 || ix >= l.in.w) continue;
              fn(out_idx, (c * l.in.h + iy) * l.in.w + ix,
                 l.weight[((std::size_t(o) * l.in.c + c) * l.kernel_h + u) * l.kernel_w + v]);
            }
          }
      }
}

int bias_index(const QuantizedLayer& l, int out_idx) {
  return l.kind == LayerKind::kDense ? out_idx : out_idx / (l.out.h * l.out.w);
}

}  // namespace

std::vector<double> forward_quantized(const QuantizedModel& q, const std::uint8_t* pixels) {
  std::vector<double> x(pixels, pixels + q.input.size());
  for (const auto& l : q.layers) {
    if (l.kind == LayerKind::kSquare) {
      for (auto& v : x) v *= v;
      continue;
    }
    std::vector<double> y(l.out.size());
    for (int o = 0; o < l.out.size(); ++o) y[o] = double(l.bias[bias_index(l, o)]);
    for_each_tap<double>(l, [&](int o, int i, std::int64_t w) { y[o] += double(w) * x[i]; });
    x = std::move(y);
  }
  return x;
}

namespace {

// Interval [lo, hi] per value through one integer layer, in long double with a relative safety
// margin so rounding can only make the bound larger (values up to 2^127 need 64-bit mantissas:
// relative error 2^-63/op). Returns the largest magnitude after the layer.
long double bound_layer(const QuantizedLayer& l, std::vector<long double>& lo, std::vector<long double>& hi) {
  const long double slack = 1.0L + 1e-15L;
  if (l.kind == LayerKind::kSquare) {
    for (std::size_t i = 0; i < lo.size(); ++i) {
      const long double a = lo[i] * lo[i], c = hi[i] * hi[i];
      const long double m = std::max(a, c) * slack;
      lo[i] = (lo[i] <= 0 && hi[i] >= 0) ? 0.0L : std::min(a, c) / slack;
      hi[i] = m;
    }
  } else {
    std::vector<long double> nlo(l.out.size()), nhi(l.out.size());
    for (int o = 0; o < l.out.size(); ++o) nlo[o] = nhi[o] = (long double)l.bias[bias_index(l, o)];
    for_each_tap<long double>(l, [&](int o, int i, std::int64_t w) {
      const long double wl = (long double)w;
      if (w > 0) { nlo[o] += wl * lo[i]; nhi[o] += wl * hi[i]; }
      else if (w < 0) { nlo[o] += wl * hi[i]; nhi[o] += wl * lo[i]; }
    });
    for (int o = 0; o < l.out.size(); ++o) {
      nlo[o] = nlo[o] < 0 ? nlo[o] * slack : nlo[o] / slack;
      nhi[o] = nhi[o] > 0 ? nhi[o] * slack : nhi[o] / slack;
    }
    lo = std::move(nlo);
    hi = std::move(nhi);
  }
  long double m = 0;
  for (std::size_t i = 0; i < lo.size(); ++i) m = std::max({m, std::fabs(lo[i]), std::fabs(hi[i])});
  return m;
}

int bits_for(long double max_abs) { return max_abs < 1 ? 1 : int(std::floor(std::log2(max_abs))) + 2; }  // |v| < 2^(bits-1)

}  // namespace

WorstCaseBound worst_case_bound(const QuantizedModel& q, int pixel_max) {
  require(pixel_max >= 0, "worst_case_bound: pixel_max must be >= 0");
  std::vector<long double> lo(q.input.size(), 0.0L), hi(q.input.size(), (long double)pixel_max);
  WorstCaseBound b;
  for (const auto& l : q.layers) {
    const long double m = bound_layer(l, lo, hi);
    b.max_abs.push_back(m);
    const int bits = bits_for(m);
    b.max_bits = std::max(b.max_bits, bits);
    b.output_bits = bits;
  }
  return b;
}

// ---------------------------------------------------------------- accuracy and choice

namespace {
template <class V>
int argmax(const V& v) {
  return int(std::max_element(v.begin(), v.end()) - v.begin());
}
}  // namespace

double accuracy_float(const Model& m, const LabeledImages& data) {
  if (data.size() == 0) return 0;
  std::size_t ok = 0;
  std::vector<float> px(m.input.size());
  for (std::size_t k = 0; k < data.size(); ++k) {
    for (std::size_t i = 0; i < px.size(); ++i) px[i] = data.pixels[k][i];
    ok += argmax(forward(m, px.data())) == data.labels[k];
  }
  return double(ok) / double(data.size());
}

double accuracy_quantized(const QuantizedModel& q, const LabeledImages& data) {
  if (data.size() == 0) return 0;
  std::size_t ok = 0;
  for (std::size_t k = 0; k < data.size(); ++k) ok += argmax(forward_quantized(q, data.pixels[k])) == data.labels[k];
  return double(ok) / double(data.size());
}

namespace {

nlohmann::json trial_json(const QuantizeTrial& t) {
  return {{"weight_max", t.options.weight_max},
          {"accuracy", t.accuracy},
          {"agreement_with_float", t.agreement},
          {"worst_case_bits", t.worst_case_bits},
          {"plaintext_primes_50bit", plaintext_primes_50bit(t.worst_case_bits)}};
}

// Largest worst-case logit size the exact 128-bit raw backend (and a CRT of two or three
// plaintext primes) can carry.
constexpr int kMaxUsableBits = 126;
constexpr int kUnusableBits = 1000;  // grid points whose biases do not even fit 128 bits

// Orders by HE cost first (fewest bits), then faithfulness, then smaller weights.
bool cheaper(const QuantizeTrial& a, const QuantizeTrial& b) {
  if (a.worst_case_bits != b.worst_case_bits) return a.worst_case_bits < b.worst_case_bits;
  if (a.agreement != b.agreement) return a.agreement > b.agreement;
  if (a.accuracy != b.accuracy) return a.accuracy > b.accuracy;
  return a.options.weight_max < b.options.weight_max;
}

// Orders by faithfulness first, then HE cost.
bool more_faithful(const QuantizeTrial& a, const QuantizeTrial& b) {
  if (a.agreement != b.agreement) return a.agreement > b.agreement;
  if (a.worst_case_bits != b.worst_case_bits) return a.worst_case_bits < b.worst_case_bits;
  if (a.accuracy != b.accuracy) return a.accuracy > b.accuracy;
  return a.options.weight_max < b.options.weight_max;
}

// The layers of one weighted layer's stage: [first, last) of the model's layers, i.e. any squares
// before it (first stage only), the conv/dense itself and the squares after it.
struct StageRange {
  std::size_t first = 0, last = 0;
};

std::vector<StageRange> weighted_stages(const Model& collapsed) {
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < collapsed.layers.size(); ++i) {
    const auto k = collapsed.layers[i].kind;
    if (k == LayerKind::kConv2d || k == LayerKind::kDense) starts.push_back(i);
  }
  std::vector<StageRange> st;
  for (std::size_t k = 0; k < starts.size(); ++k)
    st.push_back({k == 0 ? 0 : starts[k], k + 1 < starts.size() ? starts[k + 1] : collapsed.layers.size()});
  return st;
}

// One stage of the integer model in double: its layers (squares before -- first stage only --, the
// conv/dense, squares after), dense weights pre-converted for a contiguous dot product.
class Stage {
 public:
  explicit Stage(std::vector<QuantizedLayer> layers) : layers_(std::move(layers)) {
    bool seen = false;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const auto& l = layers_[i];
      if (l.kind == LayerKind::kSquare) {
        (seen ? squares_after_ : squares_before_)++;
        continue;
      }
      seen = true;
      weighted_ = i;
      if (l.kind == LayerKind::kDense) wd_.assign(l.weight.begin(), l.weight.end());
      for (const auto& b : l.bias) bias_.push_back(double(b));
    }
    in_size_ = std::size_t(layers_[weighted_].in.size());
    out_size_ = std::size_t(layers_[weighted_].out.size());
  }
  std::size_t in_size() const { return in_size_; }
  std::size_t out_size() const { return out_size_; }
  bool squares_input() const { return squares_before_ > 0; }
  const std::vector<QuantizedLayer>& layers() const { return layers_; }

  // x (in_size values; squared in place when the stage starts with squares) -> y (out_size values).
  void run(double* x, double* y) const {
    for (int s = 0; s < squares_before_; ++s)
      for (std::size_t i = 0; i < in_size_; ++i) x[i] *= x[i];
    const auto& l = layers_[weighted_];
    if (l.kind == LayerKind::kDense) {
      for (std::size_t o = 0; o < out_size_; ++o) {
        const double* w = wd_.data() + o * in_size_;
        double a0 = 0, a1 = 0, a2 = 0, a3 = 0;  // independent chains: the loop is latency-bound
        std::size_t i = 0;
        for (; i + 4 <= in_size_; i += 4) {
          a0 += w[i] * x[i];
          a1 += w[i + 1] * x[i + 1];
          a2 += w[i + 2] * x[i + 2];
          a3 += w[i + 3] * x[i + 3];
        }
        for (; i < in_size_; ++i) a0 += w[i] * x[i];
        y[o] = bias_[o] + ((a0 + a1) + (a2 + a3));
      }
    } else {
      for (std::size_t o = 0; o < out_size_; ++o) y[o] = bias_[std::size_t(bias_index(l, int(o)))];
      for_each_tap<double>(l, [&](int o, int i, std::int64_t w) { y[o] += double(w) * x[i]; });
    }
    for (int s = 0; s < squares_after_; ++s)
      for (std::size_t i = 0; i < out_size_; ++i) y[i] *= y[i];
  }

 private:
  std::vector<QuantizedLayer> layers_;
  std::size_t weighted_ = 0;  // the conv/dense among layers_
  std::vector<double> wd_, bias_;
  int squares_before_ = 0, squares_after_ = 0;
  std::size_t in_size_ = 0, out_size_ = 0;
};

// Depth-first sweep over one block of images: the activations (and, on the first block, the
// worst-case intervals) of a prefix of stages are computed once and shared by every choice of the
// later layers' precision.
class SweepBlock {
 public:
  SweepBlock(const Model& collapsed, const std::vector<StageRange>& stages, const LabeledImages& calib,
             std::size_t begin, std::size_t end, const std::vector<int>& float_pred, int min_bits, int max_bits,
             std::vector<QuantizeTrial>& trials, bool compute_bounds)
      : m_(collapsed), shapes_(collapsed.shapes()), stages_(stages), calib_(calib), begin_(begin), n_(end - begin),
        float_pred_(float_pred), min_bits_(min_bits), max_bits_(max_bits), trials_(trials), bounds_(compute_bounds),
        bits_(stages.size(), min_bits) {}

  void run() {
    const std::size_t px = std::size_t(m_.input.size());
    std::vector<double> input(n_ * px);
    for (std::size_t i = 0; i < n_; ++i)
      for (std::size_t k = 0; k < px; ++k) input[i * px + k] = calib_.pixels[begin_ + i][k];
    std::vector<long double> lo, hi;
    if (bounds_) lo.assign(px, 0.0L), hi.assign(px, 255.0L);
    descend(0, input, px, 0, 1.0L / m_.input_scale, lo, hi);
  }

 private:
  Stage make_stage(std::size_t k, long double& scale) const {
    std::vector<QuantizedLayer> layers;
    for (std::size_t i = stages_[k].first; i < stages_[k].last; ++i) {
      const Layer& l = m_.layers[i];
      const bool weighted = l.kind == LayerKind::kConv2d || l.kind == LayerKind::kDense;
      layers.push_back(quantize_layer(l, i, i == 0 ? m_.input : shapes_[i - 1], shapes_[i],
                                      weighted ? (1 << bits_[k]) - 1 : 0, scale));
    }
    return Stage(std::move(layers));
  }

  void descend(std::size_t k, std::vector<double>& act, std::size_t width, std::size_t leaf_base,
               long double scale_in, const std::vector<long double>& lo_in, const std::vector<long double>& hi_in) {
    const int span = max_bits_ - min_bits_ + 1;
    for (int b = min_bits_; b <= max_bits_; ++b) {
      bits_[k] = b;
      long double scale = scale_in;
      const std::size_t leaf = leaf_base * std::size_t(span) + std::size_t(b - min_bits_);
      std::optional<Stage> made;
      try {
        made.emplace(make_stage(k, scale));
      } catch (const InvalidArgument&) {  // biases beyond 128 bits: this prefix cannot run at all
        if (bounds_) mark_unusable(k, leaf);
        continue;
      }
      const Stage& stage = *made;
      const std::size_t out_w = stage.out_size();
      std::vector<double> out(n_ * out_w);
      ThreadPool::global().parallel_for(0, n_, [&](std::size_t i) {
        double* x = act.data() + i * width;
        if (!stage.squares_input()) return stage.run(x, out.data() + i * out_w);
        std::vector<double> copy(x, x + width);  // the input is shared by every b
        stage.run(copy.data(), out.data() + i * out_w);
      });
      std::vector<long double> lo, hi;
      long double max_abs = 0;
      if (bounds_) {
        lo = lo_in;
        hi = hi_in;
        for (const auto& l : stage.layers()) max_abs = bound_layer(l, lo, hi);
      }
      if (k + 1 < stages_.size()) {
        descend(k + 1, out, out_w, leaf, scale, lo, hi);
        continue;
      }
      auto& t = trials_[leaf];
      if (bounds_) t.worst_case_bits = bits_for(max_abs);
      for (std::size_t i = 0; i < n_; ++i) {
        const double* y = out.data() + i * out_w;
        const int p = int(std::max_element(y, y + out_w) - y);
        t.accuracy += p == calib_.labels[begin_ + i];
        t.agreement += p == float_pred_[begin_ + i];
      }
    }
  }

  // Every leaf under prefix `node` of stage k gets an impossible bit count.
  void mark_unusable(std::size_t k, std::size_t node) {
    std::size_t first = node, count = 1;
    for (std::size_t j = k + 1; j < stages_.size(); ++j) {
      first *= std::size_t(max_bits_ - min_bits_ + 1);
      count *= std::size_t(max_bits_ - min_bits_ + 1);
    }
    for (std::size_t i = first; i < first + count; ++i) trials_[i].worst_case_bits = kUnusableBits;
  }

  const Model& m_;
  const std::vector<Shape> shapes_;
  const std::vector<StageRange>& stages_;
  const LabeledImages& calib_;
  std::size_t begin_, n_;
  const std::vector<int>& float_pred_;
  int min_bits_, max_bits_;
  std::vector<QuantizeTrial>& trials_;  // counts until normalised by the caller
  bool bounds_;
  std::vector<int> bits_;
};

}  // namespace

int plaintext_primes_50bit(int worst_case_bits) { return std::max(1, (worst_case_bits + 49) / 50); }

std::vector<QuantizeTrial> QuantizeChoice::pareto() const {
  std::vector<QuantizeTrial> sorted = trials;
  std::sort(sorted.begin(), sorted.end(), cheaper);
  std::vector<QuantizeTrial> front;
  for (const auto& t : sorted)
    if (t.worst_case_bits <= kMaxUsableBits && (front.empty() || t.agreement > front.back().agreement))
      front.push_back(t);
  return front;
}

nlohmann::json QuantizeChoice::to_json() const {
  nlohmann::json front = nlohmann::json::array();
  for (const auto& t : pareto()) front.push_back(trial_json(t));
  return {{"options", model.options.to_json()},
          {"rule", "fewest worst-case logit bits among grid points whose argmax agrees with float on >= 1 - "
                   "tolerance of the calibration images"},
          {"tolerance_pp", max_drop_pp},
          {"within_tolerance", within_tolerance},
          {"float_accuracy", float_accuracy},
          {"int_accuracy", int_accuracy},
          {"agreement_with_float", agreement},
          {"worst_case_bits", worst_case_bits},
          {"plaintext_primes_50bit", plaintext_primes_50bit(worst_case_bits)},
          {"most_accurate", trial_json(most_accurate)},
          {"grid_points", trials.size()},
          {"pareto_front", front},
          {"layers", model.summary()}};
}

QuantizeSweep sweep_quantization(const Model& collapsed, const LabeledImages& calibration, int min_weight_bits,
                                 int max_weight_bits) {
  require(calibration.size() > 0, "sweep_quantization: calibration set is empty");
  require(calibration.labels.size() == calibration.pixels.size(),
          "sweep_quantization: " + std::to_string(calibration.labels.size()) + " labels for " +
              std::to_string(calibration.pixels.size()) + " images");
  require(min_weight_bits >= 1 && min_weight_bits <= max_weight_bits && max_weight_bits <= 20,
          "sweep_quantization: weight bits range [" + std::to_string(min_weight_bits) + ", " +
              std::to_string(max_weight_bits) + "] must lie in [1, 20]");
  collapsed.validate();
  for (std::size_t i = 0; i < collapsed.layers.size(); ++i) {
    const auto k = collapsed.layers[i].kind;
    if (k != LayerKind::kConv2d && k != LayerKind::kDense && k != LayerKind::kSquare)
      throw InvalidArgument("sweep_quantization: layer " + std::to_string(i) + " (" + to_string(k) +
                            ") cannot run encrypted (collapse an x2 model first)");
  }
  const auto stages = weighted_stages(collapsed);
  require(!stages.empty(), "sweep_quantization: model '" + collapsed.name + "' has no conv/dense layer");
  QuantizeSweep sw;
  sw.images = calibration.size();
  sw.min_weight_bits = min_weight_bits;
  sw.max_weight_bits = max_weight_bits;
  // Float predictions once.
  std::vector<int> float_pred(calibration.size());
  std::size_t float_ok = 0;
  std::vector<float> px(collapsed.input.size());
  for (std::size_t k = 0; k < calibration.size(); ++k) {
    for (std::size_t i = 0; i < px.size(); ++i) px[i] = calibration.pixels[k][i];
    float_pred[k] = argmax(forward(collapsed, px.data()));
    float_ok += float_pred[k] == calibration.labels[k];
  }
  sw.float_accuracy = double(float_ok) / double(calibration.size());
  std::size_t leaves = 1;
  for (std::size_t k = 0; k < stages.size(); ++k) leaves *= std::size_t(max_weight_bits - min_weight_bits + 1);
  require(leaves <= 100000, "sweep_quantization: " + std::to_string(leaves) + " grid points are too many; "
                            "narrow the weight bits range");
  sw.trials.assign(leaves, QuantizeTrial{});
  const std::size_t span = std::size_t(max_weight_bits - min_weight_bits + 1);
  for (std::size_t leaf = 0; leaf < leaves; ++leaf) {  // leaf index = bits of each layer, base span
    auto& wm = sw.trials[leaf].options.weight_max;
    wm.assign(stages.size(), 0);
    for (std::size_t k = stages.size(), rest = leaf; k-- > 0; rest /= span)
      wm[k] = (1 << (min_weight_bits + int(rest % span))) - 1;
  }
  // Blocks bound the cached activations (block x widest layer doubles).
  constexpr std::size_t kBlock = 2048;
  for (std::size_t b = 0; b < calibration.size(); b += kBlock)
    SweepBlock(collapsed, stages, calibration, b, std::min(calibration.size(), b + kBlock), float_pred,
               min_weight_bits, max_weight_bits, sw.trials, b == 0)
        .run();
  for (auto& t : sw.trials) {
    t.accuracy /= double(calibration.size());
    t.agreement /= double(calibration.size());
  }
  return sw;
}

QuantizeChoice select_quantization(const Model& collapsed, const QuantizeSweep& sweep, double max_drop_pp) {
  require(max_drop_pp >= 0 && max_drop_pp <= 100,
          "select_quantization: tolerance " + std::to_string(max_drop_pp) + " pp is outside [0, 100]");
  require(!sweep.trials.empty(), "select_quantization: the sweep has no trials");
  const double min_agreement = 1.0 - max_drop_pp / 100.0 - 1e-12;
  const QuantizeTrial* faithful = nullptr;
  const QuantizeTrial* cheapest = nullptr;
  for (const auto& t : sweep.trials) {
    const bool usable = t.worst_case_bits <= kMaxUsableBits;
    if (usable && (!faithful || more_faithful(t, *faithful))) faithful = &t;
    if (usable && t.agreement >= min_agreement && (!cheapest || cheaper(t, *cheapest))) cheapest = &t;
  }
  if (!faithful)  // every grid point overflows 126 bits: report the smallest
    faithful = &*std::min_element(sweep.trials.begin(), sweep.trials.end(), cheaper);
  QuantizeChoice c;
  const QuantizeTrial& pick = cheapest ? *cheapest : *faithful;
  c.model = quantize(collapsed, pick.options);
  c.float_accuracy = sweep.float_accuracy;
  c.int_accuracy = pick.accuracy;
  c.agreement = pick.agreement;
  c.worst_case_bits = pick.worst_case_bits;
  c.max_drop_pp = max_drop_pp;
  c.within_tolerance = cheapest != nullptr;
  c.most_accurate = *faithful;
  c.trials = sweep.trials;
  return c;
}

QuantizeChoice choose_quantization(const Model& collapsed, const LabeledImages& calibration, double max_drop_pp) {
  require(calibration.size() > 0, "choose_quantization: calibration set is empty");
  return select_quantization(collapsed, sweep_quantization(collapsed, calibration), max_drop_pp);
}

}  // namespace leukocrypt::nn
