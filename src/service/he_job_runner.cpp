// Production JobRunner: the model's encrypted CryptoNets plan on nn::BfvPlanEvaluator (see
// he_job_runner.h). Public side only: relinearisation keys in, ciphertexts in and out.
#include "service/he_job_runner.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <optional>

#include "common/error.h"
#include "common/paths.h"
#include "nn/ckks_settings.h"
#include "service/ckks_job_runner.h"
#include "common/thread_pool.h"
#include "common/timer.h"
#include "he/bfv/context.h"
#include "he/bfv/serialization.h"
#include "he/bfv/keys.h"
#include "nn/bfv_evaluator.h"
#include "nn/circuit_privacy.h"
#include "nn/bfv_slot_evaluator.h"
#include "nn/param_select.h"
#include "nn/bfv_settings.h"
#include "nn/model.h"
#include "nn/plan.h"
#include "nn/quantize.h"
#include "service/row_check.h"
#include "service/runner_parts.h"
#include "service/wire/container.h"
#include "service/wire/he_layout.h"

namespace leukocrypt::service {

std::string scheme_of_meta(const std::string& meta_text) {
  auto meta = nlohmann::json::parse(meta_text, nullptr, false);
  if (!meta.is_object()) return "bfv";
  if (meta.contains("scheme") && meta["scheme"].is_string()) return meta["scheme"].get<std::string>();
  if (meta.contains("settings") && nn::is_ckks_document(meta["settings"])) return "ckks";
  return "bfv";
}

void check_stored_keys(const wire::ContainerHeader& keys, const std::string& runner_scheme,
                       std::uint64_t runner_params_id) {
  const auto scheme = scheme_of_meta(keys.meta);
  if (scheme == runner_scheme && keys.params_id == runner_params_id) return;
  throw FormatError("stored keys: made for " + scheme + " parameters " + std::to_string(keys.params_id) +
                    ", but this runner has " + runner_scheme + " parameters " + std::to_string(runner_params_id) +
                    ": `leukocrypt worker` must run with the API nodes' --model and --params (GET /v1/model)");
}

namespace {

// A key bundle or request whose meta says CKKS, sent to this BFV server: one clear 400.
void refuse_ckks(const std::string& meta_text, const std::string& what) {
  if (scheme_of_meta(meta_text) == "ckks")
    throw FormatError(what + ": made for the ckks scheme, this server runs bfv (GET /v1/model: 'scheme'; re-run keygen "
                             "with its model card)");
}

class HeJobRunner : public JobRunner {
 public:
  HeJobRunner(const HeRunnerOptions& o, const nlohmann::json& params_json, const std::string& params_what)
      : served_(load_served_model(o, params_json, params_what)) {
    settings_ = wire::settings_from_json(params_json, params_what, o.allow_insecure_for_tests);
    for (const auto& p : settings_.params()) contexts_.push_back(bfv::Context::create(p));
    params_id_ = wire::settings_id(settings_);
    circuit_privacy_ = o.circuit_privacy;
    job_ = o.job;
    settings_.validate();
    // One parameter set (one key per client) serves every layout whose worst-case noise it carries.
    // With circuit privacy the other layout must also leave the flooding reserve.
    if (circuit_privacy_) check_flooding_budget();
    throughput_ = nn::adapt_to_layout(served_.plan, settings_, nn::Layout::kThroughput, layout_margin(nn::Layout::kThroughput));
    latency_ = nn::adapt_to_layout(served_.plan, settings_, nn::Layout::kLatency, layout_margin(nn::Layout::kLatency));
    if (latency_) latency_plan_ = nn::plan_for(served_.plan, *latency_);
    if (throughput_) throughput_plan_ = nn::plan_for(served_.plan, *throughput_);  // blocked when blocks > 1
    nlohmann::json layouts = nlohmann::json::array();
    if (throughput_) layouts.push_back("throughput");
    if (latency_) layouts.push_back("latency");

    card_ = common_card(served_);
    card_.update({{"scheme", "bfv"},
                  {"input_scale", served_.model.input_scale},
                  {"params", settings_.to_json()},
                  {"params_id", std::to_string(params_id_)},
                  {"slots_per_batch", throughput_ ? throughput_->cells_per_batch() : settings_.n},
                  {"quantize", served_.quantize.to_json()},
                  {"circuit_privacy",
                   {{"enabled", circuit_privacy_},
                    {"statistical_security_bits", circuit_privacy_ ? nn::kCircuitPrivacyStatisticalBits : 0}}},
                  {"layout", nn::to_string(settings_.layout)},
                  {"layouts", layouts}});
    if (latency_) card_["latency"] = latency_plan_.slots.client_json();
    if (!throughput_plan_.blocks.empty()) card_["blocks"] = throughput_plan_.blocks.client_json();
  }

