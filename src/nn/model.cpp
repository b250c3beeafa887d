// Float model: shapes and validation, the float reference forward pass, the native file format,
// linear-layer collapsing for encrypted inference, and the CryptoNets CSV export.
#include "nn/model.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/paths.h"

namespace leukocrypt::nn {

// ---------------------------------------------------------------- kinds

namespace {
struct KindName {
  LayerKind kind;
  const char* name;
};
constexpr KindName kKindNames[] = {
    {LayerKind::kConv2d, "conv2d"},   {LayerKind::kDense, "dense"},
    {LayerKind::kSquare, "square"},   {LayerKind::kReLU, "relu"},
    {LayerKind::kSigmoid, "sigmoid"}, {LayerKind::kMeanPool2d, "meanpool2d"},
    {LayerKind::kFlatten, "flatten"}, {LayerKind::kDropout, "dropout"},
    {LayerKind::kSoftmax, "softmax"},
};
}  // namespace

const char* to_string(LayerKind kind) {
  for (const auto& k : kKindNames)
    if (k.kind == kind) return k.name;
  return "unknown";
}

LayerKind layer_kind_from_string(const std::string& name) {
  for (const auto& k : kKindNames)
    if (name == k.name) return k.kind;
  throw FormatError("unknown layer kind '" + name + "'");
}

// ---------------------------------------------------------------- shapes

namespace {

constexpr int kMaxDim = 1 << 16;

int window_out(int in, int k, int s, int p) { return (in + 2 * p - k) / s + 1; }

std::string layer_name(std::size_t i, const Layer& l) {
  return "layer " + std::to_string(i) + " (" + to_string(l.kind) + ")";
}

Shape layer_output(std::size_t i, const Layer& l, const Shape& in) {
  const std::string nm = layer_name(i, l);
  auto check_window = [&](const Shape& s) {
    require(l.kernel_h > 0 && l.kernel_w > 0, nm + ": kernel must be positive (" +
                                                  std::to_string(l.kernel_h) + "x" + std::to_string(l.kernel_w) + ")");
    require(l.stride > 0, nm + ": stride must be positive (" + std::to_string(l.stride) + ")");
    require(l.padding >= 0, nm + ": padding must be >= 0 (" + std::to_string(l.padding) + ")");
    require(l.padding < l.kernel_h && l.padding < l.kernel_w,
            nm + ": padding " + std::to_string(l.padding) + " must be smaller than the kernel");
    require(s.h + 2 * l.padding >= l.kernel_h && s.w + 2 * l.padding >= l.kernel_w,
            nm + ": kernel " + std::to_string(l.kernel_h) + "x" + std::to_string(l.kernel_w) +
                " larger than padded input " + std::to_string(s.h) + "x" + std::to_string(s.w));
  };
  switch (l.kind) {
    case LayerKind::kConv2d: {
      check_window(in);
      require(l.out_channels > 0 && l.out_channels <= kMaxDim,
              nm + ": out_channels out of range (" + std::to_string(l.out_channels) + ")");
      Shape o{l.out_channels, window_out(in.h, l.kernel_h, l.stride, l.padding),
              window_out(in.w, l.kernel_w, l.stride, l.padding)};
      const std::size_t wsize = std::size_t(l.out_channels) * in.c * l.kernel_h * l.kernel_w;
      require(l.weight.size() == wsize, nm + ": weight has " + std::to_string(l.weight.size()) +
                                            " values, expected " + std::to_string(wsize));
      require(l.bias.size() == std::size_t(l.out_channels),
              nm + ": bias has " + std::to_string(l.bias.size()) + " values, expected " +
                  std::to_string(l.out_channels));
      return o;
    }
    case LayerKind::kDense: {
      require(l.out_features > 0 && l.out_features <= (1 << 20),
              nm + ": out_features out of range (" + std::to_string(l.out_features) + ")");
      const std::size_t wsize = std::size_t(l.out_features) * in.size();
      require(l.weight.size() == wsize, nm + ": weight has " + std::to_string(l.weight.size()) +
                                            " values, expected " + std::to_string(wsize));
      require(l.bias.size() == std::size_t(l.out_features),
              nm + ": bias has " + std::to_string(l.bias.size()) + " values, expected " +
                  std::to_string(l.out_features));
      return {l.out_features, 1, 1};
    }
    case LayerKind::kMeanPool2d:
      check_window(in);
      return {in.c, window_out(in.h, l.kernel_h, l.stride, l.padding),
              window_out(in.w, l.kernel_w, l.stride, l.padding)};
    case LayerKind::kFlatten:
      return {in.size(), 1, 1};
    case LayerKind::kDropout:
      require(l.dropout_p >= 0.0f && l.dropout_p < 1.0f,
              nm + ": dropout p must be in [0,1) (" + std::to_string(l.dropout_p) + ")");
      return in;
    case LayerKind::kSquare:
    case LayerKind::kReLU:
    case LayerKind::kSigmoid:
    case LayerKind::kSoftmax:
      return in;
  }
  throw InvalidArgument(nm + ": unknown layer kind");
}

}  // namespace

std::vector<Shape> Model::shapes() const {
  require(input.c > 0 && input.h > 0 && input.w > 0 && input.c <= 64 && input.h <= 4096 && input.w <= 4096,
          "model input shape " + std::to_string(input.c) + "x" + std::to_string(input.h) + "x" +
              std::to_string(input.w) + " out of range");
  std::vector<Shape> out;
  out.reserve(layers.size());
  Shape s = input;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Layer& l = layers[i];
    const bool weighted = l.kind == LayerKind::kConv2d || l.kind == LayerKind::kDense;
    if (!weighted) {
      require(l.weight.empty() && l.bias.empty(), layer_name(i, l) + ": has weights but takes none");
    }
    s = layer_output(i, l, s);
    require(s.c > 0 && s.h > 0 && s.w > 0, layer_name(i, l) + ": empty output");
    out.push_back(s);
  }
  return out;
}

