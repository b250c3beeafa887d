// The bfv backend: batches of N images through key holder -> server -> key holder.
#include "nn/keyholder/bfv_backend.h"

#include <algorithm>
#include <mutex>

#include "common/error.h"
#include "common/progress.h"
#include "common/thread_pool.h"
#include "common/timer.h"
#include "nn/bfv_evaluator.h"
#include "nn/bfv_slot_evaluator.h"
#include "he/bfv/serialization.h"
#include "nn/keyholder/bfv_keyholder.h"

namespace leukocrypt::nn {
namespace {

class BfvBackend final : public Backend {
 public:
  BfvBackend(const BfvSettings& s, const BfvBackendOptions& o) : keys_(s), options_(o), relin_(keys_.relin_keys()) {}

  std::string name() const override { return "bfv"; }

  BatchOutput run(const Plan& plan, const std::vector<const std::uint8_t*>& images) override {
    require(!(plan.layout == Layout::kLatency && keys_.settings().layout == Layout::kThroughput),
            "bfv backend: the plan is in the latency layout but the parameters were chosen for the throughput layout");
    if (keys_.settings().layout == Layout::kLatency) return run_latency(plan_for(plan, keys_.settings()), images);
    // Spatial blocks: the blocked plan runs on the server and packs the inputs; outputs, steps and
    // logits are reported along it (the block sum is a step of its own).
    const Plan blocked = plan_for(plan, keys_.settings());
    std::vector<bfv::GaloisKeys> galois;
    if (!blocked.blocks.empty()) galois = keys_.block_sum_keys(blocked.blocks);
    return run_throughput(blocked, images, std::move(galois));
  }

