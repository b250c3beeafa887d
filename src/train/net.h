// Network architectures trained with libtorch: the paper's CryptoNets-friendly CNN (x² and ReLU
// variants), the CryptoNets MNIST network, and the from-scratch baselines (AlexNet-, VGG-,
// ResNet-style). Sequential nets are described by a list of LayerSpec so that the trained weights
// convert one-to-one into an nn::Model (batch norm folded into the preceding linear layer).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "nn/model.h"

namespace leukocrypt::train {

enum class SpecKind {
  kConv2d, kDense, kBatchNorm2d, kBatchNorm1d, kSquare, kReLU, kMeanPool2d, kMaxPool2d,
  kFlatten, kDropout, kSoftmax, kSigmoid,
};

struct LayerSpec {
  SpecKind kind;
  int out = 0;            // conv out_channels / dense out_features
  int kernel = 0, stride = 1, padding = 0;
  float p = 0.0f;         // dropout probability
};

// Width knobs of the CryptoNets-friendly CNN (src/train/README.md explains the choice).
struct CnnWidths {
  int conv1 = 5;    // maps of the first (encrypted, squared) convolution
  int conv2 = 16;
  int conv3 = 32;
  int hidden = 32;  // units of the first dense layer (second x² layer)
  float dropout = 0.25f;
  // First convolution's kernel and stride; padding (kernel - stride + 1) / 2 gives
  // ceil(side / stride) outputs per side (5, 2 on 32x32 -> 16x16; 8, 4 on 64x64 -> 16x16).
  int conv1_kernel = 5;
  int conv1_stride = 2;
};

// Every trainable network: logits out (the final softmax/sigmoid is applied by the loss and kept
// in the exported nn::Model only), and the penultimate features for the SVM-on-features baseline.
class NetImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  virtual torch::Tensor features(torch::Tensor x) = 0;
  // "softmax" (cross-entropy loss) or "sigmoid" (binary cross-entropy on one-hot targets).
  virtual std::string output_kind() const = 0;
  virtual std::string describe() const = 0;
  int64_t parameter_count();
};
using Net = std::shared_ptr<NetImpl>;

class SequentialNetImpl : public NetImpl {
 public:
  SequentialNetImpl(std::vector<LayerSpec> specs, nn::Shape input);
  torch::Tensor forward(torch::Tensor x) override;
  torch::Tensor features(torch::Tensor x) override;
  std::string output_kind() const override;
  std::string describe() const override;

  const std::vector<LayerSpec>& specs() const { return specs_; }
  const nn::Shape& input() const { return input_; }
  // The module of spec i (nullptr for parameter-free layers).
  std::shared_ptr<torch::nn::Module> module_at(std::size_t i) const { return modules_[i]; }

 private:
  torch::Tensor run(torch::Tensor x, std::size_t end);
  std::vector<LayerSpec> specs_;
  nn::Shape input_;
  std::vector<std::shared_ptr<torch::nn::Module>> modules_;
  std::size_t features_end_ = 0;  // specs [0, features_end_) produce the penultimate features
};

// Architectures: "cnn-x2", "cnn-relu" (the paper's 14-layer net), "cryptonets-mnist",
// "alexnet", "vgg", "resnet". Throws InvalidArgument naming an unknown arch.
Net make_net(const std::string& arch, const nn::Shape& input, int num_classes,
             const CnnWidths& widths = {});
std::vector<std::string> known_archs();
std::vector<LayerSpec> cnn_specs(bool square, int num_classes, const CnnWidths& widths);
std::vector<LayerSpec> cryptonets_mnist_specs(int num_classes);

// Converts a trained sequential net into the float model description: batch norm is folded into
// the preceding conv/dense, everything else maps one-to-one. Throws InvalidArgument for layers
// with no nn::Model equivalent (max pooling, residual nets).
nn::Model to_nn_model(SequentialNetImpl& net, const std::string& name, const std::string& variant,
                      const std::vector<std::string>& classes);

}  // namespace leukocrypt::train