  nlohmann::json model_card() const override { return card_; }

  KeyInfo inspect_keys(std::string_view bytes) const override {
    auto v = open_key_upload(bytes, params_id_, refuse_ckks);
    const std::size_t k = contexts_.size();
    // eval.key: k relinearisation keys, then k public keys (circuit privacy re-randomises results
    // with them), then, for the latency layout, k Galois key sets (meta 'galois_steps').
    const auto parts = key_parts(v);
    if (circuit_privacy_ && !parts.public_keys)
      throw FormatError("key upload: no public keys (the service re-randomises results with them; re-run keygen)");
    std::vector<std::uint64_t> relin_ids;
    for (std::size_t j = 0; j < k; ++j) relin_ids.push_back(bfv::load_relin_keys(*contexts_[j], v.blobs[j]).key_id());
    if (parts.public_keys)
      for (std::size_t j = 0; j < k; ++j)
        if (bfv::load_public_key(*contexts_[j], v.blobs[k + j]).key_id() != relin_ids[j])
          throw FormatError("key upload: public key " + std::to_string(j) + " belongs to another secret key");
    // Galois keys (gigabytes) are checked without being built: every stored coefficient < q, but
    // no seed expanded and one key in memory at a time (the jobs load them from the stored file).
    if (!throughput_plan_.blocks.empty() && !parts.galois)
      throw FormatError("key upload: no Galois keys (this server's throughput layout adds " +
                        std::to_string(throughput_plan_.blocks.count) +
                        " spatial blocks by rotations: the model card's 'blocks' section; re-run keygen with it)");
    if (parts.galois) {
      for (std::size_t j = 0; j < k; ++j) {
        const auto summary = bfv::check_galois_keys(*contexts_[j], v.blobs[parts.galois_at + j]);
        if (summary.key_id != relin_ids[j])
          throw FormatError("key upload: Galois keys " + std::to_string(j) + " belong to another secret key");
        check_galois(summary.galois_elts, j);
      }
    }
    return {v.key_id, v.params_id};
  }

  RequestInfo inspect_request(const wire::ContainerFile& f, const KeyInfo& key) const override {
    const auto& h = f.header();
    check_request_header(h, key, served_.model_id, refuse_ckks);
    check_layout_served(h.packing);
    const std::size_t k = contexts_.size();
    // Every ciphertext is fully checked (every coefficient < q_i, fresh, the rows its sender chose
    // full-width: check_input), one blob per pool thread in memory at a time.
    if (h.packing == wire::Packing::kLatency)
      wire::check_latency(h, f.blob_count(), settings_, latency_plan_.slots.cells_per_ciphertext(), "request");
    else
      wire::check_batches(h, f.blob_count(), settings_, throughput_plan_.input_size(), "request");
    ThreadPool::global().parallel_for(0, f.blob_count(), [&](std::size_t idx) { check_input(idx % k, f.read_blob(idx), idx); });
    return request_info(h, served_.model_id);
  }