void Model::validate() const {
  require(!layers.empty(), "model '" + name + "' has no layers");
  require(std::isfinite(input_scale) && input_scale > 0, "model input_scale must be positive and finite");
  require(!classes.empty(), "model '" + name + "' has no class names");
  auto sh = shapes();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    for (float v : layers[i].weight)
      require(std::isfinite(v), layer_name(i, layers[i]) + ": weight is not finite");
    for (float v : layers[i].bias)
      require(std::isfinite(v), layer_name(i, layers[i]) + ": bias is not finite");
  }
  const int n_out = sh.back().size();
  require(n_out == static_cast<int>(classes.size()),
          "model output has " + std::to_string(n_out) + " values but " + std::to_string(classes.size()) +
              " classes");
}

// ---------------------------------------------------------------- forward

namespace {

template <class T>
void conv_forward(const Layer& l, const Shape& in, const Shape& out, const T* x, T* y) {
  const int k = l.kernel_h, kw = l.kernel_w;
  for (int o = 0; o < out.c; ++o)
    for (int oy = 0; oy < out.h; ++oy)
      for (int ox = 0; ox < out.w; ++ox) {
        T acc = static_cast<T>(l.bias[o]);
        for (int c = 0; c < in.c; ++c)
          for (int u = 0; u < k; ++u) {
            const int iy = oy * l.stride - l.padding + u;
            if (iy < 0 || iy >= in.h) continue;
            for (int v = 0; v < kw; ++v) {
              const int ix = ox * l.stride - l.padding + v;
              if (ix < 0 || ix >= in.w) continue;
              acc += static_cast<T>(l.weight[((std::size_t(o) * in.c + c) * k + u) * kw + v]) *
                     x[(std::size_t(c) * in.h + iy) * in.w + ix];
            }
          }
        y[(std::size_t(o) * out.h + oy) * out.w + ox] = acc;
      }
}

template <class T>
void pool_forward(const Layer& l, const Shape& in, const Shape& out, const T* x, T* y) {
  const T inv = T(1) / T(l.kernel_h * l.kernel_w);
  for (int c = 0; c < out.c; ++c)
    for (int oy = 0; oy < out.h; ++oy)
      for (int ox = 0; ox < out.w; ++ox) {
        T acc = 0;
        for (int u = 0; u < l.kernel_h; ++u) {
          const int iy = oy * l.stride - l.padding + u;
          if (iy < 0 || iy >= in.h) continue;
          for (int v = 0; v < l.kernel_w; ++v) {
            const int ix = ox * l.stride - l.padding + v;
            if (ix < 0 || ix >= in.w) continue;
            acc += x[(std::size_t(c) * in.h + iy) * in.w + ix];
          }
        }
        y[(std::size_t(c) * out.h + oy) * out.w + ox] = acc * inv;
      }
}

template <class T>
void dense_forward(const Layer& l, int in_size, const T* x, T* y) {
  for (int o = 0; o < l.out_features; ++o) {
    T acc = static_cast<T>(l.bias[o]);
    const float* w = l.weight.data() + std::size_t(o) * in_size;
    for (int i = 0; i < in_size; ++i) acc += static_cast<T>(w[i]) * x[i];
    y[o] = acc;
  }
}

// One layer on one activation vector; bias can be switched off for linear-map extraction.
template <class T>
std::vector<T> layer_forward(const Layer& l, const Shape& in, const Shape& out, const std::vector<T>& x) {
  std::vector<T> y(out.size());
  switch (l.kind) {
    case LayerKind::kConv2d: conv_forward(l, in, out, x.data(), y.data()); break;
    case LayerKind::kDense: dense_forward(l, in.size(), x.data(), y.data()); break;
    case LayerKind::kMeanPool2d: pool_forward(l, in, out, x.data(), y.data()); break;
    case LayerKind::kSquare:
      for (std::size_t i = 0; i < x.size(); ++i) y[i] = x[i] * x[i];
      break;
    case LayerKind::kReLU:
      for (std::size_t i = 0; i < x.size(); ++i) y[i] = x[i] > 0 ? x[i] : T(0);
      break;
    case LayerKind::kSigmoid:
      for (std::size_t i = 0; i < x.size(); ++i) y[i] = T(1) / (T(1) + std::exp(-x[i]));
      break;
    case LayerKind::kSoftmax: {
      T mx = *std::max_element(x.begin(), x.end());
      T sum = 0;
      for (std::size_t i = 0; i < x.size(); ++i) sum += (y[i] = std::exp(x[i] - mx));
      for (auto& v : y) v /= sum;
      break;
    }
    case LayerKind::kFlatten:
    case LayerKind::kDropout:
      y = x;
      break;
  }
  return y;
}

}  // namespace

