// The CKKS JobRunner (see ckks_job_runner.h): validation of keys and requests with the CKKS
// loaders, streamed evaluation of a batch at a time (throughput) or the slot program on every
// ciphertext of a request (latency), results at the plan's last level.
#include "service/ckks_job_runner.h"

#include <algorithm>
#include <memory>
#include <mutex>

#include "common/error.h"
#include "common/paths.h"
#include "common/thread_pool.h"
#include "common/timer.h"
#include "he/ckks/context.h"
#include "he/ckks/serialization.h"
#include "he/rlwe/serialization.h"
#include "nn/ckks_circuit_privacy.h"
#include "nn/ckks_evaluator.h"
#include "nn/ckks_settings.h"
#include "nn/ckks_slot_evaluator.h"
#include "nn/params_check.h"
#include "nn/plan.h"
#include "service/row_check.h"
#include "service/runner_parts.h"
#include "service/wire/container.h"
#include "service/wire/he_layout.h"

namespace leukocrypt::service {
namespace {

// A key bundle or request made for another scheme than this server's: one clear 400.
void check_scheme(const std::string& meta, const std::string& what) {
  const auto s = scheme_of_meta(meta);
  if (s != "ckks")
    throw FormatError(what + ": made for the " + s + " scheme, this server runs ckks (GET /v1/model: 'scheme'; "
                             "re-run keygen with its model card)");
}

class CkksJobRunner : public JobRunner {
 public:
  CkksJobRunner(const HeRunnerOptions& o, const nlohmann::json& params_json, const std::string& params_what) {
    served_ = load_served_model(o, params_json, params_what);
    settings_ = nn::ckks_settings_from_json(params_json, params_what, o.allow_insecure_for_tests);
    ctx_ = ckks::Context::create(settings_.params);
    circuit_privacy_ = o.circuit_privacy;
    job_ = o.job;
    if (settings_.layout == nn::Layout::kLatency) latency_plan_ = nn::ckks_plan_for(served_.plan, settings_);
    if (circuit_privacy_) check_flood_covers_jobs(params_what);
    const std::size_t rescales = nn::ckks_rescales(served_.plan, settings_.schedule);
    require(rescales < settings_.params.max_level(),
            params_what + ": the plan needs " + std::to_string(rescales) + " rescales, the CKKS parameters have " +
                std::to_string(settings_.params.max_level() - 1));
    const char* layout = nn::to_string(settings_.layout);
    card_ = common_card(served_);
    card_.update({{"scheme", "ckks"},
                  {"input_scale", double(served_.plan.input_scale)},
                  {"params", settings_.to_json()},
                  {"params_id", std::to_string(settings_.params.id())},
                  {"slots_per_batch", settings_.params.slots()},
                  {"circuit_privacy", circuit_privacy_card()},
                  {"layout", layout},
                  {"layouts", {layout}}});
    if (latency()) card_["latency"] = latency_plan_.slots.client_json();
  }

  // The parameters must carry a flood (params --scheme ckks chose it for jobs of up to
  // privacy_ciphertexts results) covering this server's largest job (nn/ckks_circuit_privacy.h).
  void check_flood_covers_jobs(const std::string& params_what) const {
    if (!settings_.circuit_privacy)
      throw InvalidArgument(params_what + ": these CKKS parameters carry no flood for circuit privacy (made with "
                            "--no-circuit-privacy). Re-run `leukocrypt params --scheme ckks` without it (a wide scale "
                            "chain that carries the flood: nn/ckks_circuit_privacy.h), or serve these with "
                            "--no-circuit-privacy (the key holder may then learn more about the model than the logits; "
                            "docs/API.md, Security)");
    const auto cts = nn::ckks_result_ciphertexts_per_job(latency() ? latency_plan_ : served_.plan,
                                                         settings_.params.slots(), job_);
    if (cts > settings_.privacy_ciphertexts)
      throw InvalidArgument("circuit privacy for jobs of up to " + std::to_string(job_.max_cells) + " cells / " +
                            std::to_string(job_.max_batches) + " batches (" + std::to_string(cts) +
                            " result ciphertexts): " + params_what + " floods for " +
                            std::to_string(settings_.privacy_ciphertexts) + "; lower the per-job caps or re-run "
                            "`leukocrypt params --scheme ckks`");
  }