  RunOutput run(std::string_view eval_keys, const wire::ContainerFile& f,
                const std::function<void(double)>& progress) const override {
    auto kv = open_stored_keys(eval_keys);
    auto relin = relin_keys(kv);
    check_layout_served(f.header().packing);
    if (f.header().packing == wire::Packing::kLatency) {
      Timer t;
      auto keys = latency_keys(kv, std::move(relin));
      return run_latency(*keys, f, progress, t.seconds());
    }
    nn::BfvPlanEvaluator evaluator(throughput_plan_, *throughput_, contexts_, std::move(relin), block_keys(kv));
    const auto privacy = privacy_for(kv);
    double privacy_s = 0;

    const auto& h = f.header();
    if (h.kind != wire::Kind::kRequest) throw FormatError("stored request: not a request");
    auto batches = wire::check_batches(h, f.blob_count(), settings_, throughput_plan_.input_size(), "stored request");
    const std::size_t k = contexts_.size(), n_out = served_.plan.output_size();
    check_job_covered(batches.size() * k * n_out, throughput_plan_, *throughput_);
    auto out = result_container(h, served_.model_id);
    out.blobs.resize(batches.size() * k * n_out);
    double load_s = 0, save_s = 0;
    std::vector<double> step_total(throughput_plan_.steps.size(), 0.0);
    // Streaming evaluation, one plaintext prime at a time: the evaluator pulls each input
    // ciphertext from the stored request file when the first layer needs it (pread + validating
    // load, on the pool's threads) and drops it after its last use, so memory holds a window of
    // inputs and one prime's first-layer outputs, never the request.
    nn::StreamStats stats;
    UnitSeconds unit;
    Timer wall;
    for (std::size_t b = 0; b < batches.size(); ++b) {
      for (std::size_t j = 0; j < k; ++j) {
        auto blobs = run_unit(evaluator, privacy, f, b, batches[b], j, &stats, unit, [&](double fraction) {
          progress((double(b * k + j) + fraction) / double(batches.size() * k));
        });
        for (std::size_t o = 0; o < n_out; ++o) out.blobs[wire::blob_index(b, j, o, k, n_out)] = std::move(blobs[o]);
        progress(double(b * k + j + 1) / double(batches.size() * k));
      }
    }
    privacy_s = unit.privacy;
    save_s = unit.save;
    load_s = stats.source_seconds;
    for (std::size_t s = 0; s < stats.step_seconds.size() && s < step_total.size(); ++s)
      step_total[s] = stats.step_seconds[s];
    out.meta = result_meta(batches);
    RunOutput r;
    r.result = wire::serialize(out);
    add_streamed_stages(r, throughput_plan_, {wall.seconds() - save_s, load_s, save_s, privacy_stage(privacy_s), step_total});
    r.info = byte_info(f, r.result.size());
    r.info.update({{"batches", batches.size()},
                   {"max_resident_inputs", stats.max_resident_inputs},
                   {"circuit_privacy", circuit_privacy_}});
    return r;
  }

  // Throughput requests split into one task per batch and plaintext prime (they share nothing
  // until the key holder's CRT); latency requests run whole.
  std::size_t task_count(const wire::ContainerFile& f) const override {
    const auto& h = f.header();
    if (h.kind != wire::Kind::kRequest || h.packing != wire::Packing::kThroughput || !throughput_) return 1;
    try {
      return wire::check_batches(h, f.blob_count(), settings_, throughput_plan_.input_size(), "stored request").size() *
             contexts_.size();
    } catch (const std::exception&) {
      return 1;  // run() reports what is wrong with it
    }
  }

  // Task index = batch * k + prime: that batch through the plan at that prime. The part is a
  // result container holding the task's n_out output ciphertexts (meta: batch, prime).
  RunOutput run_task(const std::string& key_ref, const std::function<std::string()>& load_keys,
                     const wire::ContainerFile& f, std::size_t index, std::size_t count,
                     const std::function<void(double)>& progress) const override {
    if (count == 1 && index == 0) return run_with_keys(key_ref, load_keys, f, progress);
    const auto& h = f.header();
    if (h.kind != wire::Kind::kRequest) throw FormatError("stored request: not a request");
    check_layout_served(h.packing);
    if (h.packing != wire::Packing::kThroughput) throw InvalidArgument("latency requests are not split into tasks");
    const auto batches = wire::check_batches(h, f.blob_count(), settings_, throughput_plan_.input_size(), "stored request");
    const std::size_t k = contexts_.size(), n_out = served_.plan.output_size();
    if (count != batches.size() * k || index >= count)
      throw InvalidArgument("task " + std::to_string(index) + " of " + std::to_string(count) + ": this request has " +
                            std::to_string(batches.size() * k) + " tasks (batches x plaintext primes)");
    check_job_covered(batches.size() * k * n_out, throughput_plan_, *throughput_);
    Timer wall;
    const std::string key_bytes = load_keys();
    auto kv = open_stored_keys(key_bytes);
    auto relin = relin_keys(kv);
    nn::BfvPlanEvaluator evaluator(throughput_plan_, *throughput_, contexts_, std::move(relin), block_keys(kv));
    const auto privacy = privacy_for(kv);
    const double setup_s = wall.seconds();
    const std::size_t b = index / k, j = index % k;
    nn::StreamStats stats;
    UnitSeconds unit;
    auto part = result_container(h, served_.model_id);
    part.names.clear();  // assemble() takes them from the request
    part.blobs = run_unit(evaluator, privacy, f, b, batches[b], j, &stats, unit,
                          [&](double fraction) { progress(fraction); });
    part.meta = nlohmann::json{{"batch", b}, {"prime", j}}.dump();
    RunOutput r;
    r.result = wire::serialize(part);
    r.stages.emplace_back("load_keys", setup_s);
    add_streamed_stages(r, throughput_plan_, {wall.seconds() - unit.save - setup_s, stats.source_seconds, unit.save,
                                   privacy_stage(unit.privacy), stats.step_seconds});
    r.info = {{"batches", batches.size()},
              {"request_bytes", f.file_size()},
              {"request_bytes_per_cell", double(f.file_size()) / h.cells},
              {"max_resident_inputs", stats.max_resident_inputs},
              {"circuit_privacy", circuit_privacy_}};
    return r;
  }