std::vector<float> forward(const Model& model, const float* pixels) {
  auto sh = model.shapes();
  std::vector<float> x(model.input.size());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = pixels[i] * model.input_scale;
  Shape in = model.input;
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    x = layer_forward(model.layers[i], in, sh[i], x);
    in = sh[i];
  }
  return x;
}

// ---------------------------------------------------------------- native format

// Layout: "LKCRNN\0\0" (8 bytes), u32 version, u64 header length, JSON header (UTF-8), then for each
// layer in order its weight then bias as little-endian float32. The header lists every layer with
// its sizes; loading checks the total size exactly, the JSON fields, finite values and the shapes.
namespace {

constexpr char kMagic[8] = {'L', 'K', 'C', 'R', 'N', 'N', '\0', '\0'};
constexpr std::uint32_t kFormatVersion = 1;
constexpr std::uint64_t kMaxHeader = 16u << 20;

void put_u32(std::string& s, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& s, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::uint64_t get_le(const std::string& s, std::size_t off, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= std::uint64_t(static_cast<unsigned char>(s[off + i])) << (8 * i);
  return v;
}
void put_floats(std::string& s, const std::vector<float>& v) {
  for (float f : v) {
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    put_u32(s, u);
  }
}

nlohmann::json layer_to_json(const Layer& l) {
  nlohmann::json j;
  j["kind"] = to_string(l.kind);
  switch (l.kind) {
    case LayerKind::kConv2d:
      j["out_channels"] = l.out_channels;
      [[fallthrough]];
    case LayerKind::kMeanPool2d:
      j["kernel_h"] = l.kernel_h;
      j["kernel_w"] = l.kernel_w;
      j["stride"] = l.stride;
      j["padding"] = l.padding;
      break;
    case LayerKind::kDense:
      j["out_features"] = l.out_features;
      break;
    case LayerKind::kDropout:
      j["p"] = l.dropout_p;
      break;
    default:
      break;
  }
  j["weight_count"] = l.weight.size();
  j["bias_count"] = l.bias.size();
  return j;
}

template <class T>
T field(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j.contains(key)) throw FormatError(where + ": missing field '" + key + "'");
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw FormatError(where + ": field '" + key + "' has the wrong type");
  }
}

