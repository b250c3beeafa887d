// `leukocrypt train`, `compare`, `export` in the main binary: forwarded to `leukocrypt-train`
// (built beside it from cmd_train.cpp), the only executable that links libtorch. Loading libtorch
// costs about a second at every start, so the commands that never train do not pay for it.
// The forwarder passes every argument through (--help included) and replaces this process, so
// output, exit code and signals are those of the training binary.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "command.h"
#include "common/error.h"

namespace leukocrypt::cli {
namespace {

std::filesystem::path training_binary() {
  if (const char* env = std::getenv("LEUKOCRYPT_TRAIN_BIN")) return env;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw IoError("cannot locate the leukocrypt executable (/proc/self/exe): " + ec.message());
  return self.parent_path() / "leukocrypt-train";
}

[[noreturn]] void forward(const std::string& name, const std::vector<std::string>& rest) {
  const auto bin = training_binary();
  std::vector<std::string> args{"leukocrypt", name};
  args.insert(args.end(), rest.begin(), rest.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(bin.c_str(), argv.data());
  throw IoError("cannot run the training binary " + bin.string() + ": " + std::strerror(errno) +
                " (build the target leukocrypt-train, or set LEUKOCRYPT_TRAIN_BIN)");
}

void add_forwarder(CLI::App& root, const std::string& name, const std::string& description) {
  auto* cmd = root.add_subcommand(name, description);
  cmd->prefix_command();   // everything after the name is passed through untouched
  cmd->set_help_flag();    // ... --help included: the training binary prints the real help
  cmd->callback([cmd, name] { forward(name, cmd->remaining()); });
}

void register_train_forwarders(CLI::App& root) {
  add_forwarder(root, "train",
                "Train the CryptoNets-friendly CNN (x² or ReLU) on a prepared dataset, or the CryptoNets MNIST network");
  add_forwarder(root, "compare", "Compare with the paper's baselines (SVM, AlexNet-, VGG-, ResNet-style) on both protocols");
  add_forwarder(root, "export", "Export a model: native, CryptoNets CSV, collapsed, quantised (+accuracy)");
}

const CommandRegistrar kRegistrar(300, register_train_forwarders);

}  // namespace
}  // namespace leukocrypt::cli
