// The key holder's operations on files (what `leukocrypt keygen|encrypt|decrypt|screen` run):
// key generation into a key directory, preprocessing + packing + seeded encryption of cells into a
// request container, and decryption of a result container into per-cell labels and softmax
// probabilities. Built on nn::BfvKeyHolder (lc_nn_keyholder); holds the secret key, so it is never
// linked by the service.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "client/key_files.h"
#include "nn/bfv_settings.h"
#include "nn/ckks_settings.h"
#include "nn/int128.h"

namespace leukocrypt::nn {
class BfvKeyHolder;
class CkksKeyHolder;
}

namespace leukocrypt::client {

// Fresh keys for `settings` written to paths (secret.key 0600, public.key, eval.key, keys.json).
// `card` (optional: a model card or params.json object) contributes model_id and input shape to
// keys.json so `encrypt` needs no further options. Returns keys.json.
nlohmann::json keygen(const nn::BfvSettings& settings, const KeyPaths& paths, const nlohmann::json& card,
                      bool overwrite);

// CKKS keys (one secret key; eval.key = relinearisation key + public key; keys.json "scheme":
// "ckks"). `card` must carry "input_scale" (the model's pixel scale: the key holder encrypts
// pixel x input_scale) and may carry model_id, input and classes as for BFV.
nlohmann::json keygen(const nn::CkksSettings& settings, const KeyPaths& paths, const nlohmann::json& card,
                      bool overwrite);

struct CellInput {
  std::string name;                 // file name or dataset source
  std::vector<std::uint8_t> pixels; // 3*S*S planar RGB, 0..255 (the model's input layout)
};

struct EncryptStats {
  double encode_seconds = 0, encrypt_seconds = 0;
  std::size_t bytes = 0;        // whole request container
  std::size_t batches = 0;
};

struct CellResult {
  std::string name;
  int label = 0;
  std::string class_name;
  double probability = 0;          // softmax probability of the predicted class
  std::vector<double> logits;      // float-scale logits (BFV: exact integer logits / output scale; CKKS: approximate)
  std::vector<std::string> exact;  // BFV: exact integer logits as decimal strings; CKKS: empty
};

struct DecryptStats {
  double decrypt_seconds = 0, decode_seconds = 0;
  std::size_t bytes = 0;
};

class KeyHolder {
 public:
  // Loads keys.json and secret.key (checks mode 0600) from the key directory. Keys for a set below
  // 128-bit security load only with allow_insecure_for_tests (the CLI's --insecure-for-tests).
  explicit KeyHolder(const KeyPaths& paths, bool allow_insecure_for_tests = false);
  ~KeyHolder();
  KeyHolder(KeyHolder&&) noexcept;
  KeyHolder& operator=(KeyHolder&&) noexcept;

  const nlohmann::json& info() const { return info_; }
  const std::string& key_id() const { return key_id_; }
  std::uint64_t params_id() const { return params_id_; }
  // "bfv" or "ckks" (keys.json's settings).
  const std::string& scheme() const { return scheme_; }
  bool meets_128_bits() const;
  // BFV keys only (InvalidArgument for CKKS keys).
  const nn::BfvSettings& settings() const;
  // Input side S of the model (keys.json "input", else 32).
  int image_size() const;
  int channels() const;  // of the model's input (keys.json "input"; 3 when absent)

  // Layout of the requests encrypt* writes (decrypt follows the result's own packing):
  //   throughput: one cell per slot, one ciphertext per pixel-channel, batches of N cells;
  //   latency:    each cell's pixels in one ciphertext's slots, several cells side by side
  //               (megabytes for a few cells; needs keys made with a card's 'latency' section).
  // Default: the layout the keys' parameters were chosen for. set_layout throws InvalidArgument
  // when these keys cannot serve the layout.
  nn::Layout layout() const { return layout_; }
  void set_layout(nn::Layout layout);

