// Which model a params.json belongs to. `leukocrypt params` records the model file's fingerprint;
// whoever evaluates with that params.json (eval, infer, serve) checks it, so a model replaced after
// its parameters were chosen is refused instead of silently re-quantised or overflowing.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace leukocrypt::nn {

// "fnv1a64:<16 hex digits>" of the model file's bytes.
std::string model_fingerprint(std::string_view model_file_bytes);

// Throws InvalidArgument when params_doc records a "model_fingerprint" that differs from the
// model's. Documents without one (older params.json, hand-written settings) pass.
void check_params_match_model(const nlohmann::json& params_doc, std::string_view model_file_bytes,
                              const std::string& params_what, const std::string& model_what);

}  // namespace leukocrypt::nn
