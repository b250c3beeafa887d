// `leukocrypt train`, `compare`, `export` in the main binary: forwarded to `leukocrypt-train`
// (built beside it from cmd_train.cpp), the only executable that links libtorch. Loading libtorch
// costs about a second at every start, so the commands that never train do not pay for it.
#include "command.h"
#include "forward.h"

namespace leukocrypt::cli {
namespace {

void register_train_forwarders(CLI::App& root) {
  const std::string bin = "leukocrypt-train", env = "LEUKOCRYPT_TRAIN_BIN";
  add_forwarder(root, "train",
                "Train the CryptoNets-friendly CNN (x² or ReLU) on a prepared dataset, or the CryptoNets MNIST network",
                bin, env);
  add_forwarder(root, "compare", "Compare with the paper's baselines (SVM, AlexNet-, VGG-, ResNet-style) on both protocols",
                bin, env);
  add_forwarder(root, "export", "Export a model: native, CryptoNets CSV, collapsed, quantised (+accuracy)", bin, env);
}

const CommandRegistrar kRegistrar(300, register_train_forwarders);

}  // namespace
}  // namespace leukocrypt::cli