int int_field(const nlohmann::json& j, const char* key, const std::string& where, int lo, int hi) {
  if (!j.contains(key) || !j.at(key).is_number_integer())
    throw FormatError(where + ": field '" + key + "' missing or not an integer");
  const auto v = j.at(key).get<std::int64_t>();
  if (v < lo || v > hi)
    throw FormatError(where + ": field '" + key + "' = " + std::to_string(v) + " out of range [" +
                      std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return static_cast<int>(v);
}

}  // namespace

void save_model(const Model& model, const std::filesystem::path& path) {
  model.validate();
  nlohmann::json h;
  h["format"] = "leukocrypt-model";
  h["name"] = model.name;
  h["variant"] = model.variant;
  h["input"] = {{"c", model.input.c}, {"h", model.input.h}, {"w", model.input.w}};
  h["input_scale"] = model.input_scale;
  h["classes"] = model.classes;
  h["metadata"] = model.metadata;
  h["layers"] = nlohmann::json::array();
  for (const auto& l : model.layers) h["layers"].push_back(layer_to_json(l));
  const std::string header = h.dump();
  std::string bytes(kMagic, kMagic + 8);
  put_u32(bytes, kFormatVersion);
  put_u64(bytes, header.size());
  bytes += header;
  for (const auto& l : model.layers) {
    put_floats(bytes, l.weight);
    put_floats(bytes, l.bias);
  }
  write_file_atomic(path, bytes);
}

