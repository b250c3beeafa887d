// The clinic's packing choice (see packing.h).
#include "clinic/packing.h"

#include "service/wire/he_layout.h"

namespace leukocrypt::clinic {

nlohmann::json make_keys(const nlohmann::json& card, const client::KeyPaths& paths) {
  return client::keygen(wire::settings_from_json(card, "the provider's model card"), paths, card, true);
}

void encrypt_request(const client::KeyHolder& keys, const std::vector<client::CellInput>& cells,
                     const std::string& model_id, const std::filesystem::path& out,
                     const std::function<void(std::size_t, std::size_t)>& on_progress) {
  keys.encrypt_to_file(cells, model_id, out, nullptr, on_progress);
}

}  // namespace leukocrypt::clinic
