// Production JobRunner: the model's encrypted CryptoNets plan on nn::BfvPlanEvaluator (see
// he_job_runner.h). Public side only: relinearisation keys in, ciphertexts in and out.
#include "service/he_job_runner.h"

#include <cmath>
#include <memory>
#include <mutex>
#include <optional>

#include "common/error.h"
#include "common/paths.h"
#include "common/thread_pool.h"
#include "common/timer.h"
#include "he/bfv/context.h"
#include "he/bfv/serialization.h"
#include "nn/bfv_evaluator.h"
#include "nn/bfv_slot_evaluator.h"
#include "nn/param_select.h"
#include "nn/bfv_settings.h"
#include "nn/model.h"
#include "nn/plan.h"
#include "nn/params_check.h"
#include "nn/quantize.h"
#include "service/wire/container.h"
#include "service/wire/he_layout.h"

namespace leukocrypt::service {
namespace {

// Quantisation the parameters were chosen for: params.json "quantization"/"quantize", else the
// model's metadata (written by `export`), else the defaults. Either the options themselves or a
// QuantizeChoice object holding them under "options".
nn::QuantizeOptions find_quantize_options(const nlohmann::json& params, const nn::Model& model) {
  auto from = [](const nlohmann::json& q) {
    return nn::QuantizeOptions::from_json(q.contains("options") && q["options"].is_object() ? q["options"] : q);
  };
  for (const auto* src : {&params, &model.metadata})
    if (src->is_object())
      for (const char* key : {"quantization", "quantize"})
        if (src->contains(key) && (*src)[key].is_object()) return from((*src)[key]);
  return {};
}

class HeJobRunner : public JobRunner {
 public:
  explicit HeJobRunner(const HeRunnerOptions& o) {
    auto model_bytes = read_file(o.model);
    model_ = nn::load_model(o.model);
    nlohmann::json params_json = o.params_json;
    std::string params_what = "parameters";
    if (!o.params.empty()) {
      params_what = o.params.string();
      params_json = nlohmann::json::parse(read_file(o.params, 1 << 24), nullptr, false);
      if (params_json.is_discarded()) throw FormatError(params_what + ": not valid JSON");
    }
    nn::check_params_match_model(params_json, model_bytes, params_what, o.model.string());
    settings_ = wire::settings_from_json(params_json, params_what);
    auto qopt = find_quantize_options(params_json, model_);
    quantized_ = nn::quantize(nn::collapse_linear(model_), qopt);
    plan_ = nn::lower(quantized_);
    for (const auto& p : settings_.params()) contexts_.push_back(bfv::Context::create(p));
    params_id_ = wire::settings_id(settings_);
    model_id_ = model_.name + "-" + wire::fnv1a_hex(model_bytes + qopt.to_json().dump()).substr(0, 12);
    settings_.validate();
    // One parameter set (one key per client) serves every layout whose worst-case noise it carries.
    throughput_ = nn::adapt_to_layout(plan_, settings_, nn::Layout::kThroughput);
    latency_ = nn::adapt_to_layout(plan_, settings_, nn::Layout::kLatency);
    if (latency_) latency_plan_ = nn::plan_for(plan_, *latency_);
    nlohmann::json layouts = nlohmann::json::array();
    if (throughput_) layouts.push_back("throughput");
    if (latency_) layouts.push_back("latency");

    card_ = {{"api_version", 1},
             {"model_id", model_id_},
             {"name", model_.name},
             {"variant", model_.variant},
             {"version", model_.metadata.value("version", model_id_)},
             {"input", {{"channels", model_.input.c}, {"height", model_.input.h}, {"width", model_.input.w}}},
             {"input_scale", model_.input_scale},
             {"classes", model_.classes},
             {"params", settings_.to_json()},
             {"params_id", std::to_string(params_id_)},
             {"slots_per_batch", settings_.n},
             {"quantize", qopt.to_json()},
             {"plan", plan_.counts().to_json()},
             {"metrics", model_.metadata.value("metrics", nlohmann::json::object())},
             {"layout", nn::to_string(settings_.layout)},
             {"layouts", layouts}};
    if (latency_) card_["latency"] = latency_plan_.slots.client_json();
  }

