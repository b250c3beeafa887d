// Architectures and the conversion of trained sequential nets into nn::Model (batch norm folded).
#include "train/net.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "common/error.h"

namespace leukocrypt::train {
namespace {

const char* spec_name(SpecKind k) {
  switch (k) {
    case SpecKind::kConv2d: return "conv2d";
    case SpecKind::kDense: return "dense";
    case SpecKind::kBatchNorm2d: return "batchnorm2d";
    case SpecKind::kBatchNorm1d: return "batchnorm1d";
    case SpecKind::kSquare: return "square";
    case SpecKind::kReLU: return "relu";
    case SpecKind::kMeanPool2d: return "meanpool2d";
    case SpecKind::kMaxPool2d: return "maxpool2d";
    case SpecKind::kFlatten: return "flatten";
    case SpecKind::kDropout: return "dropout";
    case SpecKind::kSoftmax: return "softmax";
    case SpecKind::kSigmoid: return "sigmoid";
  }
  return "?";
}

LayerSpec conv(int out, int k, int stride, int pad) { return {SpecKind::kConv2d, out, k, stride, pad, 0}; }
LayerSpec dense(int out) { return {SpecKind::kDense, out, 0, 1, 0, 0}; }
LayerSpec simple(SpecKind k) { return {k, 0, 0, 1, 0, 0}; }
LayerSpec pool(SpecKind k, int size) { return {k, 0, size, size, 0, 0}; }
LayerSpec dropout(float p) { return {SpecKind::kDropout, 0, 0, 1, 0, p}; }

int conv_out(int n, int k, int s, int p) { return (n + 2 * p - k) / s + 1; }

// Shape after one spec; a flat vector is (features, 1, 1).
nn::Shape next_shape(const nn::Shape& in, const LayerSpec& s) {
  switch (s.kind) {
    case SpecKind::kConv2d:
      return {s.out, conv_out(in.h, s.kernel, s.stride, s.padding), conv_out(in.w, s.kernel, s.stride, s.padding)};
    case SpecKind::kMeanPool2d:
    case SpecKind::kMaxPool2d:
      return {in.c, conv_out(in.h, s.kernel, s.stride, s.padding), conv_out(in.w, s.kernel, s.stride, s.padding)};
    case SpecKind::kDense: return {s.out, 1, 1};
    case SpecKind::kFlatten: return {in.size(), 1, 1};
    default: return in;
  }
}

std::string shape_str(const nn::Shape& s) {
  std::ostringstream o;
  if (s.h == 1 && s.w == 1) o << s.c;
  else o << s.c << "x" << s.h << "x" << s.w;
  return o.str();
}

// The registered name of layer i, "l<i>_<kind>": the keys of saved checkpoints. Built with a stream,
// as is layer_label: GCC 12 prints a false -Wstringop-overflow from inside libstdc++'s inlined
// `"literal" + std::string` (string::insert at position 0) in Release builds.
std::string module_name(std::size_t i, SpecKind k) {
  std::ostringstream o;
  o << 'l' << i << '_' << spec_name(k);
  return o.str();
}

// The layer column of describe(): "conv2d 5x5/2", "dropout 0.25", "square".
std::string layer_label(const LayerSpec& s) {
  std::ostringstream o;
  o << spec_name(s.kind);
  if (s.kind == SpecKind::kConv2d || s.kind == SpecKind::kMeanPool2d || s.kind == SpecKind::kMaxPool2d)
    o << ' ' << s.kernel << 'x' << s.kernel << '/' << s.stride;
  if (s.kind == SpecKind::kDropout) o << ' ' << std::to_string(s.p).substr(0, 4);
  return o.str();
}

// ResNet basic block (He et al. 2016): two 3x3 convs with batch norm, identity or 1x1 shortcut.
class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(int in, int out, int stride) {
    using namespace torch::nn;
    c1 = register_module("c1", Conv2d(Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)));
    b1 = register_module("b1", BatchNorm2d(out));
    c2 = register_module("c2", Conv2d(Conv2dOptions(out, out, 3).padding(1).bias(false)));
    b2 = register_module("b2", BatchNorm2d(out));
    if (stride != 1 || in != out) {
      sc = register_module("sc", Conv2d(Conv2dOptions(in, out, 1).stride(stride).bias(false)));
      sb = register_module("sb", BatchNorm2d(out));
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    auto y = torch::relu(b1(c1(x)));
    y = b2(c2(y));
    auto s = sc ? sb(sc(x)) : x;
    return torch::relu(y + s);
  }
  torch::nn::Conv2d c1{nullptr}, c2{nullptr}, sc{nullptr};
  torch::nn::BatchNorm2d b1{nullptr}, b2{nullptr}, sb{nullptr};
};
TORCH_MODULE(BasicBlock);

// ResNet-8-style for 32x32 inputs: stem + three stages (16, 32, 64 maps) + global mean pool + dense.
class ResNetImpl : public NetImpl {
 public:
  ResNetImpl(const nn::Shape& input, int num_classes) {
    using namespace torch::nn;
    stem = register_module("stem", Conv2d(Conv2dOptions(input.c, 16, 3).padding(1).bias(false)));
    bn = register_module("bn", BatchNorm2d(16));
    s1 = register_module("s1", BasicBlock(16, 16, 1));
    s2 = register_module("s2", BasicBlock(16, 32, 2));
    s3 = register_module("s3", BasicBlock(32, 64, 2));
    fc = register_module("fc", Linear(64, num_classes));
  }
  torch::Tensor features(torch::Tensor x) override {
    x = torch::relu(bn(stem(x)));
    x = s3(s2(s1(x)));
    return x.mean({2, 3});
  }
  torch::Tensor forward(torch::Tensor x) override { return fc(features(x)); }
  std::string output_kind() const override { return "softmax"; }
  std::string describe() const override {
    return "resnet: conv3x3(16)+bn+relu, basic blocks 16/32(s2)/64(s2), global mean pool, dense\n";
  }
  torch::nn::Conv2d stem{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  BasicBlock s1{nullptr}, s2{nullptr}, s3{nullptr};
  torch::nn::Linear fc{nullptr};
};

}  // namespace

int64_t NetImpl::parameter_count() {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

SequentialNetImpl::SequentialNetImpl(std::vector<LayerSpec> specs, nn::Shape input)
    : specs_(std::move(specs)), input_(input) {
  using namespace torch::nn;
  nn::Shape shape = input;
  for (std::size_t i = 0; i < specs_.size(); ++i) {
    const auto& s = specs_[i];
    const std::string name = module_name(i, s.kind);
    std::shared_ptr<Module> m;
    switch (s.kind) {
      case SpecKind::kConv2d:
        m = register_module(name, Conv2d(Conv2dOptions(shape.c, s.out, s.kernel).stride(s.stride).padding(s.padding)));
        break;
      case SpecKind::kDense:
        require(shape.h == 1 && shape.w == 1, "dense layer " + std::to_string(i) + " needs a flattened input");
        m = register_module(name, Linear(shape.c, s.out));
        features_end_ = i;
        break;
      case SpecKind::kBatchNorm2d: m = register_module(name, BatchNorm2d(shape.c)); break;
      case SpecKind::kBatchNorm1d: m = register_module(name, BatchNorm1d(shape.c)); break;
      case SpecKind::kDropout: m = register_module(name, Dropout(s.p)); break;
      default: break;
    }
    modules_.push_back(m);
    shape = next_shape(shape, s);
    require(shape.c > 0 && shape.h > 0 && shape.w > 0,
            "layer " + std::to_string(i) + " (" + spec_name(s.kind) + ") leaves an empty output for input " +
                shape_str(input));
  }
}

torch::Tensor SequentialNetImpl::run(torch::Tensor x, std::size_t end) {
  for (std::size_t i = 0; i < end; ++i) {
    const auto& s = specs_[i];
    switch (s.kind) {
      case SpecKind::kConv2d: x = std::dynamic_pointer_cast<torch::nn::Conv2dImpl>(modules_[i])->forward(x); break;
      case SpecKind::kDense: x = std::dynamic_pointer_cast<torch::nn::LinearImpl>(modules_[i])->forward(x); break;
      case SpecKind::kBatchNorm2d: x = std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(modules_[i])->forward(x); break;
      case SpecKind::kBatchNorm1d: x = std::dynamic_pointer_cast<torch::nn::BatchNorm1dImpl>(modules_[i])->forward(x); break;
      case SpecKind::kDropout: x = std::dynamic_pointer_cast<torch::nn::DropoutImpl>(modules_[i])->forward(x); break;
      case SpecKind::kSquare: x = x * x; break;
      case SpecKind::kReLU: x = torch::relu(x); break;
      case SpecKind::kMeanPool2d:
        x = torch::avg_pool2d(x, {s.kernel, s.kernel}, {s.stride, s.stride}, {s.padding, s.padding},
                              /*ceil_mode=*/false, /*count_include_pad=*/true);
        break;
      case SpecKind::kMaxPool2d:
        x = torch::max_pool2d(x, {s.kernel, s.kernel}, {s.stride, s.stride}, {s.padding, s.padding});
        break;
      case SpecKind::kFlatten: x = x.flatten(1); break;
      case SpecKind::kSoftmax:
      case SpecKind::kSigmoid: break;  // applied by the loss; kept in the exported model
    }
  }
  return x;
}

torch::Tensor SequentialNetImpl::forward(torch::Tensor x) { return run(x, specs_.size()); }
torch::Tensor SequentialNetImpl::features(torch::Tensor x) { return run(x, features_end_); }

std::string SequentialNetImpl::output_kind() const {
  return !specs_.empty() && specs_.back().kind == SpecKind::kSigmoid ? "sigmoid" : "softmax";
}

std::string SequentialNetImpl::describe() const {
  std::ostringstream o;
  nn::Shape shape = input_;
  o << "  #  layer              output      params\n";
  o << "  -  input              " << shape_str(shape) << "\n";
  for (std::size_t i = 0; i < specs_.size(); ++i) {
    const auto& s = specs_[i];
    shape = next_shape(shape, s);
    int64_t params = 0;
    if (modules_[i])
      for (const auto& p : modules_[i]->parameters()) params += p.numel();
    char line[128];
    std::snprintf(line, sizeof line, "%3zu  %-18s %-11s %lld\n", i + 1, layer_label(s).c_str(),
                  shape_str(shape).c_str(), static_cast<long long>(params));
    o << line;
  }
  return o.str();
}

std::vector<LayerSpec> cnn_specs(bool square, int num_classes, const CnnWidths& w) {
  // 14 layers without batch norm (folded at export): 3 convolutions, 3 activations (x² or ReLU
  // twice, then softmax or sigmoid), 3 mean poolings, 2 dropouts, flatten, 2 dense.
  // Between the two activations everything is linear, so the encrypted network collapses to
  // conv -> x² -> dense -> x² -> dense (multiplicative depth 2).
  const SpecKind act = square ? SpecKind::kSquare : SpecKind::kReLU;
  return {
      conv(w.conv1, w.conv1_kernel, w.conv1_stride, (w.conv1_kernel - w.conv1_stride + 1) / 2),
      simple(SpecKind::kBatchNorm2d), simple(act), pool(SpecKind::kMeanPool2d, 2),
      conv(w.conv2, 3, 1, 1), pool(SpecKind::kMeanPool2d, 2),
      conv(w.conv3, 3, 1, 1), pool(SpecKind::kMeanPool2d, 2),
      simple(SpecKind::kFlatten), dropout(w.dropout),
      dense(w.hidden), simple(SpecKind::kBatchNorm1d), simple(act), dropout(w.dropout),
      dense(num_classes), simple(square ? SpecKind::kSoftmax : SpecKind::kSigmoid),
  };
}

std::vector<LayerSpec> cryptonets_mnist_specs(int num_classes) {
  // CryptoNets (Gilad-Bachrach et al. 2016, Table 1) after its own collapsing: conv 5x5 stride 2
  // to 5x13x13 = 845, x², dense 845 -> 100 (their mean pool + conv + pool merged), x², dense -> 10.
  // Symmetric padding 1 on 28x28 gives 13x13 like their one-sided padding (the last row is unused).
  return {
      conv(5, 5, 2, 1), simple(SpecKind::kBatchNorm2d), simple(SpecKind::kSquare), simple(SpecKind::kFlatten),
      dense(100), simple(SpecKind::kBatchNorm1d), simple(SpecKind::kSquare),
      dense(num_classes), simple(SpecKind::kSoftmax),
  };
}

std::vector<std::string> known_archs() {
  return {"cnn-x2", "cnn-relu", "cryptonets-mnist", "alexnet", "vgg", "resnet"};
}

Net make_net(const std::string& arch, const nn::Shape& input, int num_classes, const CnnWidths& widths) {
  require(num_classes >= 2, "number of classes must be at least 2, got " + std::to_string(num_classes));
  const auto mp = pool(SpecKind::kMaxPool2d, 2);
  const auto relu = simple(SpecKind::kReLU);
  if (arch == "cnn-x2" || arch == "cnn-relu") {
    require(widths.conv1_kernel >= 1 && widths.conv1_stride >= 1 && widths.conv1_stride <= widths.conv1_kernel,
            "first convolution: stride " + std::to_string(widths.conv1_stride) + " must be in [1, kernel " +
                std::to_string(widths.conv1_kernel) + "]");
    require(widths.conv1_kernel <= std::min(input.h, input.w),
            "first convolution: kernel " + std::to_string(widths.conv1_kernel) + " is larger than the " +
                std::to_string(input.h) + "x" + std::to_string(input.w) + " input");
    return std::make_shared<SequentialNetImpl>(cnn_specs(arch == "cnn-x2", num_classes, widths), input);
  }
  if (arch == "cryptonets-mnist")
    return std::make_shared<SequentialNetImpl>(cryptonets_mnist_specs(num_classes), input);
  if (arch == "alexnet") {
    // AlexNet (Krizhevsky et al. 2012) layout scaled to 32x32: 5 convs, 3 max pools, 3 dense.
    return std::make_shared<SequentialNetImpl>(
        std::vector<LayerSpec>{conv(32, 5, 1, 2), relu, mp, conv(64, 5, 1, 2), relu, mp, conv(96, 3, 1, 1), relu,
                               conv(96, 3, 1, 1), relu, conv(64, 3, 1, 1), relu, mp,
                               simple(SpecKind::kFlatten), dropout(0.5f), dense(256), relu, dropout(0.5f),
                               dense(256), relu, dense(num_classes), simple(SpecKind::kSoftmax)},
        input);
  }
  if (arch == "vgg") {
    // VGG (Simonyan & Zisserman 2015) pattern: pairs of 3x3 convs + batch norm, max pool, 3 stages.
    std::vector<LayerSpec> s;
    for (int width : {16, 32, 64}) {
      for (int r = 0; r < 2; ++r) {
        s.push_back(conv(width, 3, 1, 1));
        s.push_back(simple(SpecKind::kBatchNorm2d));
        s.push_back(relu);
      }
      s.push_back(mp);
    }
    for (auto l : {simple(SpecKind::kFlatten), dropout(0.5f), dense(128), relu, dropout(0.5f), dense(num_classes),
                   simple(SpecKind::kSoftmax)})
      s.push_back(l);
    return std::make_shared<SequentialNetImpl>(s, input);
  }
  if (arch == "resnet") return std::make_shared<ResNetImpl>(input, num_classes);
  std::string names;
  for (const auto& a : known_archs()) names += (names.empty() ? "" : ", ") + a;
  throw InvalidArgument("unknown architecture '" + arch + "' (known: " + names + ")");
}

nn::Model to_nn_model(SequentialNetImpl& net, const std::string& name, const std::string& variant,
                      const std::vector<std::string>& classes) {
  torch::NoGradGuard no_grad;
  nn::Model model;
  model.name = name;
  model.variant = variant;
  model.input = net.input();
  model.classes = classes;
  auto to_vec = [](const torch::Tensor& t) {
    auto c = t.detach().to(torch::kFloat32).contiguous();
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  };
  const auto& specs = net.specs();
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const auto& s = specs[i];
    nn::Layer l;
    switch (s.kind) {
      case SpecKind::kConv2d: {
        auto m = std::dynamic_pointer_cast<torch::nn::Conv2dImpl>(net.module_at(i));
        l.kind = nn::LayerKind::kConv2d;
        l.out_channels = s.out;
        l.kernel_h = l.kernel_w = s.kernel;
        l.stride = s.stride;
        l.padding = s.padding;
        l.weight = to_vec(m->weight);
        l.bias = m->bias.defined() ? to_vec(m->bias) : std::vector<float>(s.out, 0.0f);
        break;
      }
      case SpecKind::kDense: {
        auto m = std::dynamic_pointer_cast<torch::nn::LinearImpl>(net.module_at(i));
        l.kind = nn::LayerKind::kDense;
        l.out_features = s.out;
        l.weight = to_vec(m->weight);
        l.bias = to_vec(m->bias);
        break;
      }
      case SpecKind::kBatchNorm2d:
      case SpecKind::kBatchNorm1d: {
        // Fold y = gamma (x - mean) / sqrt(var + eps) + beta into the preceding conv/dense.
        require(!model.layers.empty() && (model.layers.back().kind == nn::LayerKind::kConv2d ||
                                          model.layers.back().kind == nn::LayerKind::kDense),
                "batch norm at layer " + std::to_string(i) + " does not follow a conv/dense layer; cannot fold");
        torch::Tensor mean, var, gamma, beta;
        double eps;
        if (s.kind == SpecKind::kBatchNorm2d) {
          auto m = std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(net.module_at(i));
          mean = m->running_mean; var = m->running_var; gamma = m->weight; beta = m->bias; eps = m->options.eps();
        } else {
          auto m = std::dynamic_pointer_cast<torch::nn::BatchNorm1dImpl>(net.module_at(i));
          mean = m->running_mean; var = m->running_var; gamma = m->weight; beta = m->bias; eps = m->options.eps();
        }
        auto scale = to_vec(gamma.to(torch::kFloat64) / torch::sqrt(var.to(torch::kFloat64) + eps));
        auto mu = to_vec(mean), b = to_vec(beta);
        auto& prev = model.layers.back();
        const std::size_t outs = prev.bias.size();
        require(scale.size() == outs, "batch norm width does not match the preceding layer");
        const std::size_t per_out = prev.weight.size() / outs;
        for (std::size_t o = 0; o < outs; ++o) {
          for (std::size_t k = 0; k < per_out; ++k) prev.weight[o * per_out + k] *= scale[o];
          prev.bias[o] = (prev.bias[o] - mu[o]) * scale[o] + b[o];
        }
        continue;
      }
      case SpecKind::kSquare: l.kind = nn::LayerKind::kSquare; break;
      case SpecKind::kReLU: l.kind = nn::LayerKind::kReLU; break;
      case SpecKind::kSigmoid: l.kind = nn::LayerKind::kSigmoid; break;
      case SpecKind::kSoftmax: l.kind = nn::LayerKind::kSoftmax; break;
      case SpecKind::kFlatten: l.kind = nn::LayerKind::kFlatten; break;
      case SpecKind::kDropout: l.kind = nn::LayerKind::kDropout; l.dropout_p = s.p; break;
      case SpecKind::kMeanPool2d:
        l.kind = nn::LayerKind::kMeanPool2d;
        l.kernel_h = l.kernel_w = s.kernel;
        l.stride = s.stride;
        l.padding = s.padding;
        break;
      case SpecKind::kMaxPool2d:
        throw InvalidArgument("layer " + std::to_string(i) + " is max pooling, which has no encrypted equivalent; "
                              "only the cnn-x2/cnn-relu/cryptonets-mnist nets convert to nn::Model");
    }
    model.layers.push_back(std::move(l));
  }
  return model;
}

}  // namespace leukocrypt::train