  // The parts (one per batch and prime, in task order) into the result container run() makes.
  std::string assemble(const wire::ContainerFile& f, const std::vector<std::string>& parts) const override {
    if (parts.size() == 1) return parts[0];  // not split
    const auto& h = f.header();
    const auto batches = wire::check_batches(h, f.blob_count(), settings_, throughput_plan_.input_size(), "stored request");
    const std::size_t k = contexts_.size(), n_out = served_.plan.output_size();
    if (parts.size() != batches.size() * k)
      throw FormatError("assembly: " + std::to_string(parts.size()) + " task parts, expected " +
                        std::to_string(batches.size() * k));
    auto out = result_container(h, served_.model_id);
    out.blobs.resize(batches.size() * k * n_out);
    for (std::size_t t = 0; t < parts.size(); ++t) {
      auto v = wire::parse_as(parts[t], wire::Kind::kResult, "task part " + std::to_string(t));
      auto meta = nlohmann::json::parse(v.meta, nullptr, false);
      const std::size_t b = t / k, j = t % k;
      if (v.blobs.size() != n_out || !meta.is_object() || meta.value("batch", std::size_t(-1)) != b ||
          meta.value("prime", std::size_t(-1)) != j || v.key_id != h.key_id)
        throw FormatError("assembly: task part " + std::to_string(t) + " is not batch " + std::to_string(b) +
                          ", prime " + std::to_string(j) + " of this request");
      for (std::size_t o = 0; o < n_out; ++o) out.blobs[wire::blob_index(b, j, o, k, n_out)] = std::string(v.blobs[o]);
    }
    out.meta = result_meta(batches);
    return wire::serialize(out);
  }

  // Latency requests reuse the slot evaluator (Galois keys loaded, diagonals encoded) of the last
  // key set they ran with: "registered once" also means loaded once. One entry (the keys of the
  // shipped model are ~1.3 GB); throughput requests load their (small) keys every time.
  RunOutput run_with_keys(const std::string& key_ref, const std::function<std::string()>& load_keys,
                          const wire::ContainerFile& f, const std::function<void(double)>& progress) const override {
    if (f.header().packing != wire::Packing::kLatency) return run(load_keys(), f, progress);
    check_layout_served(f.header().packing);
    std::shared_ptr<const LatencyKeys> evaluator;
    double setup_s = 0;
    {
      std::lock_guard lock(cache_mu_);
      if (cache_ref_ == key_ref) evaluator = cache_;
    }
    if (!evaluator) {
      Timer t;
      const std::string keys = load_keys();
      auto kv = open_stored_keys(keys);
      auto relin = relin_keys(kv);
      evaluator = latency_keys(kv, std::move(relin));
      setup_s = t.seconds();
      std::lock_guard lock(cache_mu_);
      cache_ref_ = key_ref;
      cache_ = evaluator;
    }
    return run_latency(*evaluator, f, progress, setup_s);
  }

 private:
  // Keys an API node stored, checked to be this runner's (check_stored_keys: a worker may run
  // with other --params). The view points into `bytes`.
  wire::ContainerView open_stored_keys(std::string_view bytes) const {
    auto kv = wire::parse_as(bytes, wire::Kind::kEvalKeys, "stored keys");
    check_stored_keys(kv, "bfv", params_id_);
    return kv;
  }