  nlohmann::json model_card() const override { return card_; }

  KeyInfo inspect_keys(std::string_view bytes) const override {
    auto v = wire::parse_as(bytes, wire::Kind::kEvalKeys, "key upload");
    if (!wire::is_valid_id(v.key_id)) throw FormatError("key upload: key id '" + v.key_id + "' is not a valid id");
    if (v.params_id != params_id_)
      throw FormatError("key upload: keys were made for parameters " + std::to_string(v.params_id) +
                        ", but this model runs with " + std::to_string(params_id_) +
                        " (GET /v1/model shows them; re-run keygen with them)");
    const std::size_t k = contexts_.size();
    if (v.blobs.size() != k && v.blobs.size() != 2 * k)
      throw FormatError("key upload: holds " + std::to_string(v.blobs.size()) + " keys, expected " + std::to_string(k) +
                        " relinearisation keys (one per plaintext prime), optionally followed by " + std::to_string(k) +
                        " Galois key sets");
    for (std::size_t j = 0; j < k; ++j) bfv::load_relin_keys(*contexts_[j], v.blobs[j]);
    if (v.blobs.size() == 2 * k) {
      auto meta = nlohmann::json::parse(v.meta, nullptr, false);
      if (!meta.is_object() || !meta.contains("galois_steps") || !meta["galois_steps"].is_array())
        throw FormatError("key upload: Galois keys without meta 'galois_steps'");
      for (std::size_t j = 0; j < k; ++j) check_galois(bfv::load_galois_keys(*contexts_[j], v.blobs[k + j]), j);
    }
    return {v.key_id, v.params_id};
  }

  RequestInfo inspect_request(const wire::ContainerFile& f, const KeyInfo& key) const override {
    const auto& h = f.header();
    if (h.kind != wire::Kind::kRequest)
      throw FormatError(std::string("request: holds ") + wire::to_string(h.kind) + ", expected request");
    if (h.key_id != key.key_id) throw FormatError("request: key id '" + h.key_id + "' does not match '" + key.key_id + "'");
    if (!h.model_id.empty() && h.model_id != model_id_)
      throw FormatError("request: made for model '" + h.model_id + "', this server runs '" + model_id_ + "'");
    check_layout_served(h.packing);
    const std::size_t k = contexts_.size();
    if (h.packing == wire::Packing::kLatency) {
      wire::check_latency(h, f.blob_count(), settings_, latency_plan_.slots.cells_per_ciphertext(), "request");
      ThreadPool::global().parallel_for(0, f.blob_count(),
                                        [&](std::size_t idx) { load_input(idx % k, f.read_blob(idx), idx); });
      return {h.key_id, h.params_id, h.model_id.empty() ? model_id_ : h.model_id, h.cells};
    }
    auto batches = wire::check_batches(h, f.blob_count(), settings_, plan_.input_size(), "request");
    // Every ciphertext is fully loaded (seed expansion, every coefficient < q_i) and dropped: one
    // blob per pool thread in memory at a time.
    ThreadPool::global().parallel_for(0, f.blob_count(),
                                      [&](std::size_t idx) { load_input(idx % k, f.read_blob(idx), idx); });
    return {h.key_id, h.params_id, h.model_id.empty() ? model_id_ : h.model_id, h.cells};
  }

