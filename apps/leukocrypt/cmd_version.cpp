// `leukocrypt info`: version, build features and the machine's CPU features.
#include "command.h"
#include "he/kernels/dispatch.h"

namespace leukocrypt::cli {
namespace {

void register_info(CLI::App& root) {
  auto* cmd = root.add_subcommand("info", "Show version and build features");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Machine-readable output");
  cmd->callback([json] {
    nlohmann::json j;
    j["version"] = LEUKOCRYPT_VERSION;
#ifdef LEUKOCRYPT_HAVE_LC_TRAIN
    j["training"] = true;
#else
    j["training"] = false;
#endif
    j["default_data_dir"] = default_data_dir();
    j["kernels"] = {{"active", he::to_string(he::active_isa())},
                    {"best_supported", he::to_string(he::best_supported_isa())}};
    if (*json) {
      print_json(j);
    } else {
      std::cout << "leukocrypt " << LEUKOCRYPT_VERSION << "\n"
                << "training (libtorch): " << (j["training"].get<bool>() ? "yes" : "no") << "\n"
                << "HE kernels: " << j["kernels"]["active"].get<std::string>() << " (best on this CPU: "
                << j["kernels"]["best_supported"].get<std::string>() << "; LEUKOCRYPT_KERNELS=scalar forces the reference)\n"
                << "default data dir: " << j["default_data_dir"].get<std::string>() << "\n";
    }
  });
}

const CommandRegistrar kRegistrar(1000, register_info);

}  // namespace
}  // namespace leukocrypt::cli