  nlohmann::json circuit_privacy_card() const {
    if (!circuit_privacy_)
      return {{"enabled", false}, {"statistical_security_bits", 0},
              {"note", "CKKS results are not noise-flooded (docs/API.md, Security)"}};
    return {{"enabled", true},
            {"statistical_security_bits", settings_.statistical_bits},  // as the parameters state it
            {"flood_bits", settings_.flood_bits},
            {"result_ciphertexts_per_job", settings_.privacy_ciphertexts}};
  }

  nlohmann::json model_card() const override { return card_; }

  KeyInfo inspect_keys(std::string_view bytes) const override {
    auto v = open_key_upload(bytes, settings_.params.id(), check_scheme);
    // eval.key (CKKS): the relinearisation key, then the public key (circuit privacy re-randomises
    // results with it), then for the latency layout the Galois keys of its rotation steps.
    const std::size_t want = latency() ? 3 : 2;
    if (v.blobs.size() != want)
      throw FormatError("key upload: holds " + std::to_string(v.blobs.size()) + " keys, expected " +
                        (latency() ? "a relinearisation key, a public key and the latency layout's Galois keys"
                                   : "a relinearisation key and a public key") +
                        " (CKKS, " + nn::to_string(settings_.layout) +
                        " layout; re-run keygen with this server's model card)");
    const auto relin_id = ckks::load_relin_keys(*ctx_, v.blobs[0]).key_id();
    if (ckks::load_public_key(*ctx_, v.blobs[1]).key_id() != relin_id)
      throw FormatError("key upload: the public key belongs to another secret key");
    if (latency()) check_galois(v.blobs[2], relin_id);
    return {v.key_id, v.params_id};
  }

  RequestInfo inspect_request(const wire::ContainerFile& f, const KeyInfo& key) const override {
    const auto& h = f.header();
    check_request_header(h, key, served_.model_id, nullptr);  // the scheme: with the batches
    if (latency()) check_latency(h, f.blob_count(), "request");
    else check_batches(h, f.blob_count(), "request");
    ThreadPool::global().parallel_for(0, f.blob_count(), [&](std::size_t idx) {
      check_full_width(load_input(f.read_blob(idx), idx), idx);
    });
    return request_info(h, served_.model_id);
  }

  RunOutput run(std::string_view eval_keys, const wire::ContainerFile& f,
                const std::function<void(double)>& progress) const override {
    auto kv = wire::parse_as(eval_keys, wire::Kind::kEvalKeys, "stored keys");
    check_stored_keys(kv, "ckks", settings_.params.id());
    if (kv.blobs.empty()) throw FormatError("stored keys: no relinearisation key");
    if (latency()) {
      Timer t;
      auto evaluator = slot_evaluator(kv);
      return run_latency(*evaluator, f, progress, t.seconds());
    }
    nn::CkksPlanEvaluator evaluator(served_.plan, ctx_, ckks::load_relin_keys(*ctx_, kv.blobs[0]), settings_.schedule);
    const auto privacy = privacy_for(kv);
    const auto& h = f.header();
    const auto batches = check_batches(h, f.blob_count(), "stored request");
    check_results_covered(batches.size() * served_.plan.output_size());
    const std::size_t n_in = served_.plan.input_size(), n_out = served_.plan.output_size();
    auto out = result_container(h, served_.model_id);
    out.blobs.resize(batches.size() * n_out);
    nn::CkksStreamStats stats, total;
    total.step_seconds.assign(served_.plan.steps.size(), 0.0);
    double save_s = 0, privacy_s = 0;
    Timer wall;
    // Streaming: the evaluator pulls each input ciphertext from the stored file (pread + validating
    // load, on the pool's threads) when the first layer needs it and drops it after its last use.
    for (std::size_t b = 0; b < batches.size(); ++b) {
      auto outputs = evaluator.evaluate(
          [&](std::size_t input) {
            const std::size_t idx = b * n_in + input;
            return load_input(f.read_blob(idx), idx);
          },
          &stats);
      check_output_count(outputs.size(), n_out);
      total.source_seconds += stats.source_seconds;
      total.max_resident_inputs = std::max(total.max_resident_inputs, stats.max_resident_inputs);
      for (std::size_t s = 0; s < stats.step_seconds.size() && s < total.step_seconds.size(); ++s)
        total.step_seconds[s] += stats.step_seconds[s];
      if (privacy) {
        Timer tp;
        ThreadPool::global().parallel_for(0, n_out, [&](std::size_t o) { privacy->apply(outputs[o]); });
        privacy_s += tp.seconds();
      }
      Timer t;
      for (std::size_t o = 0; o < n_out; ++o) out.blobs[b * n_out + o] = ckks::save(outputs[o]);
      save_s += t.seconds();
      progress(double(b + 1) / double(batches.size()));
    }
    out.meta = nlohmann::json{{"scheme", "ckks"},
                              {"batches", batches},
                              {"layout", wire::kLayout},
                              {"classes", served_.plan.classes},
                              {"output_scale", 1.0},
                              {"model_id", served_.model_id}}
                   .dump();
    RunOutput r;
    r.result = wire::serialize(out);
    add_streamed_stages(r, served_.plan,
                        {wall.seconds() - save_s - privacy_s, total.source_seconds, save_s,
                         privacy ? std::optional<double>(privacy_s) : std::nullopt, total.step_seconds});
    r.info = byte_info(f, r.result.size());
    r.info.update({{"scheme", "ckks"},
                   {"batches", batches.size()},
                   {"max_resident_inputs", total.max_resident_inputs},
                   {"circuit_privacy", privacy != nullptr}});
    return r;
  }