  // Packs the cells in layout() and encrypts them for model_id ("" = any), in memory (small requests).
  std::string encrypt(const std::vector<CellInput>& cells, const std::string& model_id, EncryptStats* stats = nullptr) const;
  // The same request streamed to `sink` in container order while encrypting a few input values at
  // a time (every prime): memory holds one slice of ciphertexts, never the whole request.
  // on_progress(done, total) counts ciphertexts written.
  void encrypt_to(const std::vector<CellInput>& cells, const std::string& model_id,
                  const std::function<void(std::string_view)>& sink, EncryptStats* stats = nullptr,
                  const std::function<void(std::size_t, std::size_t)>& on_progress = {}) const;
  // encrypt_to a file, written through a temporary name and renamed when complete.
  void encrypt_to_file(const std::vector<CellInput>& cells, const std::string& model_id,
                       const std::filesystem::path& out, EncryptStats* stats = nullptr,
                       const std::function<void(std::size_t, std::size_t)>& on_progress = {}) const;
  // Decrypts a result container made for this key.
  std::vector<CellResult> decrypt(std::string_view result, DecryptStats* stats = nullptr) const;

 private:
  // keys.json's "input" field `name`, or fallback when it has none.
  int input_field(const char* name, int fallback) const;
  wire::ContainerView open_secret_key(std::string_view bytes, const std::filesystem::path& file);
  // A request's header for these keys and cells (kind, params, key and model ids, cell names).
  wire::ContainerHeader request_header(const std::vector<CellInput>& cells, const std::string& model_id) const;
  void encrypt_ckks(const std::vector<CellInput>& cells, const std::string& model_id,
                    const std::function<void(std::string_view)>& sink, EncryptStats* stats,
                    const std::function<void(std::size_t, std::size_t)>& on_progress) const;
  std::vector<CellResult> decrypt_ckks(const wire::ContainerView& v, const std::vector<std::string>& classes) const;
  // CKKS latency layout: cells packed as keys.json's 'latency' section says, one seeded ciphertext
  // per cells_per_ciphertext cells; results read at its logit slots.
  nn::Plan ckks_latency_plan() const;
  void encrypt_ckks_latency(const std::vector<CellInput>& cells, const std::string& model_id,
                            const std::function<void(std::string_view)>& sink, EncryptStats* stats,
                            const std::function<void(std::size_t, std::size_t)>& on_progress) const;
  std::vector<CellResult> decrypt_ckks_latency(const wire::ContainerView& v, const nlohmann::json& meta,
                                               const std::vector<std::string>& classes) const;
  void encrypt_latency(const std::vector<CellInput>& cells, const std::string& model_id,
                       const std::function<void(std::string_view)>& sink, EncryptStats* stats,
                       const std::function<void(std::size_t, std::size_t)>& on_progress) const;

  nlohmann::json info_;
  nn::Layout layout_ = nn::Layout::kThroughput;
  std::string key_id_;
  std::uint64_t params_id_ = 0;
  std::string scheme_ = "bfv";
  std::unique_ptr<nn::BfvKeyHolder> holder_;   // BFV keys
  std::unique_ptr<nn::CkksKeyHolder> ckks_;    // CKKS keys
  float input_scale_ = 1.0f / 255.0f;          // CKKS: keys.json "input_scale"
};

// One cell's result from approximate (CKKS) logits.
CellResult cell_result(const std::string& name, const double* logits, const std::vector<std::string>& classes);

// One cell's result from its exact logits (softmax on the key holder's side).
CellResult cell_result(const std::string& name, const nn::Int128* logits, const std::vector<std::string>& classes,
                       double scale);

// Preprocesses image files exactly as `prepare` does (data::preprocess_image) to S x S.
std::vector<CellInput> load_images(const std::vector<std::filesystem::path>& files, int size, double window = 0);
// Cells of a prepared dataset (`prepare` output), optionally one split/group, at most `limit` (0 = all),
// or of the MNIST idx folder (split test = t10k, the default, or train; 1 x S x S digits).
std::vector<CellInput> load_dataset_cells(const std::filesystem::path& dir, const std::string& split,
                                          std::size_t limit, int expected_size);

}  // namespace leukocrypt::client
