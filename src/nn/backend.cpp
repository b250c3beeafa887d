// Shared backend output helpers.
#include "nn/backend.h"

#include <algorithm>

namespace leukocrypt::nn {

int BatchOutput::predicted(std::size_t image) const {
  if (!exact.empty()) {
    auto b = exact.begin() + std::ptrdiff_t(image * outputs);
    return int(std::max_element(b, b + std::ptrdiff_t(outputs)) - b);
  }
  auto b = logits.begin() + std::ptrdiff_t(image * outputs);
  return int(std::max_element(b, b + std::ptrdiff_t(outputs)) - b);
}

nlohmann::json RunReport::to_json() const {
  nlohmann::json steps_j = nlohmann::json::array();
  for (const auto& s : steps) {
    nlohmann::json j{{"name", s.name}, {"op", to_string(s.kind)}, {"seconds", s.seconds}};
    if (s.bits > 0) {
      j["max_abs"] = to_string128(Int128(s.max_abs));
      j["bits"] = s.bits;
    }
    if (s.noise_budget_bits >= 0) j["noise_budget_bits"] = s.noise_budget_bits;
    if (s.cpu_seconds >= 0) j["cpu_seconds"] = s.cpu_seconds;
    steps_j.push_back(j);
  }
  nlohmann::json j{{"backend", backend}, {"steps", steps_j}, {"evaluate_seconds", evaluate_seconds}};
  if (backend == "bfv") {
    j["encode_seconds"] = encode_seconds;
    j["encrypt_seconds"] = encrypt_seconds;
    j["decrypt_seconds"] = decrypt_seconds;
    if (client_cpu_seconds >= 0) j["client_cpu_seconds"] = client_cpu_seconds;
    if (server_cpu_seconds >= 0) j["server_cpu_seconds"] = server_cpu_seconds;
    j["bytes_sent"] = bytes_sent;
    j["bytes_received"] = bytes_received;
    j["batches"] = batches;
  }
  return j;
}

}  // namespace leukocrypt::nn