  // Latency requests reuse the slot evaluator (Galois keys loaded, diagonals encoded: ~2 s at
  // N = 16384) of the last key set they ran with, as the BFV runner does; one entry.
  RunOutput run_with_keys(const std::string& key_ref, const std::function<std::string()>& load_keys,
                          const wire::ContainerFile& f, const std::function<void(double)>& progress) const override {
    if (!latency()) return run(load_keys(), f, progress);
    std::shared_ptr<const SlotRunner> evaluator;
    {
      std::lock_guard lock(cache_mu_);
      if (cache_ref_ == key_ref) evaluator = cache_;
    }
    double setup_s = 0;
    if (!evaluator) {
      Timer t;
      const std::string keys = load_keys();
      auto kv = wire::parse_as(keys, wire::Kind::kEvalKeys, "stored keys");
      check_stored_keys(kv, "ckks", settings_.params.id());
      evaluator = slot_evaluator(kv);
      setup_s = t.seconds();
      std::lock_guard lock(cache_mu_);
      cache_ref_ = key_ref;
      cache_ = evaluator;
    }
    return run_latency(*evaluator, f, progress, setup_s);
  }

 private:
  bool latency() const { return settings_.layout == nn::Layout::kLatency; }

  // Galois keys of the upload: every coefficient valid, the relinearisation key's secret key, every
  // rotation step of the latency plan present.
  void check_galois(std::string_view blob, std::uint64_t relin_id) const {
    const auto summary = rlwe::check_galois_keys(*ctx_, blob);
    if (summary.key_id != relin_id) throw FormatError("key upload: the Galois keys belong to another secret key");
    for (int r : latency_plan_.slots.rotation_steps())
      if (!std::binary_search(summary.galois_elts.begin(), summary.galois_elts.end(),
                              ckks::galois_elt_for_rotation(r, settings_.params.n())))
        throw FormatError("key upload: the Galois keys lack rotation step " + std::to_string(r) +
                          " (the model card's 'latency.galois_steps' lists them)");
  }

  // Scheme, parameter id and packing (the one layout these parameters serve) of a request or
  // stored request; returns its meta (discarded when it is not JSON).
  nlohmann::json check_header(const wire::ContainerHeader& h, wire::Packing want, const std::string& what) const {
    check_scheme(h.meta, what);
    if (h.params_id != settings_.params.id())
      throw FormatError(what + ": parameter id " + std::to_string(h.params_id) + " differs from the model's " +
                        std::to_string(settings_.params.id()));
    if (h.packing != want)
      throw FormatError(what + ": packed in the " + (want == wire::Packing::kLatency ? "throughput" : "latency") +
                        " layout, but this server's CKKS parameters were chosen for the " +
                        nn::to_string(settings_.layout) + " layout (GET /v1/model: 'layouts')");
    return nlohmann::json::parse(h.meta, nullptr, false);
  }

