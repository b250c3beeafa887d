// The bfv backend: batches of N images through key holder -> server -> key holder.
#include "nn/keyholder/bfv_backend.h"

#include <algorithm>

#include "common/progress.h"
#include "common/timer.h"
#include "nn/bfv_evaluator.h"
#include "nn/keyholder/bfv_keyholder.h"

namespace leukocrypt::nn {
namespace {

class BfvBackend final : public Backend {
 public:
  BfvBackend(const BfvSettings& s, const BfvBackendOptions& o) : keys_(s), options_(o), relin_(keys_.relin_keys()) {}

  std::string name() const override { return "bfv"; }

  BatchOutput run(const Plan& plan, const std::vector<const std::uint8_t*>& images) override {
    BfvPlanEvaluator server(plan, keys_.settings(), keys_.contexts(), relin_);
    BatchOutput out;
    out.images = images.size();
    out.outputs = plan.output_size();
    out.exact.resize(out.images * out.outputs);
    out.logits.resize(out.exact.size());
    auto& rep = out.report;
    rep.backend = name();
    rep.steps.resize(plan.steps.size());
    for (std::size_t s = 0; s < plan.steps.size(); ++s) rep.steps[s] = {plan.steps[s].name, plan.steps[s].kind, 0, 0, 0, -1};
    const std::size_t n = keys_.slot_count();
    const std::size_t batches = (images.size() + n - 1) / n;
    ProgressBar bar("encrypted inference (batches)", batches, options_.progress);
    for (std::size_t b0 = 0; b0 < images.size(); b0 += n) {
      std::vector<const std::uint8_t*> batch_images(images.begin() + std::ptrdiff_t(b0),
                                                    images.begin() + std::ptrdiff_t(std::min(images.size(), b0 + n)));
      Timer t;
      double enc_only = 0;
      auto batch = keys_.encrypt(plan, batch_images, &rep.encode_seconds, &enc_only);
      rep.encrypt_seconds += enc_only;
      rep.steps.front().seconds += t.seconds();
      rep.bytes_sent += batch.upload_bytes;
      if (options_.measure_noise) note_noise(0, batch, rep);
      std::vector<double> step_s;
      BfvPlanEvaluator::StepHook hook;
      if (options_.measure_noise) hook = [&](std::size_t s, const EncryptedBatch& b) { note_noise(s, b, rep); };
      Timer ev;
      server.evaluate(batch, &step_s, hook);
      double eval_s = 0;
      for (std::size_t s = 0; s < step_s.size(); ++s) {
        rep.steps[s].seconds += step_s[s];
        eval_s += step_s[s];
      }
      rep.evaluate_seconds += eval_s;  // excludes noise measurement
      rep.bytes_received += batch.download_bytes();
      t.reset();
      double dec_only = 0;
      auto logits = keys_.decrypt(batch, &rep.encode_seconds, &dec_only);
      rep.decrypt_seconds += dec_only;
      rep.steps.back().seconds += t.seconds();
      std::copy(logits.begin(), logits.end(), out.exact.begin() + std::ptrdiff_t(b0 * out.outputs));
      ++rep.batches;
      bar.tick();
    }
    bar.finish();
    for (std::size_t i = 0; i < out.exact.size(); ++i)
      out.logits[i] = double((long double)out.exact[i] / plan.output_scale);
    return out;
  }

 private:
  void note_noise(std::size_t s, const EncryptedBatch& b, RunReport& rep) const {
    const int nb = keys_.noise_budget(b);
    auto& cur = rep.steps[s].noise_budget_bits;
    cur = cur < 0 ? nb : std::min(cur, nb);
  }

  BfvKeyHolder keys_;
  BfvBackendOptions options_;
  std::vector<bfv::RelinKeys> relin_;
};

}  // namespace

std::unique_ptr<Backend> make_bfv_backend(const BfvSettings& settings, const BfvBackendOptions& options) {
  return std::make_unique<BfvBackend>(settings, options);
}

}  // namespace leukocrypt::nn
