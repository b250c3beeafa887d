// The ckks backend: batches of N/2 images through key holder -> server -> key holder.
#include "nn/keyholder/ckks_backend.h"

#include <algorithm>
#include <mutex>

#include "common/progress.h"
#include "common/thread_pool.h"
#include "common/timer.h"
#include "he/ckks/serialization.h"
#include "nn/ckks_evaluator.h"
#include "nn/keyholder/ckks_keyholder.h"

namespace leukocrypt::nn {
namespace {

class CkksBackend final : public Backend {
 public:
  CkksBackend(const CkksSettings& s, const CkksBackendOptions& o) : keys_(s), options_(o), relin_(keys_.relin_keys()) {}

  std::string name() const override { return "ckks"; }

  BatchOutput run(const Plan& plan, const std::vector<const std::uint8_t*>& images) override {
    CkksPlanEvaluator server(plan, keys_.context(), relin_);
    BatchOutput out;
    out.images = images.size();
    out.outputs = plan.output_size();
    out.logits.resize(out.images * out.outputs);
    auto& rep = out.report;
    rep.backend = name();
    rep.steps.resize(plan.steps.size());
    for (std::size_t s = 0; s < plan.steps.size(); ++s) rep.steps[s] = {plan.steps[s].name, plan.steps[s].kind, 0, 0, 0, -1};
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

  CkksKeyHolder keys_;
  CkksBackendOptions options_;
  ckks::RelinKeys relin_;
};

}  // namespace

std::unique_ptr<Backend> make_ckks_backend(const CkksSettings& settings, const CkksBackendOptions& options) {
  return std::make_unique<CkksBackend>(settings, options);
}

}  // namespace leukocrypt::nn