  RunOutput run(std::string_view eval_keys, const wire::ContainerFile& f,
                const std::function<void(double)>& progress) const override {
    auto kv = wire::parse_as(eval_keys, wire::Kind::kEvalKeys, "stored keys");
    std::vector<bfv::RelinKeys> relin;
    for (std::size_t j = 0; j < contexts_.size(); ++j) relin.push_back(bfv::load_relin_keys(*contexts_[j], kv.blobs.at(j)));
    check_layout_served(f.header().packing);
    if (f.header().packing == wire::Packing::kLatency) {
      Timer t;
      auto evaluator = latency_evaluator(kv, std::move(relin));
      return run_latency(*evaluator, f, progress, t.seconds());
    }
    nn::BfvPlanEvaluator evaluator(plan_, *throughput_, contexts_, std::move(relin));

    const auto& h = f.header();
    if (h.kind != wire::Kind::kRequest) throw FormatError("stored request: not a request");
    auto batches = wire::check_batches(h, f.blob_count(), settings_, plan_.input_size(), "stored request");
    const std::size_t k = contexts_.size(), n_in = plan_.input_size(), n_out = plan_.output_size();
    wire::Container out;
    out.kind = wire::Kind::kResult;
    out.params_id = h.params_id;
    out.key_id = h.key_id;
    out.model_id = model_id_;
    out.cells = h.cells;
    out.names = h.names;
    out.blobs.resize(batches.size() * k * n_out);
    double load_s = 0, save_s = 0;
    std::vector<double> step_total(plan_.steps.size(), 0.0);
    const std::size_t server_steps = plan_.steps.size();
    // Streaming evaluation, one plaintext prime at a time: the evaluator pulls each input
    // ciphertext from the stored request file when the first layer needs it (pread + validating
    // load, on the pool's threads) and drops it after its last use, so memory holds a window of
    // inputs and one prime's first-layer outputs, never the request.
    nn::StreamStats stats;
    Timer wall;
    for (std::size_t b = 0; b < batches.size(); ++b) {
      for (std::size_t j = 0; j < k; ++j) {
        auto outputs = evaluator.evaluate_prime(
            j,
            [&](std::size_t input) {
              auto idx = wire::blob_index(b, j, input, k, n_in);
              return load_input(j, f.read_blob(idx), idx);
            },
            &stats,
            [&](std::size_t step, std::size_t, const bfv::Ciphertext&) {
              progress((double(b * k + j) + double(step + 1) / double(server_steps)) / double(batches.size() * k));
            });
        if (outputs.size() != n_out)
          throw InvalidArgument("plan produced " + std::to_string(outputs.size()) + " outputs, expected " +
                                std::to_string(n_out));
        Timer t;
        for (std::size_t o = 0; o < n_out; ++o) out.blobs[wire::blob_index(b, j, o, k, n_out)] = bfv::save(outputs[o]);
        save_s += t.seconds();
        progress(double(b * k + j + 1) / double(batches.size() * k));
      }
    }
    load_s = stats.source_seconds;
    for (std::size_t s = 0; s < stats.step_seconds.size() && s < step_total.size(); ++s)
      step_total[s] = stats.step_seconds[s];
    out.meta = nlohmann::json{{"batches", batches},
                              {"layout", wire::kLayout},
                              {"classes", plan_.classes},
                              {"output_scale", static_cast<double>(plan_.output_scale)},
                              {"model_id", model_id_}}
                   .dump();
    RunOutput r;
    r.result = wire::serialize(out);
    r.stages.emplace_back("evaluate_wall", wall.seconds() - save_s);
    r.stages.emplace_back("load_ciphertexts_thread_seconds", load_s);
    for (std::size_t s = 0; s < plan_.steps.size(); ++s)
      if (step_total[s] > 0) r.stages.emplace_back(plan_.steps[s].name, step_total[s]);
    r.stages.emplace_back("serialize_result", save_s);
    r.info = {{"batches", batches.size()},
              {"request_bytes", f.file_size()},
              {"result_bytes", r.result.size()},
              {"request_bytes_per_cell", double(f.file_size()) / h.cells},
              {"result_bytes_per_cell", double(r.result.size()) / h.cells},
              {"max_resident_inputs", stats.max_resident_inputs}};
    return r;
  }

