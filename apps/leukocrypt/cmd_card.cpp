// `leukocrypt card`: the provider's model card without a server (what GET /v1/model serves).
#include "command.h"
#include "common/error.h"

#ifdef LEUKOCRYPT_SERVICE_HE
#include "service/he_job_runner.h"
#endif

namespace leukocrypt::cli {
namespace {

// `leukocrypt card`: the model card GET /v1/model would serve, without a server (offline keygen:
// `leukocrypt card ... > model.json && leukocrypt keygen --params model.json`).
void register_card(CLI::App& root) {
  auto model = std::make_shared<std::string>();
  auto params = std::make_shared<std::string>();
  auto insecure = std::make_shared<bool>(false), no_privacy = std::make_shared<bool>(false);
  auto* cmd = root.add_subcommand("card", "Provider: print the model card (what GET /v1/model serves)");
  cmd->add_option("--model", *model, "Model file (native format)")->required();
  cmd->add_option("--params", *params, "params.json")->required();
  add_insecure_flag(cmd, *insecure);
  add_no_circuit_privacy_flag(cmd, *no_privacy);
  cmd->callback([model, params, insecure, no_privacy] {
#ifdef LEUKOCRYPT_SERVICE_HE
    auto card = service::make_he_runner({*model, *params, {}, *insecure, !*no_privacy, {}})->model_card();
    warn_insecure_card(card);
    print_json(card);
#else
    throw Error("this build has no encrypted-inference runner (lc_nn/lc_he missing)");
#endif
  });
}

const CommandRegistrar kCardRegistrar(801, register_card);

}  // namespace
}  // namespace leukocrypt::cli
