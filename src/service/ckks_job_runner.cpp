// The CKKS JobRunner (see ckks_job_runner.h): validation of keys and requests with the CKKS
// loaders, streamed evaluation of a batch at a time, results at the plan's last level.
#include "service/ckks_job_runner.h"

#include "common/error.h"
#include "common/paths.h"
#include "common/thread_pool.h"
#include "common/timer.h"
#include "he/ckks/context.h"
#include "he/ckks/serialization.h"
#include "nn/ckks_circuit_privacy.h"
#include "nn/ckks_evaluator.h"
#include "nn/ckks_settings.h"
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
    if (circuit_privacy_) check_flood_covers_jobs(params_what);
    require(nn::ckks_levels(served_.plan) < settings_.params.max_level(),
            params_what + ": the plan needs " + std::to_string(nn::ckks_levels(served_.plan)) + " rescales, the CKKS parameters have " +
                std::to_string(settings_.params.max_level() - 1));
    card_ = common_card(served_);
    card_.update({{"scheme", "ckks"},
                  {"input_scale", double(served_.plan.input_scale)},
                  {"params", settings_.to_json()},
                  {"params_id", std::to_string(settings_.params.id())},
                  {"slots_per_batch", settings_.params.slots()},
                  {"circuit_privacy", circuit_privacy_card()},
                  {"layout", "throughput"},
                  {"layouts", {"throughput"}}});
  }

  // The parameters must carry a flood (params --scheme ckks chose it for jobs of up to
  // privacy_ciphertexts results) covering this server's largest job (nn/ckks_circuit_privacy.h).
  void check_flood_covers_jobs(const std::string& params_what) const {
    if (!settings_.circuit_privacy)
      throw InvalidArgument(params_what + ": these CKKS parameters carry no flood for circuit privacy (made with "
                            "--no-circuit-privacy; `params --scheme ckks` refuses to make one when the flood, ~66 bits "
                            "of precision for 2^-40, misses the target: nn/ckks_circuit_privacy.h). Without it the key "
                            "holder may learn more about the model than the logits: serve CKKS with "
                            "--no-circuit-privacy (docs/API.md, Security), or use BFV");
    const auto cts = nn::ckks_result_ciphertexts_per_job(served_.plan, settings_.params.slots(), job_);
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
    // results with it).
    if (v.blobs.size() != 2)
      throw FormatError("key upload: holds " + std::to_string(v.blobs.size()) +
                        " keys, expected a relinearisation key and a public key (CKKS)");
    const auto relin_id = ckks::load_relin_keys(*ctx_, v.blobs[0]).key_id();
    if (ckks::load_public_key(*ctx_, v.blobs[1]).key_id() != relin_id)
      throw FormatError("key upload: the public key belongs to another secret key");
    return {v.key_id, v.params_id};
  }

  RequestInfo inspect_request(const wire::ContainerFile& f, const KeyInfo& key) const override {
    const auto& h = f.header();
    check_request_header(h, key, served_.model_id, nullptr);  // the scheme: with the batches
    check_batches(h, f.blob_count(), "request");
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
    nn::CkksPlanEvaluator evaluator(served_.plan, ctx_, ckks::load_relin_keys(*ctx_, kv.blobs[0]));
    const auto privacy = privacy_for(kv);
    const auto& h = f.header();
    const auto batches = check_batches(h, f.blob_count(), "stored request");
    check_job_covered(batches.size());
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

 private:
  // Header against the parameters: scheme, params id, packing, layout, batches of N/2 cells
  // consistent with the cell count, blob count = batches x input values. Returns the batch sizes.
  std::vector<std::size_t> check_batches(const wire::ContainerHeader& h, std::size_t blobs, const std::string& what) const {
    check_scheme(h.meta, what);
    if (h.params_id != settings_.params.id())
      throw FormatError(what + ": parameter id " + std::to_string(h.params_id) + " differs from the model's " +
                        std::to_string(settings_.params.id()));
    if (h.packing != wire::Packing::kThroughput)
      throw FormatError(what + ": CKKS requests use the throughput packing (one cell per slot)");
    auto meta = nlohmann::json::parse(h.meta, nullptr, false);
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
  // flood covers would be hidden at less than 2^-40.
  void check_job_covered(std::size_t batches) const {
    if (!circuit_privacy_) return;
    const auto cts = batches * served_.plan.output_size();
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