  // Latency requests reuse the slot evaluator (Galois keys loaded, diagonals encoded) of the last
  // key set they ran with: "registered once" also means loaded once. One entry (the keys of the
  // shipped model are ~1.3 GB); throughput requests load their (small) keys every time.
  RunOutput run_with_keys(const std::string& key_ref, const std::function<std::string()>& load_keys,
                          const wire::ContainerFile& f, const std::function<void(double)>& progress) const override {
    if (f.header().packing != wire::Packing::kLatency) return run(load_keys(), f, progress);
    check_layout_served(f.header().packing);
    std::shared_ptr<const nn::BfvSlotEvaluator> evaluator;
    double setup_s = 0;
    {
      std::lock_guard lock(cache_mu_);
      if (cache_ref_ == key_ref) evaluator = cache_;
    }
    if (!evaluator) {
      Timer t;
      const std::string keys = load_keys();
      auto kv = wire::parse_as(keys, wire::Kind::kEvalKeys, "stored keys");
      std::vector<bfv::RelinKeys> relin;
      for (std::size_t j = 0; j < contexts_.size(); ++j)
        relin.push_back(bfv::load_relin_keys(*contexts_[j], kv.blobs.at(j)));
      evaluator = latency_evaluator(kv, std::move(relin));
      setup_s = t.seconds();
      std::lock_guard lock(cache_mu_);
      cache_ref_ = key_ref;
      cache_ = evaluator;
    }
    return run_latency(*evaluator, f, progress, setup_s);
  }

 private:
  // Refuses (FormatError -> 400) a packing whose layout these parameters cannot carry.
  void check_layout_served(wire::Packing p) const {
    if (p == wire::Packing::kLatency && !latency_)
      throw FormatError("request: packed in the latency layout, but this server's parameters (N = " +
                        std::to_string(settings_.n) + ") do not carry it (GET /v1/model: 'layouts'); use throughput");
    if (p == wire::Packing::kThroughput && !throughput_)
      throw FormatError("request: packed in the throughput layout, but this server's parameters do not carry it "
                        "(GET /v1/model: 'layouts'); use latency");
  }

  // Galois keys of prime j must hold every rotation step of the latency plan.
  void check_galois(const bfv::GaloisKeys& gk, std::size_t j) const {
    if (!latency_) return;
    for (int r : latency_plan_.slots.rotation_steps())
      if (!gk.has(bfv::galois_elt_for_step(r, settings_.n)))
        throw FormatError("key upload: Galois keys of plaintext prime " + std::to_string(j) + " lack rotation step " +
                          std::to_string(r) + " (the model card's 'latency.galois_steps' lists them)");
  }

  // The slot evaluator for stored keys: Galois keys loaded, diagonals encoded.
  std::shared_ptr<const nn::BfvSlotEvaluator> latency_evaluator(const wire::ContainerView& kv,
                                                                std::vector<bfv::RelinKeys> relin) const {
    const std::size_t k = contexts_.size();
    if (kv.blobs.size() != 2 * k)
      throw FormatError("stored keys: no Galois keys (the latency layout needs them; re-run keygen with the model card)");
    std::vector<bfv::GaloisKeys> galois;
    for (std::size_t j = 0; j < k; ++j) galois.push_back(bfv::load_galois_keys(*contexts_[j], kv.blobs[k + j]));
    return std::make_shared<const nn::BfvSlotEvaluator>(latency_plan_, *latency_, contexts_, std::move(relin),
                                                        std::move(galois));
  }