Model load_model(const std::filesystem::path& path) {
  const std::string where = "model file '" + path.string() + "'";
  const std::string bytes = read_file(path, std::size_t(1) << 31);
  if (bytes.size() < 20 || std::memcmp(bytes.data(), kMagic, 8) != 0)
    throw FormatError(where + ": not a leukocrypt model (bad magic)");
  const auto version = get_le(bytes, 8, 4);
  if (version != kFormatVersion)
    throw FormatError(where + ": unsupported format version " + std::to_string(version) + " (expected " +
                      std::to_string(kFormatVersion) + ")");
  const auto hlen = get_le(bytes, 12, 8);
  if (hlen > kMaxHeader || hlen > bytes.size() - 20)
    throw FormatError(where + ": header length " + std::to_string(hlen) + " exceeds the file");
  nlohmann::json h;
  try {
    h = nlohmann::json::parse(bytes.begin() + 20, bytes.begin() + 20 + static_cast<std::ptrdiff_t>(hlen));
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(where + ": header is not valid JSON");
  }
  if (!h.is_object() || !h.contains("format") || h["format"] != "leukocrypt-model")
    throw FormatError(where + ": header is not a leukocrypt-model header");
  Model m;
  m.name = field<std::string>(h, "name", where);
  m.variant = field<std::string>(h, "variant", where);
  if (!h.contains("input") || !h["input"].is_object()) throw FormatError(where + ": missing 'input'");
  m.input.c = int_field(h["input"], "c", where + " input", 1, 64);
  m.input.h = int_field(h["input"], "h", where + " input", 1, 4096);
  m.input.w = int_field(h["input"], "w", where + " input", 1, 4096);
  m.input_scale = field<float>(h, "input_scale", where);
  m.classes = field<std::vector<std::string>>(h, "classes", where);
  if (h.contains("metadata")) m.metadata = h["metadata"];
  if (!h.contains("layers") || !h["layers"].is_array() || h["layers"].size() > 4096)
    throw FormatError(where + ": 'layers' missing or not an array of at most 4096");
  std::size_t off = 20 + hlen;
  auto read_floats = [&](std::size_t count, std::vector<float>& out, const std::string& what) {
    if (count > (bytes.size() - off) / 4)
      throw FormatError(where + ": " + what + " needs " + std::to_string(count) + " floats, file is truncated");
    out.resize(count);
    for (std::size_t i = 0; i < count; ++i) {
      const auto u = static_cast<std::uint32_t>(get_le(bytes, off + 4 * i, 4));
      std::memcpy(&out[i], &u, 4);
      if (!std::isfinite(out[i])) throw FormatError(where + ": " + what + " value " + std::to_string(i) + " is not finite");
    }
    off += 4 * count;
  };
  for (std::size_t i = 0; i < h["layers"].size(); ++i) {
    const auto& jl = h["layers"][i];
    const std::string lw = where + " layer " + std::to_string(i);
    if (!jl.is_object()) throw FormatError(lw + ": not an object");
    Layer l;
    l.kind = layer_kind_from_string(field<std::string>(jl, "kind", lw));
    if (l.kind == LayerKind::kConv2d) l.out_channels = int_field(jl, "out_channels", lw, 1, kMaxDim);
    if (l.kind == LayerKind::kConv2d || l.kind == LayerKind::kMeanPool2d) {
      l.kernel_h = int_field(jl, "kernel_h", lw, 1, 4096);
      l.kernel_w = int_field(jl, "kernel_w", lw, 1, 4096);
      l.stride = int_field(jl, "stride", lw, 1, 4096);
      l.padding = int_field(jl, "padding", lw, 0, 4096);
    }
    if (l.kind == LayerKind::kDense) l.out_features = int_field(jl, "out_features", lw, 1, 1 << 20);
    if (l.kind == LayerKind::kDropout) l.dropout_p = field<float>(jl, "p", lw);
    const auto wc = field<std::uint64_t>(jl, "weight_count", lw);
    const auto bc = field<std::uint64_t>(jl, "bias_count", lw);
    read_floats(wc, l.weight, lw + " weight");
    read_floats(bc, l.bias, lw + " bias");
    m.layers.push_back(std::move(l));
  }
  if (off != bytes.size())
    throw FormatError(where + ": " + std::to_string(bytes.size() - off) + " trailing bytes after the weights");
  try {
    m.validate();
  } catch (const InvalidArgument& e) {
    throw FormatError(where + ": " + e.what());
  }
  return m;
}

// ---------------------------------------------------------------- collapsing

