// Quantisation (CryptoNets' scaled integers), the worst-case bound, and the automatic choice of
// per-layer weight precision against calibration accuracy.
#include "nn/quantize.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

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
    QuantizedLayer ql;
    ql.kind = l.kind;
    ql.in = in;
    ql.out = shapes[i];
    const std::string nm = "quantize: layer " + std::to_string(i) + " (" + to_string(l.kind) + ")";
    switch (l.kind) {
      case LayerKind::kSquare:
        scale = scale * scale;
        break;
      case LayerKind::kConv2d:
      case LayerKind::kDense: {
        ql.kernel_h = l.kernel_h;
        ql.kernel_w = l.kernel_w;
        ql.stride = l.stride;
        ql.padding = l.padding;
        const int wmax = options.weight_max_for(weighted++);
        require(wmax >= 1 && wmax <= (1 << 20), nm + ": weight_max " + std::to_string(wmax) + " out of [1, 2^20]");
        float amax = 0;
        for (float w : l.weight) amax = std::max(amax, std::fabs(w));
        ql.weight_scale = amax > 0 ? double(wmax) / amax : 1.0;
        ql.weight.resize(l.weight.size());
        for (std::size_t k = 0; k < l.weight.size(); ++k)
          ql.weight[k] = std::llround(double(l.weight[k]) * ql.weight_scale);
        scale = scale * ql.weight_scale;
        ql.bias.resize(l.bias.size());
        for (std::size_t k = 0; k < l.bias.size(); ++k) ql.bias[k] = round_to_int128(l.bias[k] * scale, nm + " bias");
        break;
      }
      default:
        throw InvalidArgument(nm + " cannot run encrypted: only conv2d, dense and square layers are "
                                   "supported (collapse an x2 model first)");
    }
    ql.scale = scale;
    q.layers.push_back(std::move(ql));
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

WorstCaseBound worst_case_bound(const QuantizedModel& q, int pixel_max) {
  require(pixel_max >= 0, "worst_case_bound: pixel_max must be >= 0");
  // Interval [lo, hi] per value, in long double with a relative safety margin so rounding can only
  // make the bound larger (values up to 2^127 need 64-bit mantissas: relative error 2^-63/op).
  std::vector<long double> lo(q.input.size(), 0.0L), hi(q.input.size(), (long double)pixel_max);
  WorstCaseBound b;
  const long double slack = 1.0L + 1e-15L;
  for (const auto& l : q.layers) {
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
    b.max_abs.push_back(m);
    const int bits = m < 1 ? 1 : int(std::floor(std::log2(m))) + 2;  // |v| < 2^(bits-1)
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

nlohmann::json QuantizeChoice::to_json() const {
  nlohmann::json t = nlohmann::json::array();
  for (const auto& tr : trials)
    t.push_back({{"weight_max", tr.options.weight_max},
                 {"accuracy", tr.accuracy},
                 {"agreement_with_float", tr.agreement},
                 {"worst_case_bits", tr.worst_case_bits}});
  return {{"options", model.options.to_json()},
          {"float_accuracy", float_accuracy},
          {"int_accuracy", int_accuracy},
          {"worst_case_bits", worst_case_bits},
          {"layers", model.summary()},
          {"trials", t}};
}

QuantizeChoice choose_quantization(const Model& collapsed, const LabeledImages& calibration, double max_drop_pp) {
  require(calibration.size() > 0, "choose_quantization: calibration set is empty");
  require(calibration.labels.size() == calibration.pixels.size(), "choose_quantization: labels/pixels size mismatch");
  QuantizeChoice c;
  // Float predictions once; a trial passes when its argmax agrees with float on at least
  // 1 - max_drop of the images. That implies |accuracy difference| <= max_drop_pp on this set
  // (and keeps the integer model faithful even where accuracy alone would not notice).
  std::vector<int> float_pred(calibration.size());
  std::size_t float_ok = 0;
  std::vector<float> px(collapsed.input.size());
  for (std::size_t k = 0; k < calibration.size(); ++k) {
    for (std::size_t i = 0; i < px.size(); ++i) px[i] = calibration.pixels[k][i];
    float_pred[k] = argmax(forward(collapsed, px.data()));
    float_ok += float_pred[k] == calibration.labels[k];
  }
  c.float_accuracy = double(float_ok) / double(calibration.size());
  const double min_agreement = 1.0 - max_drop_pp / 100.0 - 1e-12;
  auto trial = [&](const QuantizeOptions& o) {
    QuantizeTrial t;
    t.options = o;
    auto q = quantize(collapsed, o);
    std::size_t ok = 0, agree = 0;
    for (std::size_t k = 0; k < calibration.size(); ++k) {
      const int p = argmax(forward_quantized(q, calibration.pixels[k]));
      ok += p == calibration.labels[k];
      agree += p == float_pred[k];
    }
    t.accuracy = double(ok) / double(calibration.size());
    t.agreement = double(agree) / double(calibration.size());
    t.worst_case_bits = worst_case_bound(q).output_bits;
    c.trials.push_back(t);
    return t.agreement >= min_agreement;
  };
  const int n_weighted = [&] {
    int n = 0;
    for (const auto& l : collapsed.layers) n += l.kind == LayerKind::kConv2d || l.kind == LayerKind::kDense;
    return n;
  }();
  // 1. Smallest common precision meeting the tolerance.
  int common = (1 << 15) - 1;
  for (int bits = 1; bits <= 15; ++bits) {
    QuantizeOptions o;
    o.weight_max = {(1 << bits) - 1};
    if (trial(o)) {
      common = o.weight_max[0];
      break;
    }
  }
  // 2. Lower each layer in turn (earlier layers first: their bits are squared twice downstream).
  std::vector<int> wm(n_weighted, common);
  for (int l = 0; l < n_weighted; ++l) {
    while (wm[l] > 1) {
      QuantizeOptions o;
      o.weight_max = wm;
      o.weight_max[l] = wm[l] / 2;  // 2^b - 1 -> 2^(b-1) - 1
      if (!trial(o)) break;
      wm[l] = o.weight_max[l];
    }
  }
  QuantizeOptions final_opts;
  final_opts.weight_max = wm;
  c.model = quantize(collapsed, final_opts);
  c.int_accuracy = accuracy_quantized(c.model, calibration);
  c.worst_case_bits = worst_case_bound(c.model).output_bits;
  return c;
}

}  // namespace leukocrypt::nn