  // The relinearisation key of every plaintext prime (the first k blobs of eval.key).
  std::vector<bfv::RelinKeys> relin_keys(const wire::ContainerView& kv) const {
    std::vector<bfv::RelinKeys> relin;
    for (std::size_t j = 0; j < contexts_.size(); ++j) relin.push_back(bfv::load_relin_keys(*contexts_[j], kv.blobs.at(j)));
    return relin;
  }

  // The flooding needs circuit_privacy_reserved_bits of noise budget for the largest job (job_):
  // refuse parameters chosen without that reserve (their results could not be flooded to 2^-40).
  void check_flooding_budget() const {
    const nn::Plan own = nn::plan_for(served_.plan, settings_);  // the plan in the settings' own layout
    const std::size_t cts = nn::result_ciphertexts_per_job(own, settings_, job_);
    for (const auto& ctx : contexts_) {
      const auto sim = nn::simulate_noise(own, ctx->params(), settings_.mod_switch_levels, settings_.defer_relin);
      const double need = std::max(10.0, nn::circuit_privacy_reserved_bits(ctx->params(), sim.level_after_step.back(), cts));
      if (sim.final_budget < need)
        throw InvalidArgument("circuit privacy for jobs of up to " + std::to_string(job_.max_cells) + " cells / " +
                              std::to_string(job_.max_batches) + " batches (" + std::to_string(cts) +
                              " result ciphertexts) needs " + std::to_string(int(std::ceil(need))) +
                              " bits of noise budget left at decryption, these parameters leave " +
                              std::to_string(int(sim.final_budget)) +
                              " (worst case): lower the per-job caps, re-run `leukocrypt params` (it reserves "
                              "them by default), or run with --no-circuit-privacy");
    }
  }

  // The circuit_privacy stage's seconds, when results are flooded.
  std::optional<double> privacy_stage(double seconds) const {
    return circuit_privacy_ ? std::optional<double>(seconds) : std::nullopt;
  }

  std::string result_meta(const std::vector<std::size_t>& batches) const {
    nlohmann::json m{{"batches", batches},
                     {"layout", wire::kLayout},
                     {"classes", served_.plan.classes},
                     {"output_scale", static_cast<double>(served_.plan.output_scale)},
                     {"model_id", served_.model_id}};
    if (!throughput_plan_.blocks.empty()) m["blocks"] = throughput_plan_.blocks.count;
    return m.dump();
  }

  struct UnitSeconds {
    double privacy = 0, save = 0;
  };
  // One unit of a throughput job: batch b through the plan at plaintext prime j (inputs pulled
  // from the request file as the first layer needs them), flooded, serialized in output order.
  // fraction(f): f of the unit done.
  std::vector<std::string> run_unit(const nn::BfvPlanEvaluator& evaluator,
                                    const std::vector<std::unique_ptr<nn::CircuitPrivacy>>& privacy,
                                    const wire::ContainerFile& f, std::size_t b, std::size_t cells, std::size_t j,
                                    nn::StreamStats* stats, UnitSeconds& seconds,
                                    const std::function<void(double)>& fraction) const {
    const std::size_t k = contexts_.size(), n_in = throughput_plan_.input_size(), n_out = served_.plan.output_size();
    const std::size_t server_steps = throughput_plan_.steps.size();
    auto outputs = evaluator.evaluate_prime(
        j,
        [&](std::size_t input) {
          auto idx = wire::blob_index(b, j, input, k, n_in);
          return load_input(j, f.read_blob(idx), idx);
        },
        stats, [&](std::size_t step, std::size_t, const bfv::Ciphertext&) { fraction(double(step + 1) / double(server_steps)); });
    check_output_count(outputs.size(), n_out);
    if (!privacy.empty()) {
      Timer tp;
      // Blocks: the slots beyond the batch's cells in block 0 hold partial sums: masked first.
      ThreadPool::global().parallel_for(0, n_out, [&](std::size_t o) {
        if (!throughput_plan_.blocks.empty()) privacy[j]->mask_slots(outputs[o], cells);
        privacy[j]->apply(outputs[o]);
      });
      seconds.privacy += tp.seconds();
    }
    Timer t;
    std::vector<std::string> blobs(n_out);
    for (std::size_t o = 0; o < n_out; ++o) blobs[o] = bfv::save(outputs[o]);
    seconds.save += t.seconds();
    return blobs;
  }