namespace {

bool is_linear(LayerKind k) {
  return k == LayerKind::kConv2d || k == LayerKind::kDense || k == LayerKind::kMeanPool2d ||
         k == LayerKind::kFlatten || k == LayerKind::kDropout;
}

// A mean pool as a conv with per-channel diagonal weights 1/(kh*kw) and no bias.
Layer pool_as_conv(const Layer& p, int channels) {
  Layer c;
  c.kind = LayerKind::kConv2d;
  c.out_channels = channels;
  c.kernel_h = p.kernel_h;
  c.kernel_w = p.kernel_w;
  c.stride = p.stride;
  c.padding = p.padding;
  c.weight.assign(std::size_t(channels) * channels * p.kernel_h * p.kernel_w, 0.0f);
  c.bias.assign(channels, 0.0f);
  const float v = 1.0f / float(p.kernel_h * p.kernel_w);
  for (int ch = 0; ch < channels; ++ch)
    for (int u = 0; u < p.kernel_h * p.kernel_w; ++u)
      c.weight[(std::size_t(ch) * channels + ch) * p.kernel_h * p.kernel_w + u] = v;
  return c;
}

// conv B after conv A (B has no padding, so it never sees A's output outside A's grid):
// kernel kA + (kB-1)·sA, stride sA·sB, padding pA, weights W[o,i,·] = Σ_m B[o,m,·] ⊛ A[m,i,·],
// bias b = bB + Σ B·bA. Exact, computed in double.
Layer compose_conv(const Layer& a, int in_c, const Layer& b) {
  Layer c;
  c.kind = LayerKind::kConv2d;
  c.out_channels = b.out_channels;
  c.kernel_h = a.kernel_h + (b.kernel_h - 1) * a.stride;
  c.kernel_w = a.kernel_w + (b.kernel_w - 1) * a.stride;
  c.stride = a.stride * b.stride;
  c.padding = a.padding;
  const int mid = a.out_channels;
  std::vector<double> w(std::size_t(c.out_channels) * in_c * c.kernel_h * c.kernel_w, 0.0);
  for (int o = 0; o < b.out_channels; ++o)
    for (int m = 0; m < mid; ++m)
      for (int bu = 0; bu < b.kernel_h; ++bu)
        for (int bv = 0; bv < b.kernel_w; ++bv) {
          const double wb = b.weight[((std::size_t(o) * mid + m) * b.kernel_h + bu) * b.kernel_w + bv];
          if (wb == 0) continue;
          for (int i = 0; i < in_c; ++i)
            for (int au = 0; au < a.kernel_h; ++au)
              for (int av = 0; av < a.kernel_w; ++av) {
                const int u = bu * a.stride + au, v = bv * a.stride + av;
                w[((std::size_t(o) * in_c + i) * c.kernel_h + u) * c.kernel_w + v] +=
                    wb * a.weight[((std::size_t(m) * in_c + i) * a.kernel_h + au) * a.kernel_w + av];
              }
        }
  c.weight.assign(w.begin(), w.end());
  c.bias.resize(c.out_channels);
  for (int o = 0; o < b.out_channels; ++o) {
    double acc = b.bias[o];
    for (int m = 0; m < mid; ++m)
      for (int u = 0; u < b.kernel_h * b.kernel_w; ++u)
        acc += double(b.weight[(std::size_t(o) * mid + m) * b.kernel_h * b.kernel_w + u]) * a.bias[m];
    c.bias[o] = static_cast<float>(acc);
  }
  return c;
}

// Any chain of linear layers as one dense layer: the bias is f(0), column j is f(e_j) - f(0),
// evaluated in double. Only used after the first non-linearity, where activations are small.
Layer segment_as_dense(const std::vector<Layer>& seg, const Shape& in) {
  std::vector<Shape> shapes;
  Shape s = in;
  for (std::size_t i = 0; i < seg.size(); ++i) shapes.push_back(s = layer_output(i, seg[i], s));
  const int n_in = in.size(), n_out = s.size();
  auto run = [&](std::vector<double> x) {
    Shape cur = in;
    for (std::size_t i = 0; i < seg.size(); ++i) {
      x = layer_forward(seg[i], cur, shapes[i], x);
      cur = shapes[i];
    }
    return x;
  };
  require(std::size_t(n_in) * n_out <= (std::size_t(1) << 28),
          "collapse: linear segment " + std::to_string(n_in) + "->" + std::to_string(n_out) +
              " is too large to represent as one dense layer");
  const auto b = run(std::vector<double>(n_in, 0.0));
  Layer d;
  d.kind = LayerKind::kDense;
  d.out_features = n_out;
  d.bias.assign(b.begin(), b.end());
  d.weight.assign(std::size_t(n_out) * n_in, 0.0f);
  std::vector<double> e(n_in, 0.0);
  for (int j = 0; j < n_in; ++j) {
    e[j] = 1.0;
    const auto col = run(e);
    e[j] = 0.0;
    for (int o = 0; o < n_out; ++o) d.weight[std::size_t(o) * n_in + j] = static_cast<float>(col[o] - b[o]);
  }
  return d;
}

// Collapses one maximal run of linear layers into at most one conv or dense layer.
std::vector<Layer> collapse_segment(const std::vector<Layer>& seg, const Shape& in, bool first) {
  std::vector<Layer> weighted;  // dropout and flatten removed
  for (const auto& l : seg)
    if (l.kind != LayerKind::kDropout && l.kind != LayerKind::kFlatten) weighted.push_back(l);
  if (weighted.empty()) return {};
  if (weighted.size() == 1 && weighted[0].kind != LayerKind::kMeanPool2d) return weighted;
  // Try to keep a single convolution: every layer a conv or pool, later ones without padding.
  bool conv_chain = true;
  for (std::size_t i = 0; i < weighted.size(); ++i) {
    const auto k = weighted[i].kind;
    if (k != LayerKind::kConv2d && k != LayerKind::kMeanPool2d) conv_chain = false;
    if (i > 0 && weighted[i].padding != 0) conv_chain = false;
  }
  if (conv_chain) {
    Shape s = in;
    Layer acc = weighted[0].kind == LayerKind::kMeanPool2d ? pool_as_conv(weighted[0], in.c) : weighted[0];
    s = layer_output(0, acc, s);
    for (std::size_t i = 1; i < weighted.size(); ++i) {
      Layer next = weighted[i].kind == LayerKind::kMeanPool2d ? pool_as_conv(weighted[i], s.c) : weighted[i];
      Shape ns = layer_output(i, next, s);
      acc = compose_conv(acc, in.c, next);
      s = ns;
    }
    Shape direct = layer_output(0, acc, in);
    if (direct == s) return {acc};
  }
  (void)first;
  return {segment_as_dense(weighted, in)};
}

}  // namespace