 private:
  BatchOutput run_throughput(const Plan& plan, const std::vector<const std::uint8_t*>& images,
                             std::vector<bfv::GaloisKeys> galois) {
    BfvPlanEvaluator server(plan, keys_.settings(), keys_.contexts(), relin_, std::move(galois));
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
      if (options_.streaming) {
        run_streaming(server, plan, batch_images, rep, out, b0);
        bar.tick();
        continue;
      }
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

  // Latency layout: cells packed side by side, every ciphertext of a prime through the slot
  // evaluator, prime by prime.
  BatchOutput run_latency(const Plan& plan, const std::vector<const std::uint8_t*>& images) {
    const SlotLayout& sl = plan.slots;
    // The Galois keys (GBs at N = 16384) are made for this run and moved into the evaluator, not
    // copied.
    BfvSlotEvaluator server(plan, keys_.settings(), keys_.contexts(), relin_, keys_.galois_keys(sl.rotation_steps()));
    BatchOutput out;
    out.images = images.size();
    out.outputs = plan.output_size();
    auto& rep = out.report;
    rep.backend = name();
    rep.steps.resize(plan.steps.size());
    for (std::size_t s = 0; s < plan.steps.size(); ++s) rep.steps[s] = {plan.steps[s].name, plan.steps[s].kind, 0, 0, 0, -1};
    const std::size_t k = keys_.settings().plain_primes.size(), per = sl.cells_per_ciphertext();
    const std::size_t cts = sl.ciphertexts_for(images.size());
    std::vector<std::vector<bfv::Ciphertext>> result(k);
    ProgressBar bar("encrypted inference (latency layout, primes)", k, options_.progress);
    for (std::size_t j = 0; j < k; ++j) {
      Timer t;
      std::vector<bfv::Ciphertext> in(cts);
      std::vector<std::size_t> sent(cts);
      ThreadPool::global().parallel_for(0, cts, [&](std::size_t c) {
        he::Seed seed;
        in[c] = keys_.encrypt_cells(j, sl, images.data() + c * per, std::min(per, images.size() - c * per), &seed);
        sent[c] = bfv::save_seeded(in[c], seed).size();
      });
      rep.encrypt_seconds += t.seconds();
      rep.steps.front().seconds += t.seconds();
      for (auto b : sent) rep.bytes_sent += b;
      if (options_.measure_noise && !in.empty()) note_noise_value(0, keys_.noise_budget(j, in[0]), rep);
      BfvSlotEvaluator::SampleHook hook;
      if (options_.measure_noise)
        hook = [&](std::size_t s, std::size_t prime, const bfv::Ciphertext& ct) {
          note_noise_value(s, keys_.noise_budget(prime, ct), rep);
        };
      std::vector<double> step_s(plan.steps.size(), 0.0);
      CpuTimer cpu;
      result[j] = server.evaluate_prime(j, std::move(in), &step_s, hook);
      rep.server_cpu_seconds = std::max(0.0, rep.server_cpu_seconds) + cpu.seconds();
      for (std::size_t s = 0; s < step_s.size(); ++s) {
        rep.steps[s].seconds += step_s[s];
        rep.evaluate_seconds += step_s[s];
      }
      for (const auto& ct : result[j]) rep.bytes_received += bfv::save(ct).size();
      bar.tick();
    }
    bar.finish();
    Timer t;
    out.exact = keys_.decrypt_cells(sl, result, images.size());
    rep.decrypt_seconds += t.seconds();
    rep.steps.back().seconds += t.seconds();
    rep.batches = cts;
    out.logits.resize(out.exact.size());
    for (std::size_t i = 0; i < out.exact.size(); ++i)
      out.logits[i] = double((long double)out.exact[i] / plan.output_scale);
    return out;
  }

  // One batch, prime by prime, inputs encrypted when the server pulls them.
  void run_streaming(const BfvPlanEvaluator& server, const Plan& plan, const std::vector<const std::uint8_t*>& images,
                     RunReport& rep, BatchOutput& out, std::size_t b0) {
    const std::size_t k = keys_.settings().plain_primes.size(), n_in = plan.input_size();
    std::mutex mu;
    double encode_s = 0, encrypt_s = 0;
    StreamStats stats;
    EncryptedBatch result;
    result.images = images.size();
    result.values.resize(k);
    Timer wall;
    for (std::size_t j = 0; j < k; ++j) {
      auto source = [&](std::size_t v) {
        he::Seed seed;
        double e0 = 0, e1 = 0;
        auto ct = keys_.encrypt_value(j, images, v, &seed, &e0, &e1, &plan.blocks);
        std::lock_guard<std::mutex> lk(mu);
        encode_s += e0;
        encrypt_s += e1;
        if (v == 0) {
          rep.bytes_sent += bfv::save_seeded(ct, seed).size() * n_in;
          if (options_.measure_noise) note_noise_value(0, keys_.noise_budget(j, ct), rep);
        }
        return ct;
      };
      BfvPlanEvaluator::SampleHook hook;
      if (options_.measure_noise)
        hook = [&](std::size_t s, std::size_t prime, const bfv::Ciphertext& ct) {
          const int nb = keys_.noise_budget(prime, ct);
          std::lock_guard<std::mutex> lk(mu);
          note_noise_value(s, nb, rep);
        };
      result.values[j] = server.evaluate_prime(j, source, &stats, hook);
    }
    const double server_wall = wall.seconds();
    const double threads = double(ThreadPool::global().size());
    rep.encode_seconds += encode_s / threads;
    rep.encrypt_seconds += encrypt_s / threads;
    rep.evaluate_seconds += std::max(0.0, server_wall - (encode_s + encrypt_s) / threads);
    rep.steps.front().seconds += (encode_s + encrypt_s) / threads;
    for (std::size_t s = 0; s < stats.step_seconds.size(); ++s) {
      rep.steps[s].seconds += stats.step_seconds[s];
      rep.steps[s].cpu_seconds = std::max(0.0, rep.steps[s].cpu_seconds) + stats.step_cpu_seconds[s];
    }
    rep.steps.front().cpu_seconds = std::max(0.0, rep.steps.front().cpu_seconds) + stats.source_cpu_seconds;
    rep.client_cpu_seconds = std::max(0.0, rep.client_cpu_seconds) + stats.source_cpu_seconds;
    rep.bytes_received += result.download_bytes();
    Timer t;
    double dec_only = 0;
    auto logits = keys_.decrypt(result, &rep.encode_seconds, &dec_only);
    rep.decrypt_seconds += dec_only;
    rep.steps.back().seconds += t.seconds();
    std::copy(logits.begin(), logits.end(), out.exact.begin() + std::ptrdiff_t(b0 * out.outputs));
    ++rep.batches;
  }

  static void note_noise_value(std::size_t s, int nb, RunReport& rep) {
    auto& cur = rep.steps[s].noise_budget_bits;
    cur = cur < 0 ? nb : std::min(cur, nb);
  }

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