  // Budget the other layout must leave: the margin, or the flooding reserve for its largest job.
  double layout_margin(nn::Layout layout) const {
    nn::BfvSettings s = settings_;
    s.layout = layout;
    if (layout == nn::Layout::kLatency) s.blocks = 1;  // blocks are a throughput-layout option
    try {
      return nn::required_final_budget(nn::plan_for(served_.plan, s), s, 10.0, circuit_privacy_, job_);
    } catch (const InvalidArgument&) {
      return 10.0;  // the layout does not fit N: adapt_to_layout refuses it
    }
  }

  // serve refuses jobs above its caps with 413; `infer` runs any request, and one larger than the
  // reserve covers would be flooded at less than 2^-40.
  void check_job_covered(std::size_t result_ciphertexts, const nn::Plan& plan, const nn::BfvSettings& s) const {
    if (!circuit_privacy_) return;
    const std::size_t covered = nn::result_ciphertexts_per_job(plan, s, job_);
    if (result_ciphertexts > covered)
      throw InvalidArgument("request: " + std::to_string(result_ciphertexts) +
                            " result ciphertexts, but circuit privacy covers jobs of up to " + std::to_string(covered) +
                            " (" + std::to_string(job_.max_cells) + " cells / " + std::to_string(job_.max_batches) +
                            " batches): split the request");
  }

  // Refuses (FormatError -> 400) a packing whose layout these parameters cannot carry.
  void check_layout_served(wire::Packing p) const {
    if (p == wire::Packing::kLatency && !latency_)
      throw FormatError("request: packed in the latency layout, but this server's parameters (N = " +
                        std::to_string(settings_.n) + ") do not carry it (GET /v1/model: 'layouts'); use throughput");
    if (p == wire::Packing::kThroughput && !throughput_)
      throw FormatError("request: packed in the throughput layout, but this server's parameters do not carry it "
                        "(GET /v1/model: 'layouts'); use latency");
  }

  // Galois keys of prime j must hold every rotation step of the latency plan and of the block sum.
  void check_galois(const std::vector<std::uint32_t>& elts, std::size_t j) const {
    for (auto g : nn::block_sum_galois_elts(throughput_plan_.blocks))
      if (!std::binary_search(elts.begin(), elts.end(), g))
        throw FormatError("key upload: Galois keys of plaintext prime " + std::to_string(j) + " lack element " +
                          std::to_string(g) + " of the block sum (the model card's 'blocks' section lists them)");
    if (!latency_) return;
    for (int r : latency_plan_.slots.rotation_steps())
      if (!std::binary_search(elts.begin(), elts.end(), bfv::galois_elt_for_step(r, settings_.n)))
        throw FormatError("key upload: Galois keys of plaintext prime " + std::to_string(j) + " lack rotation step " +
                          std::to_string(r) + " (the model card's 'latency.galois_steps' lists them)");
  }

  // What an eval.key holds after its k relinearisation keys: k public keys (circuit privacy),
  // then k Galois key sets when its meta names 'galois_steps' (latency layout).
  struct KeyParts {
    bool public_keys = false, galois = false;
    std::size_t galois_at = 0;
  };
  KeyParts key_parts(const wire::ContainerView& v) const {
    const std::size_t k = contexts_.size();
    auto meta = nlohmann::json::parse(v.meta, nullptr, false);
    KeyParts p;
    p.galois = meta.is_object() && meta.contains("galois_steps");
    if (p.galois && !meta["galois_steps"].is_array()) throw FormatError("keys: meta 'galois_steps' is not an array");
    const std::size_t rest = v.blobs.size() - std::min(v.blobs.size(), k) ;
    const std::size_t expect_rest = (p.galois ? k : 0);
    if (v.blobs.size() < k || (rest != expect_rest && rest != expect_rest + k))
      throw FormatError("keys: hold " + std::to_string(v.blobs.size()) + " keys, expected " + std::to_string(k) +
                        " relinearisation keys, " + std::to_string(k) + " public keys" +
                        (p.galois ? " and " + std::to_string(k) + " Galois key sets" : "") +
                        " (one each per plaintext prime)");
    p.public_keys = rest == expect_rest + k;
    p.galois_at = p.public_keys ? 2 * k : k;
    return p;
  }

