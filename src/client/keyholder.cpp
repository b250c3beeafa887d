// Key holder operations on files (see keyholder.h).
#include "client/keyholder.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "common/error.h"
#include "common/paths.h"
#include "common/thread_pool.h"
#include "common/timer.h"
#include "data/dataset.h"
#include "data/image.h"
#include "he/bfv/serialization.h"
#include "he/ckks/context.h"
#include "he/ckks/serialization.h"
#include "he/ring/secure_wipe.h"
#include "nn/evaluate.h"
#include "nn/keyholder/bfv_keyholder.h"
#include "nn/keyholder/ckks_keyholder.h"
#include "nn/plan.h"
#include "nn/slot_layout.h"
#include "service/wire/container.h"
#include "service/wire/he_layout.h"

namespace leukocrypt::client {
namespace {

wire::Container key_container(wire::Kind kind, const nn::BfvSettings& s, const std::string& key_id) {
  wire::Container c;
  c.kind = kind;
  c.params_id = wire::settings_id(s);
  c.key_id = key_id;
  c.meta = nlohmann::json{{"settings", s.to_json()}}.dump();
  return c;
}

// Serialized secret keys are wiped (sodium_memzero) once written or loaded.
struct WipeString {
  std::string& s;
  ~WipeString() { he::secure_wipe(s.data(), s.size()); }
};

void wipe_all(std::vector<std::string>& v) {
  for (auto& s : v) he::secure_wipe(s.data(), s.size());
}

// The key holder's plan stand-in: BfvKeyHolder::encrypt packs plan.input_size() values per image.
nn::Plan input_plan(int channels, int size) {
  nn::Plan p;
  p.input = {channels, size, size};
  return p;
}

}  // namespace

namespace {

// The latency layout's rotation steps from the card (empty without a 'latency' section), checked
// against the parameters before any key is made.
std::vector<int> card_galois_steps(const nn::BfvSettings& settings, const nlohmann::json& latency) {
  if (!latency.is_object()) return {};
  auto sl = nn::SlotLayout::from_client_json(latency);
  if (sl.n != settings.n)
    throw FormatError("keygen: the card's latency layout is for N = " + std::to_string(sl.n) + ", the parameters have N = " +
                      std::to_string(settings.n));
  auto steps = latency.at("galois_steps").get<std::vector<int>>();
  for (int r : steps)
    if (r == 0 || std::abs(r) >= int(settings.n / 2))
      throw FormatError("keygen: rotation step " + std::to_string(r) + " outside (0, N/2)");
  return steps;
}

// Plaintext prime j's Galois key set as one eval.key blob (the bytes of bfv::save(GaloisKeys)),
// made key by key on the thread pool and serialized as soon as each is made: only the serialized
// (seeded, half-size) keys of one prime are in memory, never the expanded key sets of all primes.
void add_galois_blob(const nn::BfvKeyHolder& holder, std::size_t j, const std::vector<std::uint32_t>& elts,
                     wire::ContainerWriter& writer) {
  std::vector<std::string> parts(elts.size() + 1);
  parts[0] = bfv::save_galois_keys_header(holder.contexts()[j]->params_id(), holder.secret_key(j).key_id(),
                                          static_cast<std::uint32_t>(elts.size()));
  ThreadPool::global().parallel_for(0, elts.size(), [&](std::size_t e) {
    parts[e + 1] = bfv::save_galois_key(elts[e], holder.galois_key(j, elts[e]));
  });
  writer.add_blob_parts(parts);
}

// keygen for CKKS: the latency section's rotation steps, checked against the parameters (one row of
// N/2 slots at the parameters' N).
std::vector<int> ckks_card_galois_steps(const nn::CkksSettings& settings, const nlohmann::json& latency) {
  if (!latency.is_object()) return {};
  const auto sl = nn::SlotLayout::from_client_json(latency);
  if (sl.n != settings.params.n() || sl.scheme() != nn::SlotScheme::kCkks)
    throw FormatError("keygen: the card's latency layout is for N = " + std::to_string(sl.n) + " (" +
                      std::to_string(sl.rows) + " slot row(s)), the CKKS parameters have N = " +
                      std::to_string(settings.params.n()) + " (one row)");
  auto steps = latency.at("galois_steps").get<std::vector<int>>();
  for (int r : steps)
    if (r == 0 || std::abs(r) >= int(settings.params.n() / 2))
      throw FormatError("keygen: rotation step " + std::to_string(r) + " outside (0, N/2)");
  return steps;
}

// The CKKS Galois keys as one eval.key blob (the bytes of save(GaloisKeys), seeded), made key by
// key on the thread pool.
std::string ckks_galois_blob(const nn::CkksKeyHolder& holder, const std::vector<int>& steps) {
  const std::size_t n = holder.context()->params().n();
  std::vector<std::string> parts(steps.size() + 1);
  parts[0] = rlwe::save_galois_keys_header(holder.context()->params().id(), holder.secret_key().key_id(),
                                           static_cast<std::uint32_t>(steps.size()));
  std::vector<std::uint32_t> elts;
  for (int r : steps) elts.push_back(ckks::galois_elt_for_rotation(r, n));
  std::sort(elts.begin(), elts.end());
  ThreadPool::global().parallel_for(0, elts.size(), [&](std::size_t e) {
    parts[e + 1] = rlwe::save_galois_key(elts[e], holder.galois_key(elts[e]));
  });
  std::string out;
  for (const auto& p : parts) out += p;
  return out;
}

}  // namespace

nlohmann::json keygen(const nn::BfvSettings& settings, const KeyPaths& paths, const nlohmann::json& card,
                      bool overwrite) {
  prepare_key_dir(paths, overwrite);  // refuse before the work, not after
  const nlohmann::json latency = card.is_object() && card.contains("latency") ? card["latency"] : nlohmann::json();
  // The throughput (CryptoNets) plan needs only relinearisation keys; the latency layout rotates
  // slots: Galois keys for exactly the steps the card's latency section names. Spatial blocks
  // (the card's 'blocks' section) add the block sum's rotations and row swap.
  const std::vector<int> steps = card_galois_steps(settings, latency);
  const nlohmann::json blocks = settings.blocks > 1 && card.is_object() && card.contains("blocks") ? card["blocks"]
                                                                                                : nlohmann::json();
  std::optional<nn::BlockLayout> block_layout;
  if (settings.blocks > 1) {
    if (!blocks.is_object())
      throw FormatError("keygen: the parameters use " + std::to_string(settings.blocks) +
                        " spatial blocks, but the model card / params.json has no 'blocks' section (their layout)");
    block_layout = nn::BlockLayout::from_client_json(blocks);
    if (block_layout->n != settings.n || block_layout->count != settings.blocks)
      throw FormatError("keygen: the card's 'blocks' section is for N = " + std::to_string(block_layout->n) + " and " +
                        std::to_string(block_layout->count) + " blocks, the parameters have N = " +
                        std::to_string(settings.n) + " and " + std::to_string(settings.blocks));
  }
  const bool galois = latency.is_object() || block_layout.has_value();
  nn::BfvKeyHolder holder(settings);
  const std::size_t k = holder.contexts().size();
  const std::string key_id = wire::random_id();
  auto secret = key_container(wire::Kind::kSecretKey, settings, key_id);
  auto pub = key_container(wire::Kind::kPublicKey, settings, key_id);
  wire::ContainerHeader eval = key_container(wire::Kind::kEvalKeys, settings, key_id);
  // Offline `infer` without --params runs with what eval.key records: the card's quantisation too.
  auto meta = nlohmann::json{{"settings", settings.to_json()}};
  if (card.is_object() && card.contains("quantize") && card["quantize"].is_object()) meta["quantization"] = card["quantize"];
  if (galois) meta["galois_steps"] = steps;
  if (block_layout) meta["blocks"] = block_layout->count;
  eval.meta = meta.dump();
  // eval.key: k relinearisation keys, then the k public keys (the provider needs them to
  // re-randomise results: circuit privacy, nn/circuit_privacy.h), then for the latency layout k
  // Galois key sets. Written to its file as it is made (with Galois keys it is gigabytes).
  wire::AtomicFile eval_file(paths.eval, 0644);
  wire::ContainerWriter writer(eval, (galois ? 3 : 2) * k,
                               [&eval_file](std::string_view b) { eval_file.append(b); });
  auto relin = holder.relin_keys();
  for (std::size_t j = 0; j < k; ++j) {
    secret.blobs.push_back(bfv::save(holder.secret_key(j)));
    pub.blobs.push_back(bfv::save(holder.public_key(j)));
    writer.add_blob(bfv::save(relin[j]));
  }
  relin.clear();
  for (const auto& pk : pub.blobs) writer.add_blob(pk);
  std::size_t galois_count = 0;
  if (galois) {
    auto elts = holder.galois_elts(steps);
    if (block_layout) {
      const auto more = nn::block_sum_galois_elts(*block_layout);
      elts.insert(elts.end(), more.begin(), more.end());
      std::sort(elts.begin(), elts.end());  // a key set serializes its elements increasing, distinct
      elts.erase(std::unique(elts.begin(), elts.end()), elts.end());
    }
    for (std::size_t j = 0; j < k; ++j) add_galois_blob(holder, j, elts, writer);
    galois_count = elts.size();
  }
  writer.finish();
  std::string secret_bytes = wire::serialize(secret), pub_bytes = wire::serialize(pub);
  wipe_all(secret.blobs);
  const WipeString wipe_secret{secret_bytes};
  nlohmann::json info = {
      {"key_id", key_id},
      {"params_id", std::to_string(wire::settings_id(settings))},
      {"settings", settings.to_json()},
      {"created", std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()},
      {"bytes",
       {{"secret.key", secret_bytes.size()}, {"public.key", pub_bytes.size()}, {"eval.key", writer.bytes_written()}}},
      {"galois_keys", galois_count}};  // the latency steps' and the block sum's
  if (latency.is_object()) info["latency"] = latency;
  if (block_layout) info["blocks"] = blocks;
  if (card.is_object()) {
    if (card.contains("model_id") && card["model_id"].is_string()) info["model_id"] = card["model_id"];
    if (card.contains("input") && card["input"].is_object()) info["input"] = card["input"];
    if (card.contains("classes")) info["classes"] = card["classes"];
  }
  write_key_dir(paths, secret_bytes, pub_bytes, eval_file, info, overwrite);
  return info;
}

nlohmann::json keygen(const nn::CkksSettings& settings, const KeyPaths& paths, const nlohmann::json& card,
                      bool overwrite) {
  if (!card.is_object() || !card.contains("input_scale") || !card["input_scale"].is_number() ||
      !(card["input_scale"].get<double>() > 0))
    throw FormatError("keygen: the CKKS model card / params.json lacks a positive 'input_scale'");
  // The latency layout rotates slots: Galois keys for exactly the steps of the card's section.
  const nlohmann::json latency = settings.layout == nn::Layout::kLatency && card.contains("latency") ? card["latency"]
                                                                                                     : nlohmann::json();
  if (settings.layout == nn::Layout::kLatency && !latency.is_object())
    throw FormatError("keygen: CKKS parameters for the latency layout, but the card / params.json has no 'latency' "
                      "section (its Galois steps)");
  const std::vector<int> steps = ckks_card_galois_steps(settings, latency);
  prepare_key_dir(paths, overwrite);  // refuse before the work, not after
  nn::CkksKeyHolder holder(settings);
  const std::string key_id = wire::random_id();
  const auto settings_json = settings.to_json();
  auto make = [&](wire::Kind kind) {
    wire::Container c;
    c.kind = kind;
    c.params_id = settings.params.id();
    c.key_id = key_id;
    c.meta = nlohmann::json{{"scheme", "ckks"}, {"settings", settings_json}}.dump();
    return c;
  };
  auto secret = make(wire::Kind::kSecretKey), pub = make(wire::Kind::kPublicKey), eval = make(wire::Kind::kEvalKeys);
  secret.blobs.push_back(ckks::save(holder.secret_key()));
  pub.blobs.push_back(ckks::save(holder.public_key()));
  eval.blobs.push_back(ckks::save(holder.relin_keys()));
  eval.blobs.push_back(pub.blobs.front());
  if (latency.is_object()) {
    // The service asks the meta whether a stored key can serve latency requests (as for BFV).
    eval.meta = nlohmann::json{{"scheme", "ckks"}, {"settings", settings_json}, {"galois_steps", steps}}.dump();
    eval.blobs.push_back(ckks_galois_blob(holder, steps));
  }
  std::string secret_bytes = wire::serialize(secret), pub_bytes = wire::serialize(pub),
              eval_bytes = wire::serialize(eval);
  wipe_all(secret.blobs);
  const WipeString wipe_secret{secret_bytes};
  nlohmann::json info = {
      {"key_id", key_id},
      {"scheme", "ckks"},
      {"params_id", std::to_string(settings.params.id())},
      {"settings", settings_json},
      {"input_scale", card["input_scale"]},
      {"created", std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()},
      {"bytes", {{"secret.key", secret_bytes.size()}, {"public.key", pub_bytes.size()}, {"eval.key", eval_bytes.size()}}},
      {"galois_keys", steps.size()}};
  if (latency.is_object()) info["latency"] = latency;
  if (card.contains("model_id") && card["model_id"].is_string()) info["model_id"] = card["model_id"];
  if (card.contains("input") && card["input"].is_object()) info["input"] = card["input"];
  if (card.contains("classes")) info["classes"] = card["classes"];
  wire::AtomicFile eval_file(paths.eval, 0644);
  eval_file.append(eval_bytes);
  write_key_dir(paths, secret_bytes, pub_bytes, eval_file, info, overwrite);
  return info;
}

// The secret key file's envelope against keys.json (both schemes): made for params_id_ and for
// keys.json's key id, which becomes key_id_. The view points into `bytes`.
wire::ContainerView KeyHolder::open_secret_key(std::string_view bytes, const std::filesystem::path& file) {
  auto v = wire::parse_as(bytes, wire::Kind::kSecretKey, file.string());
  if (v.params_id != params_id_)
    throw FormatError(file.string() + ": secret key is for parameters " + std::to_string(v.params_id) +
                      ", keys.json says " + std::to_string(params_id_));
  key_id_ = v.key_id;
  if (info_.value("key_id", "") != key_id_)
    throw FormatError(file.string() + ": key id '" + key_id_ + "' differs from keys.json");
  return v;
}

KeyHolder::KeyHolder(const KeyPaths& paths, bool allow_insecure_for_tests) {
  info_ = read_key_info(paths);
  if (info_.contains("settings") && nn::is_ckks_document(info_["settings"])) {
    scheme_ = "ckks";
    auto settings = nn::ckks_settings_from_json(info_["settings"], paths.info.string(), allow_insecure_for_tests);
    input_scale_ = static_cast<float>(info_.value("input_scale", 1.0 / 255.0));
    require(input_scale_ > 0, paths.info.string() + ": input_scale must be > 0");
    auto bytes = read_key_file(paths.secret, wire::Kind::kSecretKey);
    const WipeString wipe_bytes{bytes};
    params_id_ = settings.params.id();
    auto v = open_secret_key(bytes, paths.secret);
    if (v.blobs.size() != 1) throw FormatError(paths.secret.string() + ": expected one CKKS secret key");
    auto ctx = ckks::Context::create(settings.params);
    ckks_ = std::make_unique<nn::CkksKeyHolder>(settings, ckks::load_secret_key(*ctx, v.blobs[0]));
    if (settings.layout == nn::Layout::kLatency && info_.contains("latency") && info_["latency"].is_object())
      layout_ = nn::Layout::kLatency;
    return;
  }
  auto settings = wire::settings_from_json(info_, paths.info.string(), allow_insecure_for_tests);
  auto bytes = read_key_file(paths.secret, wire::Kind::kSecretKey);
  const WipeString wipe_bytes{bytes};
  params_id_ = wire::settings_id(settings);
  auto v = open_secret_key(bytes, paths.secret);
  auto params = settings.params();
  if (v.blobs.size() != params.size())
    throw FormatError(paths.secret.string() + ": " + std::to_string(v.blobs.size()) + " secret keys for " +
                      std::to_string(params.size()) + " plaintext primes");
  std::vector<bfv::SecretKey> sks;
  for (std::size_t j = 0; j < params.size(); ++j) {
    auto ctx = bfv::Context::create(params[j]);
    sks.push_back(bfv::load_secret_key(*ctx, v.blobs[j]));
  }
  holder_ = std::make_unique<nn::BfvKeyHolder>(settings, std::move(sks));
  // Default: the layout the parameters were chosen for, when these keys can serve it.
  layout_ = settings.layout == nn::Layout::kLatency && info_.contains("latency") ? nn::Layout::kLatency
                                                                                 : nn::Layout::kThroughput;
}

KeyHolder::~KeyHolder() = default;
KeyHolder::KeyHolder(KeyHolder&&) noexcept = default;
KeyHolder& KeyHolder::operator=(KeyHolder&&) noexcept = default;

void KeyHolder::set_layout(nn::Layout layout) {
  if (ckks_) {
    // One CKKS parameter set serves the layout it was chosen for (the precision model differs).
    if (layout != ckks_->settings().layout)
      throw InvalidArgument(std::string("these CKKS keys were made for the ") + nn::to_string(ckks_->settings().layout) +
                            " layout, not " + nn::to_string(layout) + " (run `leukocrypt params --scheme ckks --layout " +
                            nn::to_string(layout) + "` and keygen again)");
    return;
  }
  if (layout == nn::Layout::kLatency && !(info_.contains("latency") && info_["latency"].is_object()))
    throw InvalidArgument("the latency layout needs keys made with a model card or params.json that has a 'latency' "
                          "section (its Galois keys); re-run keygen");
  layout_ = layout;
}



const nn::BfvSettings& KeyHolder::settings() const {
  if (!holder_) throw InvalidArgument("these are " + scheme_ + " keys, not BFV keys");
  return holder_->settings();
}

bool KeyHolder::meets_128_bits() const {
  return ckks_ ? ckks_->settings().params.security() == ckks::Security::k128 : holder_->settings().meets_128_bits();
}

int KeyHolder::input_field(const char* name, int fallback) const {
  if (info_.contains("input") && info_["input"].is_object()) return info_["input"].value(name, fallback);
  return fallback;
}

int KeyHolder::image_size() const { return input_field("height", 32); }

int KeyHolder::channels() const { return input_field("channels", 3); }  // older keys.json of cell models: RGB

wire::ContainerHeader KeyHolder::request_header(const std::vector<CellInput>& cells,
                                                const std::string& model_id) const {
  wire::ContainerHeader h;
  h.kind = wire::Kind::kRequest;
  h.params_id = params_id_;
  h.key_id = key_id_;
  h.model_id = model_id;
  h.cells = static_cast<std::uint32_t>(cells.size());
  for (const auto& cell : cells) h.names.push_back(cell.name);
  return h;
}

void KeyHolder::encrypt_to(const std::vector<CellInput>& cells, const std::string& model_id,
                           const std::function<void(std::string_view)>& sink, EncryptStats* stats,
                           const std::function<void(std::size_t, std::size_t)>& on_progress) const {
  require(!cells.empty(), "encrypt: no cells");
  const int size = image_size(), ch = channels();
  const std::size_t n_in = input_plan(ch, size).input_size();
  for (const auto& c : cells)
    require(c.pixels.size() == n_in, "encrypt: cell '" + c.name + "' has " + std::to_string(c.pixels.size()) +
                                         " values, the model takes " + std::to_string(n_in) + " (" + std::to_string(ch) +
                                         "x" + std::to_string(size) + "x" + std::to_string(size) + ")");
  if (ckks_ && layout_ == nn::Layout::kLatency) return encrypt_ckks_latency(cells, model_id, sink, stats, on_progress);
  if (ckks_) return encrypt_ckks(cells, model_id, sink, stats, on_progress);
  if (layout_ == nn::Layout::kLatency) return encrypt_latency(cells, model_id, sink, stats, on_progress);
  const auto& s = settings();
  const std::size_t k = s.plain_primes.size();
  auto batches = wire::batch_sizes(cells.size(), s.cells_per_batch());
  auto h = request_header(cells, model_id);
  auto meta = nlohmann::json{{"batches", batches}, {"input", {channels(), size, size}}, {"layout", wire::kLayout}};
  // Spatial blocks (block_layout.h): each ciphertext holds one strip value of every cell per block.
  std::optional<nn::BlockLayout> bl;
  if (s.blocks > 1) {
    if (!info_.contains("blocks"))
      throw InvalidArgument("these keys' parameters use " + std::to_string(s.blocks) +
                            " spatial blocks, but keys.json has no 'blocks' section: re-run keygen with the model card");
    bl = nn::BlockLayout::from_client_json(info_["blocks"]);
    if (bl->n != s.n || bl->count != s.blocks || std::size_t(bl->in_c) * bl->in_h * bl->in_w != n_in)
      throw FormatError("keys.json: the 'blocks' section does not match the parameters or the image size");
    meta["blocks"] = s.blocks;
  }
  const std::size_t values = bl ? bl->inputs() : n_in;
  h.meta = meta.dump();
  const std::size_t total = batches.size() * k * values;
  wire::ContainerWriter w(h, total, sink);
  // A slice of input values encrypts as its own little plan: value v of every image -> one
  // ciphertext per prime, the same as encrypting all values at once (each ciphertext only sees
  // its own value of every image).
  constexpr std::size_t kSlice = 64;
  double enc = 0, encr = 0;
  std::size_t first = 0, done = 0;
  for (std::size_t b = 0; b < batches.size(); ++b) {
    for (std::size_t v0 = 0; v0 < values; v0 += kSlice) {
      const std::size_t len = std::min(kSlice, values - v0);
      nn::Plan slice;
      slice.input = {1, 1, static_cast<int>(len)};
      std::vector<const std::uint8_t*> images;
      if (bl) {  // the slice's ciphertexts read the whole image through their part of the source map
        slice.blocks = *bl;
        slice.blocks.source.assign(bl->source.begin() + std::ptrdiff_t(v0 * bl->count),
                                   bl->source.begin() + std::ptrdiff_t((v0 + len) * bl->count));
        for (std::size_t i = 0; i < batches[b]; ++i) images.push_back(cells[first + i].pixels.data());
      } else {
        for (std::size_t i = 0; i < batches[b]; ++i) images.push_back(cells[first + i].pixels.data() + v0);
      }
      std::vector<std::vector<he::Seed>> seeds;
      auto batch = holder_->encrypt(slice, images, &enc, &encr, &seeds);
      Timer t;
      std::vector<std::string> blobs(len * k);
      ThreadPool::global().parallel_for(0, len * k, [&](std::size_t i) {
        const std::size_t v = i / k, j = i % k;  // value-major, as in the container
        blobs[i] = bfv::save_seeded(batch.values[j][v], seeds[j][v]);
      });
      encr += t.seconds();
      for (auto& blob : blobs) w.add_blob(blob);
      done += blobs.size();
      if (on_progress) on_progress(done, total);
    }
    first += batches[b];
  }
  w.finish();
  if (stats) {
    stats->encode_seconds += enc;
    stats->encrypt_seconds += encr;
    stats->bytes = w.bytes_written();
    stats->batches = batches.size();
  }
}

void KeyHolder::encrypt_ckks(const std::vector<CellInput>& cells, const std::string& model_id,
                             const std::function<void(std::string_view)>& sink, EncryptStats* stats,
                             const std::function<void(std::size_t, std::size_t)>& on_progress) const {
  const int size = image_size();
  nn::Plan plan = input_plan(channels(), size);
  plan.input_scale = input_scale_;
  const std::size_t n_in = plan.input_size();
  auto batches = wire::batch_sizes(cells.size(), ckks_->slot_count());
  auto h = request_header(cells, model_id);
  h.meta = nlohmann::json{{"scheme", "ckks"}, {"batches", batches}, {"input", {channels(), size, size}}, {"layout", wire::kLayout}}
               .dump();
  const std::size_t total = batches.size() * n_in;
  wire::ContainerWriter w(h, total, sink);
  // [batch][value] in container order, a slice of values at a time encrypted on the pool.
  constexpr std::size_t kSlice = 64;
  Timer t;
  std::size_t first = 0, done = 0;
  for (std::size_t b = 0; b < batches.size(); ++b) {
    std::vector<const std::uint8_t*> images;
    for (std::size_t i = 0; i < batches[b]; ++i) images.push_back(cells[first + i].pixels.data());
    for (std::size_t v0 = 0; v0 < n_in; v0 += kSlice) {
      const std::size_t len = std::min(kSlice, n_in - v0);
      std::vector<std::string> blobs(len);
      ThreadPool::global().parallel_for(0, len, [&](std::size_t i) {
        he::Seed seed;
        auto ct = ckks_->encrypt_value(plan, images, v0 + i, &seed);
        blobs[i] = ckks::save_seeded(ct, seed);
      });
      for (auto& blob : blobs) w.add_blob(blob);
      done += len;
      if (on_progress) on_progress(done, total);
    }
    first += batches[b];
  }
  w.finish();
  if (stats) {
    stats->encrypt_seconds += t.seconds();
    stats->bytes = w.bytes_written();
    stats->batches = batches.size();
  }
}

std::vector<CellResult> KeyHolder::decrypt_ckks(const wire::ContainerView& v, const std::vector<std::string>& classes) const {
  if (v.params_id != params_id_)
    throw FormatError("result: made for parameters " + std::to_string(v.params_id) + ", these keys have " +
                      std::to_string(params_id_));
  if (v.packing != wire::Packing::kThroughput) throw FormatError("result: packed in the latency layout, expected throughput");
  auto meta = nlohmann::json::parse(v.meta, nullptr, false);
  const auto expect = wire::batch_sizes(v.cells, ckks_->slot_count());
  std::vector<std::size_t> batches;
  try {
    batches = meta.at("batches").get<std::vector<std::size_t>>();
  } catch (const std::exception&) {
    throw FormatError("result: meta 'batches' missing or malformed");
  }
  const std::size_t n_out = classes.size();
  if (v.cells == 0 || batches != expect || v.blobs.size() != batches.size() * n_out)
    throw FormatError("result: " + std::to_string(v.blobs.size()) + " ciphertexts and batches " + meta["batches"].dump() +
                      " do not fit " + std::to_string(v.cells) + " cells x " + std::to_string(n_out) + " logits");
  std::vector<CellResult> out;
  std::size_t first = 0;
  for (std::size_t b = 0; b < batches.size(); ++b) {
    std::vector<ckks::Ciphertext> cts;
    for (std::size_t o = 0; o < n_out; ++o) cts.push_back(ckks::load_ciphertext(*ckks_->context(), v.blobs[b * n_out + o]));
    const auto logits = ckks_->decrypt(cts, batches[b]);
    for (std::size_t i = 0; i < batches[b]; ++i)
      out.push_back(cell_result(first + i < v.names.size() ? v.names[first + i] : "cell" + std::to_string(first + i),
                                logits.data() + i * n_out, classes));
    first += batches[b];
  }
  return out;
}

nn::Plan KeyHolder::ckks_latency_plan() const {
  if (!info_.contains("latency") || !info_["latency"].is_object())
    throw InvalidArgument("these CKKS keys have no latency section (re-run keygen with latency parameters)");
  nn::Plan plan = input_plan(channels(), image_size());
  plan.input_scale = input_scale_;
  plan.layout = nn::Layout::kLatency;
  plan.slots = nn::SlotLayout::from_client_json(info_["latency"]);
  if (plan.slots.n != ckks_->context()->params().n() || plan.slots.scheme() != nn::SlotScheme::kCkks ||
      plan.slots.in_slot.size() != plan.input_size())
    throw FormatError("keys.json: the latency layout does not match the CKKS parameters or the model's input");
  return plan;
}

void KeyHolder::encrypt_ckks_latency(const std::vector<CellInput>& cells, const std::string& model_id,
                                     const std::function<void(std::string_view)>& sink, EncryptStats* stats,
                                     const std::function<void(std::size_t, std::size_t)>& on_progress) const {
  const nn::Plan plan = ckks_latency_plan();
  const std::size_t per = plan.slots.cells_per_ciphertext(), cts = plan.slots.ciphertexts_for(cells.size());
  auto h = request_header(cells, model_id);
  h.packing = wire::Packing::kLatency;
  const int size = image_size();
  h.meta = nlohmann::json{{"scheme", "ckks"},
                          {"input", {channels(), size, size}},
                          {"layout", wire::kLatencyLayout},
                          {"cells_per_ciphertext", per}}
               .dump();
  wire::ContainerWriter w(h, cts, sink);
  Timer t;
  const std::size_t chunk = std::max<std::size_t>(1, ThreadPool::global().size()) * 4;
  for (std::size_t c0 = 0; c0 < cts; c0 += chunk) {
    const std::size_t len = std::min(chunk, cts - c0);
    std::vector<std::string> blobs(len);
    ThreadPool::global().parallel_for(0, len, [&](std::size_t i) {
      const std::size_t c = c0 + i;
      std::vector<const std::uint8_t*> ptrs;
      for (std::size_t q = c * per; q < std::min(cells.size(), (c + 1) * per); ++q) ptrs.push_back(cells[q].pixels.data());
      he::Seed seed;
      auto ct = ckks_->encrypt_cells(plan, ptrs.data(), ptrs.size(), &seed);
      blobs[i] = ckks::save_seeded(ct, seed);
    });
    for (auto& b : blobs) w.add_blob(b);
    if (on_progress) on_progress(c0 + len, cts);
  }
  w.finish();
  if (stats) {
    stats->encrypt_seconds += t.seconds();
    stats->bytes = w.bytes_written();
    stats->batches = cts;
  }
}

std::vector<CellResult> KeyHolder::decrypt_ckks_latency(const wire::ContainerView& v, const nlohmann::json& meta,
                                                        const std::vector<std::string>& classes) const {
  if (v.params_id != params_id_)
    throw FormatError("result: made for parameters " + std::to_string(v.params_id) + ", these keys have " +
                      std::to_string(params_id_));
  if (!meta.contains("latency") || !meta["latency"].is_object()) throw FormatError("result: meta lacks 'latency'");
  const auto sl = nn::SlotLayout::from_client_json(meta["latency"]);
  if (sl.n != ckks_->context()->params().n() || sl.scheme() != nn::SlotScheme::kCkks || sl.out_slot.size() != classes.size())
    throw FormatError("result: latency layout does not match the CKKS keys (N, one slot row) or the classes");
  if (v.cells == 0 || v.blobs.size() != sl.ciphertexts_for(v.cells))
    throw FormatError("result: " + std::to_string(v.blobs.size()) + " ciphertexts for " + std::to_string(v.cells) +
                      " cells, expected " + std::to_string(sl.ciphertexts_for(v.cells)));
  std::vector<ckks::Ciphertext> cts(v.blobs.size());
  ThreadPool::global().parallel_for(0, cts.size(), [&](std::size_t c) {
    cts[c] = ckks::load_ciphertext(*ckks_->context(), v.blobs[c]);
  });
  const auto logits = ckks_->decrypt_cells(sl, cts, v.cells);
  std::vector<CellResult> out;
  for (std::size_t i = 0; i < v.cells; ++i)
    out.push_back(cell_result(i < v.names.size() ? v.names[i] : "cell" + std::to_string(i),
                              logits.data() + i * classes.size(), classes));
  return out;
}

void KeyHolder::encrypt_latency(const std::vector<CellInput>& cells, const std::string& model_id,
                                const std::function<void(std::string_view)>& sink, EncryptStats* stats,
                                const std::function<void(std::size_t, std::size_t)>& on_progress) const {
  const auto sl = nn::SlotLayout::from_client_json(info_.at("latency"));
  const auto& s = settings();
  require(sl.n == s.n, "encrypt: keys.json's latency layout is for N = " + std::to_string(sl.n));
  const std::size_t k = s.plain_primes.size(), per = sl.cells_per_ciphertext(), cts = sl.ciphertexts_for(cells.size());
  auto h = request_header(cells, model_id);
  h.packing = wire::Packing::kLatency;
  const int size = image_size();
  h.meta = nlohmann::json{{"input", {channels(), size, size}}, {"layout", wire::kLatencyLayout}, {"cells_per_ciphertext", per}}
               .dump();
  wire::ContainerWriter w(h, cts * k, sink);
  Timer t;
  // Ciphertexts in container order ([ciphertext][prime]), a pool's worth at a time.
  const std::size_t chunk = std::max<std::size_t>(1, ThreadPool::global().size()) * 4;
  std::size_t done = 0;
  for (std::size_t i0 = 0; i0 < cts * k; i0 += chunk) {
    const std::size_t len = std::min(chunk, cts * k - i0);
    std::vector<std::string> blobs(len);
    ThreadPool::global().parallel_for(0, len, [&](std::size_t i) {
      const std::size_t c = (i0 + i) / k, j = (i0 + i) % k;
      std::vector<const std::uint8_t*> ptrs;
      for (std::size_t q = c * per; q < std::min(cells.size(), (c + 1) * per); ++q) ptrs.push_back(cells[q].pixels.data());
      he::Seed seed;
      auto ct = holder_->encrypt_cells(j, sl, ptrs.data(), ptrs.size(), &seed);
      blobs[i] = bfv::save_seeded(ct, seed);
    });
    for (auto& b : blobs) w.add_blob(b);
    done += len;
    if (on_progress) on_progress(done, cts * k);
  }
  w.finish();
  if (stats) {
    stats->encrypt_seconds += t.seconds();
    stats->bytes = w.bytes_written();
    stats->batches = cts;
  }
}

std::string KeyHolder::encrypt(const std::vector<CellInput>& cells, const std::string& model_id,
                               EncryptStats* stats) const {
  std::string out;
  encrypt_to(cells, model_id, [&](std::string_view b) { out.append(b); }, stats);
  return out;
}

void KeyHolder::encrypt_to_file(const std::vector<CellInput>& cells, const std::string& model_id,
                                const std::filesystem::path& out, EncryptStats* stats,
                                const std::function<void(std::size_t, std::size_t)>& on_progress) const {
  wire::AtomicFile f(out);
  encrypt_to(cells, model_id, [&](std::string_view b) { f.append(b); }, stats, on_progress);
  f.commit();
}

std::vector<CellResult> KeyHolder::decrypt(std::string_view result, DecryptStats* stats) const {
  auto v = wire::parse_as(result, wire::Kind::kResult, "result");
  if (v.key_id != key_id_)
    throw FormatError("result: made for key '" + v.key_id + "', these keys are '" + key_id_ + "'");
  auto meta = nlohmann::json::parse(v.meta, nullptr, false);
  if (meta.is_discarded() || !meta.is_object() || !meta.contains("classes") || !meta.contains("output_scale"))
    throw FormatError("result: meta lacks classes/output_scale");
  std::vector<std::string> classes;
  double scale = 0;
  try {
    classes = meta["classes"].get<std::vector<std::string>>();
    scale = meta["output_scale"].get<double>();
  } catch (const std::exception&) {
    throw FormatError("result: meta classes/output_scale malformed");
  }
  if (classes.empty() || classes.size() > 1000 || !(scale > 0) || !std::isfinite(scale))
    throw FormatError("result: bad classes/output_scale in meta");
  const std::string result_scheme = meta.value("scheme", "bfv");
  if (result_scheme != scheme_)
    throw FormatError("result: made with the " + result_scheme + " scheme, these keys are " + scheme_);
  if (ckks_) {
    Timer t;
    auto out = v.packing == wire::Packing::kLatency ? decrypt_ckks_latency(v, meta, classes) : decrypt_ckks(v, classes);
    if (stats) {
      stats->decrypt_seconds += t.seconds();
      stats->bytes = result.size();
    }
    return out;
  }
  const auto& s = settings();
  const std::size_t k = s.plain_primes.size(), n_out = classes.size();
  std::vector<CellResult> out;
  double dec = 0, decode = 0;
  if (v.packing == wire::Packing::kLatency) {
    if (!meta.contains("latency") || !meta["latency"].is_object()) throw FormatError("result: meta lacks 'latency'");
    const auto sl = nn::SlotLayout::from_client_json(meta["latency"]);
    if (sl.n != s.n || sl.out_slot.size() != n_out)
      throw FormatError("result: latency layout does not match the keys (N) or the classes");
    const std::size_t cts = wire::check_latency(v, v.blobs.size(), s, sl.cells_per_ciphertext(), "result");
    Timer t;
    std::vector<std::vector<bfv::Ciphertext>> res(k, std::vector<bfv::Ciphertext>(cts));
    for (std::size_t c = 0; c < cts; ++c)
      for (std::size_t j = 0; j < k; ++j) res[j][c] = bfv::load_ciphertext(*holder_->contexts()[j], v.blobs[c * k + j]);
    auto logits = holder_->decrypt_cells(sl, res, v.cells);
    dec += t.seconds();
    for (std::size_t i = 0; i < v.cells; ++i)
      out.push_back(cell_result(i < v.names.size() ? v.names[i] : "cell" + std::to_string(i), logits.data() + i * n_out,
                                classes, scale));
  } else {
    auto batches = wire::check_batches(v, s, n_out, "result");
    std::size_t first = 0;
    for (std::size_t b = 0; b < batches.size(); ++b) {
      nn::EncryptedBatch batch;
      batch.images = batches[b];
      batch.values.assign(k, std::vector<bfv::Ciphertext>(n_out));
      for (std::size_t j = 0; j < k; ++j)
        for (std::size_t o = 0; o < n_out; ++o)
          batch.values[j][o] = bfv::load_ciphertext(*holder_->contexts()[j], v.blobs[wire::blob_index(b, j, o, k, n_out)]);
      auto logits = holder_->decrypt(batch, &decode, &dec);
      for (std::size_t i = 0; i < batches[b]; ++i)
        out.push_back(cell_result(first + i < v.names.size() ? v.names[first + i] : "cell" + std::to_string(first + i),
                                  logits.data() + i * n_out, classes, scale));
      first += batches[b];
    }
  }
  if (stats) {
    stats->decrypt_seconds += dec;
    stats->decode_seconds += decode;
    stats->bytes = result.size();
  }
  return out;
}

CellResult cell_result(const std::string& name, const double* logits, const std::vector<std::string>& classes) {
  CellResult r;
  r.name = name;
  r.logits.assign(logits, logits + classes.size());
  for (std::size_t o = 1; o < classes.size(); ++o)
    if (r.logits[o] > r.logits[std::size_t(r.label)]) r.label = static_cast<int>(o);
  const double best = r.logits[std::size_t(r.label)];
  double z = 0;
  for (double l : r.logits) z += std::exp(l - best);
  r.probability = 1.0 / z;
  r.class_name = classes[static_cast<std::size_t>(r.label)];
  return r;
}

CellResult cell_result(const std::string& name, const nn::Int128* logits, const std::vector<std::string>& classes,
                       double scale) {
  CellResult r;
  r.name = name;
  double best = -INFINITY;
  for (std::size_t o = 0; o < classes.size(); ++o) {
    r.exact.push_back(nn::to_string128(logits[o]));
    r.logits.push_back(nn::to_double(logits[o]) / scale);
    if (r.logits.back() > best) {
      best = r.logits.back();
      r.label = static_cast<int>(o);
    }
  }
  // Softmax on the key holder's side (never encrypted), max-subtracted for stability.
  double z = 0;
  for (double l : r.logits) z += std::exp(l - best);
  r.probability = 1.0 / z;
  r.class_name = classes[static_cast<std::size_t>(r.label)];
  return r;
}

std::vector<CellInput> load_images(const std::vector<std::filesystem::path>& files, int size, double window) {
  data::PreprocessOptions o;
  o.size = size;
  if (window > 0) o.window = window;
  o.validate();
  std::vector<CellInput> out;
  for (const auto& f : files) out.push_back({f.filename().string(), data::preprocess_image(f, o)});
  return out;
}

std::vector<CellInput> load_dataset_cells(const std::filesystem::path& dir, const std::string& split,
                                          std::size_t limit, int expected_size) {
  if (nn::is_mnist_folder(dir)) {  // the MNIST idx folder, as eval and params read it
    auto set = nn::load_eval_set(dir, split.empty() ? "test" : split, limit, nn::Shape{1, expected_size, expected_size});
    std::vector<CellInput> out;
    for (std::size_t i = 0; i < set.storage.size(); ++i) out.push_back({set.names[i], std::move(set.storage[i])});
    return out;
  }
  auto ds = data::load_dataset(dir);
  if (ds.image_size != expected_size)
    throw InvalidArgument("dataset '" + dir.string() + "' has " + std::to_string(ds.image_size) +
                          "-px images; the model takes " + std::to_string(expected_size));
  std::vector<CellInput> out;
  auto add = [&](const data::Record& r) {
    if (limit == 0 || out.size() < limit) out.push_back({r.source, r.pixels});
  };
  if (split.empty()) {
    for (const auto& r : ds.records) add(r);
  } else {
    auto sel = ds.select(split);
    require(!sel.empty(), "dataset '" + dir.string() + "' has no split or group '" + split + "'");
    for (const auto* r : sel) add(*r);
  }
  return out;
}

}  // namespace leukocrypt::client