  // A latency-packed request against the parameters: scheme, params id, packing, blob layout, one
  // ciphertext per cells_per_ciphertext cells. Returns the ciphertext count.
  std::size_t check_latency(const wire::ContainerHeader& h, std::size_t blobs, const std::string& what) const {
    const auto meta = check_header(h, wire::Packing::kLatency, what);
    if (!meta.is_object() || meta.value("layout", "") != wire::kLatencyLayout)
      throw FormatError(what + ": meta lacks layout '" + std::string(wire::kLatencyLayout) + "'");
    const std::size_t cts = latency_plan_.slots.ciphertexts_for(h.cells);
    if (h.cells == 0 || blobs != cts)
      throw FormatError(what + ": " + std::to_string(blobs) + " ciphertexts for " + std::to_string(h.cells) +
                        " cells, expected " + std::to_string(cts) + " (" +
                        std::to_string(latency_plan_.slots.cells_per_ciphertext()) + " cells per ciphertext)");
    return cts;
  }

  // The slot evaluator for stored keys (Galois keys loaded, diagonals encoded) and, with circuit
  // privacy, the flood with their public key.
  struct SlotRunner {
    SlotRunner(nn::CkksSlotEvaluator e, std::unique_ptr<nn::CkksCircuitPrivacy> p)
        : evaluator(std::move(e)), privacy(std::move(p)) {}
    nn::CkksSlotEvaluator evaluator;
    std::unique_ptr<nn::CkksCircuitPrivacy> privacy;
  };
  std::shared_ptr<const SlotRunner> slot_evaluator(const wire::ContainerView& kv) const {
    if (kv.blobs.size() < 3)
      throw FormatError("stored keys: no Galois keys (the latency layout needs them; re-run keygen with the model card)");
    return std::make_shared<const SlotRunner>(
        nn::CkksSlotEvaluator(latency_plan_, ctx_, ckks::load_relin_keys(*ctx_, kv.blobs[0]),
                              ckks::load_galois_keys(*ctx_, kv.blobs[2]), settings_.schedule),
        privacy_for(kv));
  }

  // A latency request: every ciphertext through the slot program. setup_s: seconds spent loading
  // the keys and encoding the diagonals (0 when they were cached).
  RunOutput run_latency(const SlotRunner& runner, const wire::ContainerFile& f,
                        const std::function<void(double)>& progress, double setup_s) const {
    const auto& h = f.header();
    const std::size_t cts = check_latency(h, f.blob_count(), "stored request");
    check_results_covered(cts);
    Timer wall, t;
    std::vector<ckks::Ciphertext> in(cts);
    ThreadPool::global().parallel_for(0, cts, [&](std::size_t c) { in[c] = load_input(f.read_blob(c), c); });
    const double load_s = t.seconds();
    std::vector<double> step_s;
    auto res = runner.evaluator.evaluate(std::move(in), &step_s);
    double privacy_s = 0;
    if (runner.privacy) {
      t.reset();
      ThreadPool::global().parallel_for(0, res.size(), [&](std::size_t c) { runner.privacy->apply(res[c]); });
      privacy_s = t.seconds();
    }
    t.reset();
    auto out = result_container(h, served_.model_id);
    out.packing = wire::Packing::kLatency;
    for (const auto& ct : res) out.blobs.push_back(ckks::save(ct));
    out.meta = nlohmann::json{{"scheme", "ckks"},
                              {"layout", wire::kLatencyLayout},
                              {"latency", latency_plan_.slots.client_json()},
                              {"classes", served_.plan.classes},
                              {"output_scale", 1.0},
                              {"model_id", served_.model_id}}
                   .dump();
    const double save_s = t.seconds();
    progress(1.0);
    RunOutput r;
    r.result = wire::serialize(out);
    r.stages.emplace_back("evaluate_wall", wall.seconds() - save_s);
    r.stages.emplace_back("load_keys_and_diagonals", setup_s);
    r.stages.emplace_back("load_ciphertexts", load_s);
    add_step_stages(r, latency_plan_, step_s);
    if (runner.privacy) r.stages.emplace_back("circuit_privacy", privacy_s);
    r.stages.emplace_back("serialize_result", save_s);
    r.info = byte_info(f, r.result.size());
    r.info.update({{"scheme", "ckks"},
                   {"layout", "latency"},
                   {"ciphertexts", cts},
                   {"keys_cached", setup_s == 0},
                   {"circuit_privacy", runner.privacy != nullptr}});
    return r;
  }