Model collapse_linear(const Model& model) {
  model.validate();
  auto sh = model.shapes();
  Model out = model;
  out.layers.clear();
  // Drop a trailing softmax/sigmoid (argmax unchanged); any other use of them is not encryptable
  // but the float model stays valid, so they are kept where they are not final.
  std::size_t end = model.layers.size();
  while (end > 0 && (model.layers[end - 1].kind == LayerKind::kSoftmax ||
                     model.layers[end - 1].kind == LayerKind::kSigmoid ||
                     model.layers[end - 1].kind == LayerKind::kDropout ||
                     model.layers[end - 1].kind == LayerKind::kFlatten))
    --end;
  Shape in = model.input;
  bool first = true;
  std::size_t i = 0;
  while (i < end) {
    if (!is_linear(model.layers[i].kind)) {
      out.layers.push_back(model.layers[i]);
      in = sh[i];
      first = false;
      ++i;
      continue;
    }
    std::vector<Layer> seg;
    const Shape seg_in = in;
    while (i < end && is_linear(model.layers[i].kind)) {
      seg.push_back(model.layers[i]);
      in = sh[i];
      ++i;
    }
    for (auto& l : collapse_segment(seg, seg_in, first)) out.layers.push_back(std::move(l));
  }
  // A final conv output already has the classes as its size; dense input is flattened CHW.
  out.metadata["collapsed_from"] = model.layers.size();
  out.validate();
  return out;
}

// ---------------------------------------------------------------- CryptoNets CSV

namespace {

std::string csv_line(const std::vector<float>& v) {
  std::ostringstream os;
  os.precision(9);
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) os << ',';
    os << v[i];
  }
  os << '\n';
  return os.str();
}

}  // namespace

void write_cryptonets_csv(const Model& model, const std::filesystem::path& dir) {
  model.validate();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw IoError("cannot create directory '" + dir.string() + "': " + ec.message());
  std::string all_w, all_b;
  int k = 0;
  for (const auto& l : model.layers) {
    if (l.kind != LayerKind::kConv2d && l.kind != LayerKind::kDense) continue;
    const std::string w = csv_line(l.weight), b = csv_line(l.bias);
    const std::string stem = "layer" + std::to_string(k) + "_" + to_string(l.kind);
    write_file_atomic(dir / (stem + "_weights.csv"), w);
    write_file_atomic(dir / (stem + "_bias.csv"), b);
    all_w += w;
    all_b += b;
    ++k;
  }
  write_file_atomic(dir / "all_weights.csv", all_w);
  write_file_atomic(dir / "all_bias.csv", all_b);
}

}  // namespace leukocrypt::nn
