// The clinic's packing choice (see packing.h).
#include "clinic/packing.h"

#include "nn/ckks_settings.h"
#include "service/wire/he_layout.h"

namespace leukocrypt::clinic {

nlohmann::json make_keys(const nlohmann::json& card, const client::KeyPaths& paths, bool allow_insecure_for_tests) {
  const std::string what = "the provider's model card";
  // The card names its scheme (a CKKS provider: "scheme": "ckks"); CKKS parameters serve the one
  // layout they were chosen for (Galois keys when it is latency), and planned_layout keeps to it.
  if (nn::is_ckks_document(card))
    return client::keygen(nn::ckks_settings_from_json(card, what, allow_insecure_for_tests), paths, card, true);
  return client::keygen(wire::settings_from_json(card, what, allow_insecure_for_tests), paths, card, true);
}

nn::Layout planned_layout(const nlohmann::json& card, std::size_t cells) {
  if (nn::is_ckks_document(card))  // CKKS keys serve the card's one layout, whatever the cell count
    return card.is_object() && card.value("layout", "") == "latency" ? nn::Layout::kLatency : nn::Layout::kThroughput;
  bool served = false;
  if (card.is_object() && card.contains("layouts") && card["layouts"].is_array())
    for (const auto& l : card["layouts"]) served = served || l == "latency";
  return served && cells <= kLatencyMaxCells ? nn::Layout::kLatency : nn::Layout::kThroughput;
}

nn::Layout choose_layout(const client::KeyHolder& keys, const nlohmann::json& card, std::size_t cells) {
  const bool keys_can = keys.info().contains("latency") && keys.info()["latency"].is_object();
  return keys_can ? planned_layout(card, cells) : nn::Layout::kThroughput;
}

nn::Layout encrypt_request(client::KeyHolder& keys, const nlohmann::json& card, const std::vector<client::CellInput>& cells,
                           const std::filesystem::path& out,
                           const std::function<void(std::size_t, std::size_t)>& on_progress) {
  const auto layout = choose_layout(keys, card, cells.size());
  keys.set_layout(layout);
  keys.encrypt_to_file(cells, card.value("model_id", ""), out, nullptr, on_progress);
  return layout;
}

}  // namespace leukocrypt::clinic
