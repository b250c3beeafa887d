// Production JobRunner: the model's encrypted CryptoNets plan on nn::BfvPlanEvaluator (see
// he_job_runner.h). Public side only: relinearisation keys in, ciphertexts in and out.
#include "service/he_job_runner.h"

#include <cmath>

#include "common/error.h"
#include "common/paths.h"
#include "common/thread_pool.h"
#include "common/timer.h"
#include "he/bfv/context.h"
#include "he/bfv/serialization.h"
#include "he/bfv/keys.h"
#include "nn/bfv_evaluator.h"
#include "nn/circuit_privacy.h"
#include "nn/param_select.h"
#include "nn/bfv_settings.h"
#include "nn/model.h"
#include "nn/plan.h"
#include "nn/params_check.h"
#include "nn/quantize.h"
#include "service/row_check.h"
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

// The model's metrics without anything per patient or per cell: the card is public, and the
// training/validation patients' results must not be published with it.
nlohmann::json public_metrics(const nlohmann::json& m) {
  if (m.is_array()) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& v : m) a.push_back(public_metrics(v));
    return a;
  }
  if (!m.is_object()) return m;
  nlohmann::json o = nlohmann::json::object();
  for (auto it = m.begin(); it != m.end(); ++it) {
    const auto& k = it.key();
    if (k.rfind("per_subject", 0) == 0 || k.rfind("per_patient", 0) == 0 || k.rfind("per_cell", 0) == 0 ||
        k == "subjects" || k == "patients" || k == "predictions" || k == "cells")
      continue;
    o[k] = public_metrics(it.value());
  }
  return o;
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
    settings_ = wire::settings_from_json(params_json, params_what, o.allow_insecure_for_tests);
    auto qopt = find_quantize_options(params_json, model_);
    quantized_ = nn::quantize(nn::collapse_linear(model_), qopt);
    plan_ = nn::lower(quantized_);
    for (const auto& p : settings_.params()) contexts_.push_back(bfv::Context::create(p));
    params_id_ = wire::settings_id(settings_);
    circuit_privacy_ = o.circuit_privacy;
    if (circuit_privacy_) check_flooding_budget();
    model_id_ = model_.name + "-" + wire::fnv1a_hex(model_bytes + qopt.to_json().dump()).substr(0, 12);
    settings_.validate();

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
             {"circuit_privacy",
              {{"enabled", circuit_privacy_},
               {"statistical_security_bits", circuit_privacy_ ? nn::kCircuitPrivacyStatisticalBits : 0}}},
             {"metrics", public_metrics(model_.metadata.value("metrics", nlohmann::json::object()))}};
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
    if (v.blobs.size() != 2 * k && (circuit_privacy_ || v.blobs.size() != k))
      throw FormatError("key upload: holds " + std::to_string(v.blobs.size()) + " keys, expected " +
                        std::to_string(2 * k) + " (a relinearisation key and a public key per plaintext prime" +
                        (circuit_privacy_ ? "; the public key re-randomises results: re-run keygen" : "") + ")");
    std::vector<std::uint64_t> relin_ids;
    for (std::size_t j = 0; j < k; ++j) relin_ids.push_back(bfv::load_relin_keys(*contexts_[j], v.blobs[j]).key_id());
    for (std::size_t j = k; j < v.blobs.size(); ++j) {
      if (bfv::load_public_key(*contexts_[j - k], v.blobs[j]).key_id() != relin_ids[j - k])
        throw FormatError("key upload: public key " + std::to_string(j - k) + " belongs to another secret key");
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
    auto batches = wire::check_batches(h, f.blob_count(), settings_, plan_.input_size(), "request");
    const std::size_t k = contexts_.size();
    // Every ciphertext is fully loaded (seed expansion, every coefficient < q_i), its rows checked
    // for full width, and dropped: one blob per pool thread in memory at a time.
    ThreadPool::global().parallel_for(0, f.blob_count(), [&](std::size_t idx) {
      check_full_width(idx % k, load_input(idx % k, f.read_blob(idx), idx), idx);
    });
    return {h.key_id, h.params_id, h.model_id.empty() ? model_id_ : h.model_id, h.cells};
  }

  RunOutput run(std::string_view eval_keys, const wire::ContainerFile& f,
                const std::function<void(double)>& progress) const override {
    auto kv = wire::parse_as(eval_keys, wire::Kind::kEvalKeys, "stored keys");
    std::vector<bfv::RelinKeys> relin;
    for (std::size_t j = 0; j < contexts_.size(); ++j) relin.push_back(bfv::load_relin_keys(*contexts_[j], kv.blobs.at(j)));
    nn::BfvPlanEvaluator evaluator(plan_, settings_, contexts_, std::move(relin));
    std::vector<std::unique_ptr<nn::CircuitPrivacy>> privacy;
    if (circuit_privacy_)
      for (std::size_t j = 0; j < contexts_.size(); ++j)
        privacy.push_back(std::make_unique<nn::CircuitPrivacy>(
            contexts_[j], bfv::load_public_key(*contexts_[j], kv.blobs.at(contexts_.size() + j))));
    double privacy_s = 0;

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
        if (circuit_privacy_) {
          Timer tp;
          ThreadPool::global().parallel_for(0, n_out, [&](std::size_t o) { privacy[j]->apply(outputs[o]); });
          privacy_s += tp.seconds();
        }
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
    if (circuit_privacy_) r.stages.emplace_back("circuit_privacy", privacy_s);
    r.stages.emplace_back("load_ciphertexts_thread_seconds", load_s);
    for (std::size_t s = 0; s < plan_.steps.size(); ++s)
      if (step_total[s] > 0) r.stages.emplace_back(plan_.steps[s].name, step_total[s]);
    r.stages.emplace_back("serialize_result", save_s);
    r.info = {{"batches", batches.size()},
              {"request_bytes", f.file_size()},
              {"result_bytes", r.result.size()},
              {"request_bytes_per_cell", double(f.file_size()) / h.cells},
              {"result_bytes_per_cell", double(r.result.size()) / h.cells},
              {"max_resident_inputs", stats.max_resident_inputs},
              {"circuit_privacy", circuit_privacy_}};
    return r;
  }

 private:
  // The flooding consumes circuit_privacy_reserved_bits of noise budget: refuse parameters chosen
  // without that reserve (their results could not be flooded and still decrypt).
  void check_flooding_budget() const {
    const double need = nn::circuit_privacy_reserved_bits(settings_.n);
    for (const auto& ctx : contexts_) {
      const auto sim = nn::simulate_noise(plan_, ctx->params(), settings_.mod_switch_levels, settings_.defer_relin);
      if (sim.final_budget < need)
        throw InvalidArgument("circuit privacy needs " + std::to_string(int(std::ceil(need))) +
                              " bits of noise budget left at decryption, these parameters leave " +
                              std::to_string(int(sim.final_budget)) +
                              " (worst case): re-run `leukocrypt params` (it reserves them by default), or run "
                              "with --no-circuit-privacy");
    }
  }

  bfv::Ciphertext load_input(std::size_t prime, std::string_view blob, std::size_t idx) const {
    auto ct = bfv::load_ciphertext(*contexts_[prime], blob);
    if (ct.size() != 2 || ct.level() != contexts_[prime]->max_level())
      throw FormatError("request: ciphertext " + std::to_string(idx) + " is not a fresh ciphertext (size " +
                        std::to_string(ct.size()) + ", level " + std::to_string(ct.level()) + ")");
    return ct;
  }

  // A fresh ciphertext's rows are uniform mod q_i (row_check.h); zero or low-entropy rows are a
  // cheap way to buy a full batch of work and are refused.
  void check_full_width(std::size_t prime, const bfv::Ciphertext& ct, std::size_t idx) const {
    const auto& ctx = *contexts_[prime];
    for (std::size_t c = 0; c < ct.size(); ++c)
      for (std::size_t i = 0; i < ct.level(); ++i) {
        auto why = check_full_width_row(ct.data(c, i), ct.n(), ctx.modulus(i).value());
        if (!why.empty())
          throw RefusedInput("request: ciphertext " + std::to_string(idx) + " (polynomial " + std::to_string(c) +
                             ", prime " + std::to_string(i) + ") is not a fresh encryption: " + why);
      }
  }

  nn::Model model_;
  nn::BfvSettings settings_;
  nn::QuantizedModel quantized_;
  nn::Plan plan_;
  std::vector<bfv::ContextPtr> contexts_;
  std::uint64_t params_id_ = 0;
  bool circuit_privacy_ = true;
  std::string model_id_;
  nlohmann::json card_;
};

}  // namespace

std::unique_ptr<JobRunner> make_he_runner(const HeRunnerOptions& options) {
  return std::make_unique<HeJobRunner>(options);
}

}  // namespace leukocrypt::service
