// The ckks backend: batches of N/2 images through key holder -> server -> key holder.
#include "nn/keyholder/ckks_backend.h"

#include <algorithm>
#include <mutex>
#include <optional>

#include "common/error.h"
#include "common/progress.h"
#include "common/thread_pool.h"
#include "common/timer.h"
#include "he/ckks/serialization.h"
#include "nn/ckks_circuit_privacy.h"
#include "nn/ckks_evaluator.h"
#include "nn/ckks_slot_evaluator.h"
#include "nn/keyholder/ckks_keyholder.h"

namespace leukocrypt::nn {
namespace {

class CkksBackend final : public Backend {
 public:
  CkksBackend(const CkksSettings& s, const CkksBackendOptions& o) : keys_(s), options_(o), relin_(keys_.relin_keys()) {}

  std::string name() const override { return "ckks"; }

  BatchOutput run(const Plan& plan, const std::vector<const std::uint8_t*>& images) override {
    if (keys_.settings().layout == Layout::kLatency) return run_latency(ckks_plan_for(plan, keys_.settings()), images);
    require(plan.layout == Layout::kThroughput,
            "ckks backend: the plan is in the latency layout but the parameters were chosen for the throughput layout");
    CkksPlanEvaluator server(plan, keys_.context(), relin_, keys_.settings().schedule);
    BatchOutput out = start_output(plan, images.size());
    auto& rep = out.report;
    const std::size_t n = keys_.slot_count();
    ProgressBar bar("encrypted inference (batches)", (images.size() + n - 1) / n, options_.progress);
    for (std::size_t b0 = 0; b0 < images.size(); b0 += n) {
      std::vector<const std::uint8_t*> batch(images.begin() + std::ptrdiff_t(b0),
                                             images.begin() + std::ptrdiff_t(std::min(images.size(), b0 + n)));
      run_batch(server, plan, batch, rep, out.logits.data() + b0 * out.outputs);
      bar.tick();
    }
    bar.finish();
    return out;
  }

 private:
  BatchOutput start_output(const Plan& plan, std::size_t images) const {
    BatchOutput out;
    out.images = images;
    out.outputs = plan.output_size();
    out.logits.resize(out.images * out.outputs);
    out.report.backend = name();
    out.report.steps.resize(plan.steps.size());
    for (std::size_t s = 0; s < plan.steps.size(); ++s)
      out.report.steps[s] = {plan.steps[s].name, plan.steps[s].kind, 0, 0, 0, -1};
    return out;
  }

  // The latency layout: cells packed cells_per_ciphertext() to a ciphertext, seeded encryption,
  // the server's slot program on all ciphertexts at once, decryption. Galois keys for exactly the
  // layout's rotation steps, made once per backend.
  BatchOutput run_latency(const Plan& plan, const std::vector<const std::uint8_t*>& images) {
    if (galois_steps_ != plan.slots.rotation_steps()) {
      galois_steps_ = plan.slots.rotation_steps();
      galois_ = keys_.galois_keys(*galois_steps_);
    }
    CkksSlotEvaluator server(plan, keys_.context(), relin_, galois_, keys_.settings().schedule);
    BatchOutput out = start_output(plan, images.size());
    auto& rep = out.report;
    const std::size_t per = plan.slots.cells_per_ciphertext(), cts = plan.slots.ciphertexts_for(images.size());
    Timer t;
    std::vector<ckks::Ciphertext> inputs(cts);
    std::vector<std::size_t> bytes(cts, 0);
    ThreadPool::global().parallel_for(0, cts, [&](std::size_t c) {
      he::Seed seed;
      const std::size_t count = std::min(per, images.size() - c * per);
      inputs[c] = keys_.encrypt_cells(plan, images.data() + c * per, count, &seed);
      bytes[c] = ckks::save_seeded(inputs[c], seed).size();
    });
    rep.encrypt_seconds = t.seconds();
    rep.steps.front().seconds = rep.encrypt_seconds;
    for (auto b : bytes) rep.bytes_sent += b;
    t.reset();
    std::vector<double> step_s;
    auto results = server.evaluate(std::move(inputs), &step_s);
    flood(results);
    rep.evaluate_seconds = t.seconds();
    for (std::size_t s = 1; s + 1 < step_s.size(); ++s) rep.steps[s].seconds = step_s[s];
    for (const auto& ct : results) rep.bytes_received += ckks::save(ct).size();
    t.reset();
    out.logits = keys_.decrypt_cells(plan.slots, results, images.size());
    rep.decrypt_seconds = t.seconds();
    rep.steps.back().seconds = rep.decrypt_seconds;
    rep.batches = cts;
    return out;
  }

  // Encryption runs inside the server's pull (overlapping the evaluation): its time summed over
  // threads divided by the thread count is reported as encrypt_seconds, the rest as evaluate_seconds.
  void run_batch(const CkksPlanEvaluator& server, const Plan& plan, const std::vector<const std::uint8_t*>& images,
                 RunReport& rep, double* logits) {
    std::once_flag size_once;
    auto source = [&](std::size_t v) {
      he::Seed seed;
      auto ct = keys_.encrypt_value(plan, images, v, &seed);
      std::call_once(size_once, [&] { rep.bytes_sent += ckks::save_seeded(ct, seed).size() * plan.input_size(); });
      return ct;
    };
    CkksStreamStats stats;
    auto outputs = server.evaluate(source, &stats);
    const double threads = double(ThreadPool::global().size());
    rep.encrypt_seconds += stats.source_seconds / threads;
    rep.evaluate_seconds += std::max(0.0, stats.wall_seconds - stats.source_seconds / threads);
    Timer tp;
    flood(outputs);
    rep.evaluate_seconds += tp.seconds();
    rep.steps.front().seconds += stats.source_seconds / threads;
    for (std::size_t s = 1; s < stats.step_seconds.size(); ++s) rep.steps[s].seconds += stats.step_seconds[s];
    for (const auto& ct : outputs) rep.bytes_received += ckks::save(ct).size();
    Timer t;
    const auto l = keys_.decrypt(outputs, images.size());
    rep.decrypt_seconds += t.seconds();
    rep.steps.back().seconds += t.seconds();
    std::copy(l.begin(), l.end(), logits);
    ++rep.batches;
  }

  // The server's circuit privacy on results, when the settings carry a flood.
  void flood(std::vector<ckks::Ciphertext>& results) {
    if (!keys_.settings().circuit_privacy) return;
    if (!privacy_) privacy_.emplace(keys_.context(), keys_.public_key(), keys_.settings().flood_bits);
    ThreadPool::global().parallel_for(0, results.size(), [&](std::size_t o) { privacy_->apply(results[o]); });
  }

  CkksKeyHolder keys_;
  CkksBackendOptions options_;
  ckks::RelinKeys relin_;
  ckks::GaloisKeys galois_;
  std::optional<std::vector<int>> galois_steps_;
  std::optional<CkksCircuitPrivacy> privacy_;  // the server's flood, when the settings carry one
};

}  // namespace

std::unique_ptr<Backend> make_ckks_backend(const CkksSettings& settings, const CkksBackendOptions& options) {
  return std::make_unique<CkksBackend>(settings, options);
}

}  // namespace leukocrypt::nn