  // The block sum's Galois keys of every plaintext prime (blocked throughput layout; else none).
  std::vector<bfv::GaloisKeys> block_keys(const wire::ContainerView& kv) const {
    if (throughput_plan_.blocks.empty()) return {};
    const auto parts = key_parts(kv);
    if (!parts.galois)
      throw FormatError("stored keys: no Galois keys (the throughput layout's blocks need them; re-run keygen with the "
                        "model card)");
    std::vector<bfv::GaloisKeys> galois;
    for (std::size_t j = 0; j < contexts_.size(); ++j)
      galois.push_back(bfv::load_galois_keys(*contexts_[j], kv.blobs[parts.galois_at + j]));
    return galois;
  }

  // The flooding of results (circuit privacy), one per plaintext prime; empty when off.
  std::vector<std::unique_ptr<nn::CircuitPrivacy>> privacy_for(const wire::ContainerView& kv) const {
    std::vector<std::unique_ptr<nn::CircuitPrivacy>> privacy;
    if (!circuit_privacy_) return privacy;
    const std::size_t k = contexts_.size();
    if (!key_parts(kv).public_keys)
      throw FormatError("stored keys: no public keys (circuit privacy needs them; re-run keygen)");
    for (std::size_t j = 0; j < k; ++j)
      privacy.push_back(
          std::make_unique<nn::CircuitPrivacy>(contexts_[j], bfv::load_public_key(*contexts_[j], kv.blobs.at(k + j))));
    return privacy;
  }

  // The slot evaluator for stored keys (Galois keys loaded, diagonals encoded) and the flooding.
  struct LatencyKeys {
    std::unique_ptr<const nn::BfvSlotEvaluator> evaluator;
    std::vector<std::unique_ptr<nn::CircuitPrivacy>> privacy;
  };
  std::shared_ptr<const LatencyKeys> latency_keys(const wire::ContainerView& kv, std::vector<bfv::RelinKeys> relin) const {
    const std::size_t k = contexts_.size();
    const auto parts = key_parts(kv);
    if (!parts.galois)
      throw FormatError("stored keys: no Galois keys (the latency layout needs them; re-run keygen with the model card)");
    std::vector<bfv::GaloisKeys> galois;
    for (std::size_t j = 0; j < k; ++j)
      galois.push_back(bfv::load_galois_keys(*contexts_[j], kv.blobs[parts.galois_at + j]));
    auto keys = std::make_shared<LatencyKeys>();
    keys->evaluator = std::make_unique<const nn::BfvSlotEvaluator>(latency_plan_, *latency_, contexts_, std::move(relin),
                                                                   std::move(galois));
    keys->privacy = privacy_for(kv);
    return keys;
  }

  // A latency-packed request: every ciphertext of a prime through the slot evaluator. setup_s:
  // seconds spent loading the keys and encoding the diagonals (0 when they were cached).
  RunOutput run_latency(const LatencyKeys& keys, const wire::ContainerFile& f,
                        const std::function<void(double)>& progress, double setup_s) const {
    const nn::BfvSlotEvaluator& evaluator = *keys.evaluator;
    const std::size_t k = contexts_.size();
    const auto& h = f.header();
    const std::size_t cts = wire::check_latency(h, f.blob_count(), settings_,
                                                latency_plan_.slots.cells_per_ciphertext(), "stored request");
    check_job_covered(cts * k, latency_plan_, *latency_);
    Timer wall;
    CpuTimer cpu;
    auto out = result_container(h, served_.model_id);
    out.packing = wire::Packing::kLatency;
    out.blobs.resize(cts * k);
    std::vector<double> step_s(latency_plan_.steps.size(), 0.0);
    double load_s = 0, save_s = 0, privacy_s = 0;
    for (std::size_t j = 0; j < k; ++j) {
      Timer t;
      std::vector<bfv::Ciphertext> in(cts);
      ThreadPool::global().parallel_for(
          0, cts, [&](std::size_t c) { in[c] = load_input(j, f.read_blob(c * k + j), c * k + j); });
      load_s += t.seconds();
      auto res = evaluator.evaluate_prime(j, std::move(in), &step_s);
      if (!keys.privacy.empty()) {
        Timer tp;
        ThreadPool::global().parallel_for(0, res.size(), [&](std::size_t c) { keys.privacy[j]->apply(res[c]); });
        privacy_s += tp.seconds();
      }
      t.reset();
      for (std::size_t c = 0; c < cts; ++c) out.blobs[c * k + j] = bfv::save(res[c]);
      save_s += t.seconds();
      progress(double(j + 1) / double(k));
    }
    out.meta = nlohmann::json{{"layout", wire::kLatencyLayout},
                              {"latency", latency_plan_.slots.client_json()},
                              {"classes", served_.plan.classes},
                              {"output_scale", static_cast<double>(served_.plan.output_scale)},
                              {"model_id", served_.model_id}}
                   .dump();
    const double cpu_s = cpu.seconds();
    RunOutput r;
    r.result = wire::serialize(out);
    r.stages.emplace_back("evaluate_wall", wall.seconds() - save_s);
    r.stages.emplace_back("evaluate_cpu", cpu_s);  // every thread of the process (serve: other jobs too)
    r.stages.emplace_back("load_keys_and_diagonals", setup_s);
    if (!keys.privacy.empty()) r.stages.emplace_back("circuit_privacy", privacy_s);
    r.stages.emplace_back("load_ciphertexts", load_s);
    add_step_stages(r, latency_plan_, step_s);
    r.stages.emplace_back("serialize_result", save_s);
    r.info = byte_info(f, r.result.size());
    r.info.update({{"layout", "latency"},
                   {"circuit_privacy", !keys.privacy.empty()},
                   {"keys_cached", setup_s == 0},
                   {"ciphertexts", cts}});
    return r;
  }