  // Header against the parameters: scheme, params id, packing, layout, batches of N/2 cells
  // consistent with the cell count, blob count = batches x input values. Returns the batch sizes.
  std::vector<std::size_t> check_batches(const wire::ContainerHeader& h, std::size_t blobs, const std::string& what) const {
    auto meta = check_header(h, wire::Packing::kThroughput, what);
    if (!meta.is_object() || meta.value("layout", "") != wire::kLayout || !meta.contains("batches"))
      throw FormatError(what + ": meta lacks layout '" + std::string(wire::kLayout) + "' or 'batches'");
    const auto expect = wire::batch_sizes(h.cells, settings_.params.slots());
    std::vector<std::size_t> batches;
    try {
      batches = meta["batches"].get<std::vector<std::size_t>>();
    } catch (const std::exception&) {
      throw FormatError(what + ": meta 'batches' is not a list of counts");
    }
    if (h.cells == 0 || batches != expect)
      throw FormatError(what + ": batches do not split " + std::to_string(h.cells) + " cells into slots of " +
                        std::to_string(settings_.params.slots()));
    if (blobs != batches.size() * served_.plan.input_size())
      throw FormatError(what + ": " + std::to_string(blobs) + " ciphertexts, expected " +
                        std::to_string(batches.size() * served_.plan.input_size()) + " (" + std::to_string(batches.size()) +
                        " batches x " + std::to_string(served_.plan.input_size()) + " input values)");
    return batches;
  }

  // The flooding of results (circuit privacy) with the key holder's public key; null when off.
  std::unique_ptr<nn::CkksCircuitPrivacy> privacy_for(const wire::ContainerView& kv) const {
    if (!circuit_privacy_) return nullptr;
    if (kv.blobs.size() < 2) throw FormatError("stored keys: no public key (circuit privacy needs it; re-run keygen)");
    return std::make_unique<nn::CkksCircuitPrivacy>(ctx_, ckks::load_public_key(*ctx_, kv.blobs[1]), settings_.flood_bits);
  }

  // `infer` runs any request (serve refuses jobs above its caps with 413); a larger one than the
  // flood covers (cts result ciphertexts, either layout) would be hidden at less than 2^-40.
  void check_results_covered(std::size_t cts) const {
    if (!circuit_privacy_) return;
    if (cts > settings_.privacy_ciphertexts)
      throw InvalidArgument("request: " + std::to_string(cts) + " result ciphertexts, but circuit privacy covers jobs of up to " +
                            std::to_string(settings_.privacy_ciphertexts) + ": split the request");
  }

  ckks::Ciphertext load_input(std::string_view blob, std::size_t idx) const {
    auto ct = ckks::load_ciphertext(*ctx_, blob);
    if (ct.size() != 2 || ct.level() != settings_.params.max_level() || ct.scale() != settings_.params.default_scale())
      throw_not_fresh(idx, ct.size(), ct.level(), " at the default scale");
    return ct;
  }

  void check_full_width(const ckks::Ciphertext& ct, std::size_t idx) const {
    for (std::size_t c = 0; c < ct.size(); ++c)
      for (std::size_t i = 0; i < ct.level(); ++i) {
        auto why = check_full_width_row(ct.data(c, i), ct.n(), ctx_->modulus(i).value());
        if (!why.empty()) refuse_row(idx, c, i, why);
      }
  }

  ServedModel served_;
  nn::CkksSettings settings_;
  nn::Plan latency_plan_;  // the served plan in the CKKS latency layout (latency parameters only)
  mutable std::mutex cache_mu_;                                    // guards the two below
  mutable std::string cache_ref_;                                  // key set of cache_
  mutable std::shared_ptr<const SlotRunner> cache_;
  ckks::ContextPtr ctx_;
  nlohmann::json card_;
  bool circuit_privacy_ = true;
  nn::JobCaps job_;
};

}  // namespace

std::unique_ptr<JobRunner> make_ckks_runner(const HeRunnerOptions& options, const nlohmann::json& params_json,
                                            const std::string& params_what) {
  return std::make_unique<CkksJobRunner>(options, params_json, params_what);
}

}  // namespace leukocrypt::service
