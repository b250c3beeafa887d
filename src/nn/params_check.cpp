// params.json ↔ model fingerprint check (see params_check.h).
#include "nn/params_check.h"

#include "common/error.h"
#include "common/hash.h"

namespace leukocrypt::nn {

std::string model_fingerprint(std::string_view model_file_bytes) {
  return "fnv1a64:" + hex64(fnv1a64(model_file_bytes));
}

void check_params_match_model(const nlohmann::json& params_doc, std::string_view model_file_bytes,
                              const std::string& params_what, const std::string& model_what) {
  if (!params_doc.is_object() || !params_doc.contains("model_fingerprint")) return;
  const auto& recorded = params_doc["model_fingerprint"];
  if (!recorded.is_string()) throw FormatError(params_what + ": model_fingerprint is not a string");
  const auto actual = model_fingerprint(model_file_bytes);
  if (recorded.get<std::string>() != actual)
    throw InvalidArgument(params_what + " was chosen for another model (fingerprint " + recorded.get<std::string>() +
                          ", " + model_what + " has " + actual +
                          "): its quantisation and primes may not fit this model; run `leukocrypt params --model " +
                          model_what + " ...` again");
}

}  // namespace leukocrypt::nn