  bfv::Ciphertext load_input(std::size_t prime, std::string_view blob, std::size_t idx) const {
    auto ct = bfv::load_ciphertext(*contexts_[prime], blob);
    if (ct.size() != 2 || ct.level() != contexts_[prime]->max_level()) throw_not_fresh(idx, ct.size(), ct.level());
    return ct;
  }

  // The full check of a request ciphertext, without building it (bfv::inspect_ciphertext): every
  // coefficient < q_i, fresh (size 2, top level), and every row the sender chose full-width. A
  // fresh ciphertext's rows are uniform mod q_i (row_check.h); zero or low-entropy rows are a cheap
  // way to buy a full batch of work and are refused. A seeded ciphertext's poly 1 is the seed's
  // expansion, uniform by construction: neither expanded nor checked (the evaluation expands it).
  void check_input(std::size_t prime, std::string_view blob, std::size_t idx) const {
    const auto& ctx = *contexts_[prime];
    std::string why;
    std::size_t bad_poly = 0, bad_prime = 0;
    const auto shape = bfv::inspect_ciphertext(ctx, blob, [&](std::size_t poly, std::size_t i, const std::uint64_t* row) {
      if (!why.empty()) return;
      why = check_full_width_row(row, ctx.n(), ctx.modulus(i).value());
      bad_poly = poly, bad_prime = i;
    });
    if (shape.size != 2 || shape.level != ctx.max_level()) throw_not_fresh(idx, shape.size, shape.level);
    if (!why.empty()) refuse_row(idx, bad_poly, bad_prime, why);
  }

  ServedModel served_;
  nn::BfvSettings settings_;
  std::optional<nn::BfvSettings> throughput_, latency_;  // the settings per layout, if carried
  nn::Plan latency_plan_;
  nn::Plan throughput_plan_;  // served_.plan, blocked when the throughput settings have blocks
  mutable std::mutex cache_mu_;                                  // guards the two below
  mutable std::string cache_ref_;                                // key set of cache_
  mutable std::shared_ptr<const LatencyKeys> cache_;
  std::vector<bfv::ContextPtr> contexts_;
  std::uint64_t params_id_ = 0;
  bool circuit_privacy_ = true;
  nn::JobCaps job_;
  nlohmann::json card_;
};

}  // namespace

std::unique_ptr<JobRunner> make_he_runner(const HeRunnerOptions& options) {
  // The parameters document names the scheme: `params --scheme ckks` output runs on the CKKS runner.
  nlohmann::json params_json = options.params_json;
  std::string what = "parameters";
  if (!options.params.empty()) {
    what = options.params.string();
    params_json = nlohmann::json::parse(read_file(options.params, 1 << 24), nullptr, false);
    if (params_json.is_discarded()) throw FormatError(what + ": not valid JSON");
  }
  if (nn::is_ckks_document(params_json)) return make_ckks_runner(options, params_json, what);
  return std::make_unique<HeJobRunner>(options, params_json, what);
}

}  // namespace leukocrypt::service