  // A latency-packed request: every ciphertext of a prime through the slot evaluator. setup_s:
  // seconds spent loading the keys and encoding the diagonals (0 when they were cached).
  RunOutput run_latency(const nn::BfvSlotEvaluator& evaluator, const wire::ContainerFile& f,
                        const std::function<void(double)>& progress, double setup_s) const {
    const std::size_t k = contexts_.size();
    const auto& h = f.header();
    const std::size_t cts = wire::check_latency(h, f.blob_count(), settings_,
                                                latency_plan_.slots.cells_per_ciphertext(), "stored request");
    Timer wall;
    wire::Container out;
    out.kind = wire::Kind::kResult;
    out.packing = wire::Packing::kLatency;
    out.params_id = h.params_id;
    out.key_id = h.key_id;
    out.model_id = model_id_;
    out.cells = h.cells;
    out.names = h.names;
    out.blobs.resize(cts * k);
    std::vector<double> step_s(latency_plan_.steps.size(), 0.0);
    double load_s = 0, save_s = 0;
    for (std::size_t j = 0; j < k; ++j) {
      Timer t;
      std::vector<bfv::Ciphertext> in(cts);
      ThreadPool::global().parallel_for(
          0, cts, [&](std::size_t c) { in[c] = load_input(j, f.read_blob(c * k + j), c * k + j); });
      load_s += t.seconds();
      auto res = evaluator.evaluate_prime(j, std::move(in), &step_s);
      t.reset();
      for (std::size_t c = 0; c < cts; ++c) out.blobs[c * k + j] = bfv::save(res[c]);
      save_s += t.seconds();
      progress(double(j + 1) / double(k));
    }
    out.meta = nlohmann::json{{"layout", wire::kLatencyLayout},
                              {"latency", latency_plan_.slots.client_json()},
                              {"classes", plan_.classes},
                              {"output_scale", static_cast<double>(plan_.output_scale)},
                              {"model_id", model_id_}}
                   .dump();
    RunOutput r;
    r.result = wire::serialize(out);
    r.stages.emplace_back("evaluate_wall", wall.seconds() - save_s);
    r.stages.emplace_back("load_keys_and_diagonals", setup_s);
    r.stages.emplace_back("load_ciphertexts", load_s);
    for (std::size_t s = 0; s < step_s.size(); ++s)
      if (step_s[s] > 0) r.stages.emplace_back(latency_plan_.steps[s].name, step_s[s]);
    r.stages.emplace_back("serialize_result", save_s);
    r.info = {{"layout", "latency"},
              {"keys_cached", setup_s == 0},
              {"ciphertexts", cts},
              {"request_bytes", f.file_size()},
              {"result_bytes", r.result.size()},
              {"request_bytes_per_cell", double(f.file_size()) / h.cells},
              {"result_bytes_per_cell", double(r.result.size()) / h.cells}};
    return r;
  }

  bfv::Ciphertext load_input(std::size_t prime, std::string_view blob, std::size_t idx) const {
    auto ct = bfv::load_ciphertext(*contexts_[prime], blob);
    if (ct.size() != 2 || ct.level() != contexts_[prime]->max_level())
      throw FormatError("request: ciphertext " + std::to_string(idx) + " is not a fresh ciphertext (size " +
                        std::to_string(ct.size()) + ", level " + std::to_string(ct.level()) + ")");
    return ct;
  }

  nn::Model model_;
  nn::BfvSettings settings_;
  nn::QuantizedModel quantized_;
  nn::Plan plan_;
  std::optional<nn::BfvSettings> throughput_, latency_;  // the settings per layout, if carried
  nn::Plan latency_plan_;
  mutable std::mutex cache_mu_;                                  // guards the two below
  mutable std::string cache_ref_;                                // key set of cache_
  mutable std::shared_ptr<const nn::BfvSlotEvaluator> cache_;
  std::vector<bfv::ContextPtr> contexts_;
  std::uint64_t params_id_ = 0;
  std::string model_id_;
  nlohmann::json card_;
};

}  // namespace

std::unique_ptr<JobRunner> make_he_runner(const HeRunnerOptions& options) {
  return std::make_unique<HeJobRunner>(options);
}

}  // namespace leukocrypt::service
