// `leukocrypt params` (automatic BFV parameters for a model: raw simulation + worst-case bound)
// and `leukocrypt eval` (float / raw / encrypted inference on a dataset split, with metrics,
// agreement between modes, per-stage times, noise budget, bytes per cell and per-cell results).
// Both take --scheme bfv|ckks (default bfv); ckks parameters come from the precision model.
#if defined(LEUKOCRYPT_HAVE_LC_NN) && defined(LEUKOCRYPT_HAVE_LC_NN_KEYHOLDER) && defined(LEUKOCRYPT_HAVE_LC_DATA)
#include <cmath>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "command.h"
#include "common/error.h"
#include "common/paths.h"
#include "common/thread_pool.h"
#include "common/timer.h"
#include "nn/backend.h"
#include "nn/bfv_settings.h"
#include "nn/ckks_settings.h"
#include "nn/evaluate.h"
#include "nn/keyholder/bfv_backend.h"
#include "nn/keyholder/ckks_backend.h"
#include "nn/model.h"
#include "nn/param_select.h"
#include "nn/params_check.h"
#include "nn/plan.h"
#include "nn/quantize.h"

namespace leukocrypt::cli {
namespace {

using namespace leukocrypt::nn;

std::vector<std::string> split_csv(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string tok;
  while (std::getline(ss, tok, ',')) if (!tok.empty()) out.push_back(tok);
  return out;
}

std::string fixed(double v, int prec) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(prec) << v;
  return o.str();
}

// Model + quantisation + plan, shared by both commands. Calibration (only when neither the model
// nor params.json carries quantisation settings) uses the dataset's training images.
struct Prepared {
  Model model, collapsed;
  QuantizedModel q;
  Plan plan;
  std::string quant_origin;
};

Prepared prepare_model(const std::string& model_path, const std::string& data, const std::optional<QuantizeOptions>& given) {
  Prepared p;
  p.model = load_model(model_path);
  p.collapsed = collapse_linear(p.model);
  std::unique_ptr<EvalSet> calib;
  if (!given && !p.collapsed.metadata.contains("quantization")) {
    calib = std::make_unique<EvalSet>(load_eval_set(data, "train", 2000, p.model.input));
  }
  auto qs = quantization_for(p.collapsed, given, calib.get());
  p.q = std::move(qs.model);
  p.quant_origin = qs.origin;
  p.plan = lower(p.q);
  return p;
}

// ---------------------------------------------------------------- ckks (--scheme ckks)

void require_scheme(const std::string& scheme) {
  require(scheme == "bfv" || scheme == "ckks", "--scheme must be bfv or ckks, not '" + scheme + "'");
}

// The precision model's choice for a stated target in one layout (magnitudes measured on `set` in
// that layout), counting the server's flood with circuit privacy; throws SecurityError (with the
// target, the best predicted error, its scale and N, and the flood's share) when no 128-bit set
// reaches it.
CkksSettings choose_ckks_for(const Plan& plan, const EvalSet& set, double target_error, Layout layout,
                             bool circuit_privacy) {
  require(target_error > 0 && std::isfinite(target_error), "--target-error must be > 0");
  CkksChoiceOptions co;
  co.target_error = target_error;
  co.circuit_privacy = circuit_privacy;
  const Plan lp = layout == Layout::kLatency ? ckks_latency_plan(plan) : plan;
  return choose_ckks_settings(lp, plan_magnitudes(lp, set.images), co);
}

// --layout for CKKS: the layout named, or (auto) the one with the lower estimated end-to-end time
// for `cells` cells among those whose parameters reach the target. With circuit privacy auto takes
// the throughput layout: the latency layout's wide chain needs N = 32768 and 12 primes for
// cnmc-x2, Galois keys of ~3.4 GB in memory (1.7 GB seeded eval.key), so it is made only when
// asked for (--layout latency).
CkksSettings choose_ckks_layout(const Plan& plan, const EvalSet& set, double target_error, std::optional<Layout> layout,
                                std::size_t cells, double bandwidth_mbit, bool circuit_privacy) {
  if (layout) return choose_ckks_for(plan, set, target_error, *layout, circuit_privacy);
  if (circuit_privacy) return choose_ckks_for(plan, set, target_error, Layout::kThroughput, true);
  std::optional<CkksSettings> best;
  double best_s = INFINITY;
  std::optional<SecurityError> refused;
  for (const auto l : {Layout::kThroughput, Layout::kLatency}) {
    try {
      auto s = choose_ckks_for(plan, set, target_error, l, circuit_privacy);
      const double secs = estimate_ckks_cost(ckks_plan_for(plan, s), s, cells, bandwidth_mbit).total_seconds;
      if (secs < best_s) best = s, best_s = secs;
    } catch (const SecurityError& e) {
      if (!refused) refused = e;
    }
  }
  if (!best) throw *refused;
  return *best;
}

nlohmann::json ckks_params_json(const CkksSettings& s) {
  auto j = s.to_json();
  std::vector<double> bits;
  for (auto q : s.params.q()) bits.push_back(std::round(std::log2(double(q)) * 100) / 100);
  j["q_bits"] = bits;
  j["special_prime_bits"] = std::round(std::log2(double(s.params.special_prime())) * 100) / 100;
  j["n"] = s.params.n();
  return j;
}

// ---------------------------------------------------------------- params

// "auto" -> empty (the chooser compares both layouts), else the layout named.
std::optional<Layout> parse_layout(const std::string& s) {
  if (s == "auto") return std::nullopt;
  require(s == "throughput" || s == "latency", "--layout must be throughput, latency or auto, not '" + s + "'");
  return layout_from_string(s);
}

struct ParamsOptions {
  std::string model, data, split = "all", out, bound = "worst-case", t, q_bits, layout = "auto";
  std::size_t limit = 0, n = 0, images = 0, special_primes = 0, blocks = 0;
  double margin = 10, memory_gb = 8, bandwidth_mbit = 100;
  bool json = false, insecure = false, no_circuit_privacy = false;
  std::string scheme = "bfv";
  double target_error = 1e-3;  // ckks: largest logit error the precision model may predict
};

void run_params_ckks(const ParamsOptions& o) {
  require(o.n == 0 && o.t.empty() && o.q_bits.empty() && o.special_primes == 0 && o.blocks == 0 && o.bound == "worst-case",
          "--n, --t, --q-bits, --special-primes, --blocks and --bound are BFV options; with --scheme ckks, N and the primes come from "
          "--target-error");
  require(o.bandwidth_mbit > 0 && o.bandwidth_mbit <= 1e6, "--bandwidth-mbit must be in (0, 1e6]");
  const auto layout = parse_layout(o.layout);
  auto p = prepare_model(o.model, o.data, std::nullopt);
  auto set = load_eval_set(o.data, o.split, o.limit, p.model.input);
  const std::size_t cells = o.images ? o.images : std::max<std::size_t>(1, set.size());
  const auto s = choose_ckks_layout(p.plan, set, o.target_error, layout, cells, o.bandwidth_mbit, !o.no_circuit_privacy);
  const Plan lp = ckks_plan_for(p.plan, s);
  const auto estimate = estimate_ckks_cost(lp, s, cells, o.bandwidth_mbit);
  nlohmann::json j;
  j["format"] = "leukocrypt-params";
  j["version"] = 1;
  j["scheme"] = "ckks";
  j["model"] = p.model.name;
  j["model_file"] = o.model;
  j["model_fingerprint"] = model_fingerprint(read_file(o.model));
  j["magnitude_images"] = set.size();
  j["input_scale"] = double(p.plan.input_scale);  // keygen: the key holder encrypts pixel x input_scale
  j["ckks"] = ckks_params_json(s);
  j["layout"] = to_string(s.layout);
  // keygen reads the latency section (Galois steps, logit slots) when the parameters are for it.
  if (s.layout == Layout::kLatency) j["latency"] = lp.slots.client_json();
  j["estimate"] = estimate.to_json();
  j["estimate"]["cells"] = cells;
  j["estimate"]["bandwidth_mbit"] = o.bandwidth_mbit;
  if (!o.out.empty()) write_file_atomic(o.out, j.dump(2) + "\n");
  if (o.json) return print_json(j);
  std::cout << "model " << p.model.name << ": " << ckks_levels(p.plan) << " rescales (one per linear layer and square)\n"
            << "slot magnitudes measured on " << set.size() << " images of split '" << o.split << "' (x2 margin)\n"
            << "chosen CKKS parameters (128-bit): N = " << s.params.n() << ", q bits = " << j["ckks"]["q_bits"].dump()
            << ", special prime " << fixed(j["ckks"]["special_prime_bits"].get<double>(), 1) << " bits, scale 2^"
            << fixed(std::log2(s.params.default_scale()), 1) << "\n"
            << "precision model: largest logit error <= " << s.predicted_error << " (target " << s.target_error << ")\n"
            << (s.circuit_privacy ? "circuit privacy: results flooded with 2^" + std::to_string(s.flood_bits) +
                                        " per coefficient (2^-40 over " + std::to_string(s.privacy_ciphertexts) +
                                        " result ciphertexts per job), counted in the error above\n"
                                  : std::string("circuit privacy: off (--no-circuit-privacy)\n"))
            << "layout " << to_string(s.layout);
  if (s.layout == Layout::kLatency)
    std::cout << ": " << lp.slots.cells_per_ciphertext() << " cells per ciphertext, " << lp.slots.rotation_steps().size()
              << " Galois keys";
  std::cout << "; estimated for " << cells << " cells at " << o.bandwidth_mbit << " Mbit/s: "
            << fixed(estimate.total_seconds, 2) << " s end to end (server " << fixed(estimate.server_seconds, 2)
            << " s, upload " << fixed(estimate.upload_bytes / 1e6, 1) << " MB)\n";
  if (!o.out.empty()) std::cout << "wrote " << o.out << "\n";
}

void run_params(const ParamsOptions& o) {
  require_scheme(o.scheme);
  if (o.scheme == "ckks") return run_params_ckks(o);
  require(o.bound == "worst-case" || o.bound == "observed", "--bound must be worst-case or observed, not '" + o.bound + "'");
  require(o.bandwidth_mbit > 0 && o.bandwidth_mbit <= 1e6, "--bandwidth-mbit must be in (0, 1e6]");
  const auto layout = parse_layout(o.layout);
  auto p = prepare_model(o.model, o.data, std::nullopt);
  auto set = load_eval_set(o.data, o.split, o.limit, p.model.input);
  // Raw simulation (CryptoNets: largest value observed) and the guaranteed bound.
  Timer t;
  auto raw = make_raw_backend()->run(p.plan, set.images);
  const double raw_s = t.seconds();
  const auto& out_step = raw.report.steps[raw.report.steps.size() - 3];  // last linear step
  const int observed_bits = out_step.bits;
  int observed_max_bits = 0;
  for (const auto& s : raw.report.steps) observed_max_bits = std::max(observed_max_bits, s.bits);
  const auto bound = worst_case_bound(p.q);
  ParamsRequest req;
  req.bits_needed = o.bound == "worst-case" ? bound.output_bits : observed_bits;
  req.images = o.images ? o.images : set.size();
  req.threads = ThreadPool::global().size();
  req.margin_bits = o.margin;
  req.memory_limit_bytes = o.memory_gb * 1e9;
  req.n = o.n;
  req.insecure_for_tests = o.insecure;
  req.circuit_privacy = !o.no_circuit_privacy;
  req.layout = layout;
  req.bandwidth_mbit = o.bandwidth_mbit;
  for (const auto& s : split_csv(o.t)) {
    require(s.find_first_not_of("0123456789") == std::string::npos && s.size() <= 19,
            "--t: '" + s + "' is not a decimal integer below 2^60");
    req.plain_primes.push_back(std::stoull(s));
  }
  for (const auto& s : split_csv(o.q_bits)) {
    require(s.find_first_not_of("0123456789") == std::string::npos && s.size() <= 2, "--q-bits: '" + s + "' is not a bit size");
    req.q_bits.push_back(std::stoi(s));
  }
  req.special_primes = o.special_primes;
  req.blocks = o.blocks;
  if (o.bound == "observed")
    std::cerr << "leukocrypt: warning: --bound observed guarantees nothing for other inputs (CryptoNets' choice); "
                 "the worst-case bound needs " << bound.output_bits << " bits\n";
  auto choice = choose_params(p.plan, req);
  warn_insecure_params(!choice.settings.meets_128_bits());

  nlohmann::json j;
  j["format"] = "leukocrypt-params";
  j["version"] = 1;
  j["model"] = p.model.name;
  j["model_file"] = o.model;
  j["model_fingerprint"] = model_fingerprint(read_file(o.model));  // checked by eval and serve
  j["quantization"] = p.q.options.to_json();
  j["quantization_origin"] = p.quant_origin;
  j["plan"] = p.plan.to_json();
  j["layout"] = to_string(choice.settings.layout);
  // keygen reads the latency section (Galois steps, logit slots) when these parameters carry it.
  if (auto ls = adapt_to_layout(p.plan, choice.settings, Layout::kLatency)) {
    const auto lp = plan_for(p.plan, *ls);
    j["latency"] = lp.slots.client_json();
    j["slots"] = lp.slots.to_json();
  }
  // keygen and encrypt read the blocks section (the packing, the block sum's Galois keys).
  if (choice.settings.layout == Layout::kThroughput && choice.settings.blocks > 1)
    j["blocks"] = plan_for(p.plan, choice.settings).blocks.client_json();
  j["bits"] = {{"observed_output", observed_bits},
               {"observed_max_any_step", observed_max_bits},
               {"observed_images", set.size()},
               {"raw_simulation_seconds", raw_s},
               {"worst_case_output", bound.output_bits},
               {"worst_case_max_any_step", bound.max_bits},
               {"used", o.bound},
               {"needed", req.bits_needed}};
  auto cj = choice.to_json();
  for (auto it = cj.begin(); it != cj.end(); ++it) j[it.key()] = it.value();
  if (!o.out.empty()) write_file_atomic(o.out, j.dump(2) + "\n");
  if (o.json) {
    print_json(j);
    return;
  }
  const auto c = p.plan.counts();
  std::cout << "model " << p.model.name << ": " << c.input_values << " input values, " << c.scalar_macs
            << " scalar multiply-adds, " << c.squares << " squares per batch and prime (depth " << c.depth << ")\n"
            << "quantisation (" << p.quant_origin << "): weight_max " << p.q.options.to_json()["weight_max"].dump()
            << "\n"
            << "raw simulation on " << set.size() << " images: largest logit needs " << observed_bits
            << " bits (largest value at any step " << observed_max_bits << " bits)\n"
            << "worst-case bound for any input: logits need " << bound.output_bits << " bits"
            << (o.bound == "worst-case" ? "  <- used (guaranteed)" : "") << "\n";
  std::cout << "chosen parameters:\n";
  for (const auto& r : choice.reasons) std::cout << "  - " << r << "\n";
  std::cout << "  layout " << to_string(choice.settings.layout) << ", N = " << choice.settings.n << ", q bits = " << nlohmann::json(choice.settings.q_bits).dump()
            << " (" << choice.settings.special_primes << " special), t = ";
  for (std::size_t i = 0; i < choice.settings.plain_primes.size(); ++i)
    std::cout << (i ? "," : "") << choice.settings.plain_primes[i];
  std::cout << "\n";
  if (!o.out.empty()) std::cout << "wrote " << o.out << "\n";
}


// ---------------------------------------------------------------- eval

struct EvalOptions {
  std::string model, data, split = "test", mode = "encrypted", params, layout = "auto";
  std::size_t limit = 0, show = 10;
  bool json = false, no_noise = false, insecure = false, no_circuit_privacy = false;
  std::string scheme = "bfv";
  double target_error = 1e-3;  // ckks: as for params
};

void run_eval_ckks(const EvalOptions& o) {
  require(o.mode == "encrypted", "--scheme ckks needs --mode encrypted (float and raw do not depend on the scheme)");
  require(o.params.empty(), "--params is for BFV; with --scheme ckks the parameters come from --target-error "
                            "(see `leukocrypt params --scheme ckks`)");
  const auto layout = parse_layout(o.layout);
  auto p = prepare_model(o.model, o.data, std::nullopt);
  auto set = load_eval_set(o.data, o.split, o.limit, p.model.input);
  const auto s = choose_ckks_layout(p.plan, set, o.target_error, layout, std::max<std::size_t>(1, set.size()), 100,
                                    !o.no_circuit_privacy);
  auto fl = make_float_backend()->run(p.plan, set.images);
  CkksBackendOptions bo;
  bo.progress = !o.json;
  Timer wall;
  auto res = make_ckks_backend(s, bo)->run(p.plan, set.images);
  const double total_s = wall.seconds();
  const int classes = int(p.plan.output_size());
  std::vector<int> pred(set.size()), pred_float(set.size());
  std::size_t agree = 0;
  double max_err = 0;
  for (std::size_t i = 0; i < set.size(); ++i) {
    pred[i] = res.predicted(i);
    pred_float[i] = fl.predicted(i);
    agree += pred[i] == pred_float[i];
    for (int k = 0; k < classes; ++k)
      max_err = std::max(max_err, std::fabs(res.logits[i * classes + k] - fl.logits[i * classes + k]));
  }
  const auto metrics = compute_metrics(set.labels, pred, classes);
  const double n = double(std::max<std::size_t>(1, set.size()));
  nlohmann::json j{{"mode", "encrypted"}, {"scheme", "ckks"}, {"model", p.model.name}, {"split", o.split},
                   {"images", set.size()}, {"metrics", metrics.to_json()},
                   {"agreement", {{"argmax_vs_float", double(agree) / n}}},
                   {"largest_logit_error", max_err}, {"predicted_logit_error", s.predicted_error},
                   {"params", ckks_params_json(s)}, {"layout", to_string(s.layout)}, {"seconds_total", total_s}, {"ms_per_cell", total_s * 1e3 / n},
                   {"bytes_sent_per_cell", double(res.report.bytes_sent) / n},
                   {"bytes_received_per_cell", double(res.report.bytes_received) / n},
                   {"report", res.report.to_json()}};
  nlohmann::json cells = nlohmann::json::array();
  for (std::size_t i = 0; i < set.size(); ++i)
    cells.push_back({{"index", i}, {"source", set.names[i]}, {"label", set.label_names.at(set.labels[i])},
                     {"predicted", set.label_names.at(pred[i])},
                     {"probability", softmax(res.logits.data() + i * classes, classes)[pred[i]]}});
  j["cells"] = cells;
  if (o.json) print_json(j);
  else {
    const auto& r = res.report;
    std::cout << "model " << p.model.name << ", " << set.size() << " cells of split '" << o.split
              << "', mode encrypted, scheme ckks, " << to_string(s.layout) << " layout (N = " << s.params.n() << ", scale 2^"
              << fixed(std::log2(s.params.default_scale()), 1) << ")\n"
              << "accuracy " << fixed(100 * metrics.accuracy, 2) << "%, balanced accuracy "
              << fixed(100 * metrics.balanced_accuracy, 2) << "%\n"
              << "agreement: argmax vs float " << fixed(100.0 * agree / n, 2) << "%; largest logit error " << max_err
              << " (precision model bound " << s.predicted_error << ")\n"
              << "time: encrypt " << fixed(r.encrypt_seconds, 2) << " s, server " << fixed(r.evaluate_seconds, 2)
              << " s, decrypt " << fixed(r.decrypt_seconds, 2) << " s; total " << fixed(total_s, 2) << " s ("
              << fixed(total_s * 1e3 / n, 2) << " ms/cell, " << r.batches << " batch(es)); bytes per cell "
              << fixed(double(r.bytes_sent) / n, 0) << " sent, " << fixed(double(r.bytes_received) / n, 0)
              << " received\n";
  }
  if (agree != set.size())
    throw Error("encrypted argmax differs from the float argmax for " + std::to_string(set.size() - agree) + " cells");
}

void run_eval(const EvalOptions& o) {
  require_scheme(o.scheme);
  if (o.scheme == "ckks") return run_eval_ckks(o);
  require(o.mode == "float" || o.mode == "raw" || o.mode == "encrypted",
          "--mode must be float, raw or encrypted, not '" + o.mode + "'");
  const auto layout = parse_layout(o.layout);
  std::optional<QuantizeOptions> qopt;
  std::optional<BfvSettings> settings;
  nlohmann::json params_doc;
  if (!o.params.empty()) {
    try {
      params_doc = nlohmann::json::parse(read_file(o.params, 64 << 20));
    } catch (const nlohmann::json::exception&) {
      throw FormatError("params file '" + o.params + "' is not valid JSON");
    }
    if (params_doc.is_object() && params_doc.value("scheme", "bfv") == "ckks")
      throw FormatError("params file '" + o.params + "' holds CKKS parameters; BFV needs `leukocrypt params` "
                        "without --scheme ckks");
    if (!params_doc.is_object() || params_doc.value("format", "") != "leukocrypt-params" || !params_doc.contains("bfv"))
      throw FormatError("params file '" + o.params + "' is not a leukocrypt-params document");
    check_params_match_model(params_doc, read_file(o.model), "params file '" + o.params + "'", o.model);
    if (params_doc.contains("quantization")) qopt = QuantizeOptions::from_json(params_doc["quantization"]);
    settings = BfvSettings::from_json(params_doc["bfv"], o.insecure);
    warn_insecure_params(!settings->meets_128_bits());
    if (layout && *layout != settings->layout)
      throw InvalidArgument("params file '" + o.params + "' was chosen for the " + to_string(settings->layout) +
                            " layout, not " + to_string(*layout) + " (run `leukocrypt params --layout " +
                            to_string(*layout) + "`)");
  }
  auto p = prepare_model(o.model, o.data, qopt);
  auto set = load_eval_set(o.data, o.split, o.limit, p.model.input);
  const int classes = int(p.plan.output_size());
  const auto bound = worst_case_bound(p.q);
  std::string params_origin;
  if (o.mode == "encrypted") {
    if (!settings) {
      ParamsRequest req;
      req.bits_needed = bound.output_bits;
      req.images = set.size();
      req.threads = ThreadPool::global().size();
      req.layout = layout;
      req.circuit_privacy = !o.no_circuit_privacy;
      settings = choose_params(p.plan, req).settings;
      params_origin = "chosen automatically (worst-case bound, " + std::string(to_string(settings->layout)) + " layout)";
    } else {
      params_origin = o.params;
      if (settings->log2_plain() < bound.output_bits)
        std::cerr << "leukocrypt: warning: the plaintext primes hold 2^" << fixed(settings->log2_plain(), 1)
                  << " but the worst-case logits need " << bound.output_bits
                  << " bits: results are exact only while the observed values fit\n";
    }
  }
  // Reference runs: float always, raw for raw/encrypted.
  auto fl = make_float_backend()->run(p.plan, set.images);
  BatchOutput raw;
  if (o.mode != "float") raw = make_raw_backend()->run(p.plan, set.images);
  BatchOutput res;
  Timer wall;
  if (o.mode == "float") res = fl;
  else if (o.mode == "raw") res = raw;
  else {
    BfvBackendOptions bo;
    bo.measure_noise = !o.no_noise;
    bo.progress = !o.json;
    res = make_bfv_backend(*settings, bo)->run(p.plan, set.images);
  }
  const double total_s = o.mode == "float" ? fl.report.evaluate_seconds
                         : o.mode == "raw"  ? raw.report.evaluate_seconds
                                            : wall.seconds();

  std::vector<int> pred(set.size()), pred_float(set.size());
  std::size_t agree_float = 0, exact_raw = 0;
  for (std::size_t i = 0; i < set.size(); ++i) {
    pred[i] = res.predicted(i);
    pred_float[i] = fl.predicted(i);
    agree_float += pred[i] == pred_float[i];
    if (o.mode != "float") {
      bool same = true;
      for (int k = 0; k < classes; ++k) same &= res.exact[i * classes + k] == raw.exact[i * classes + k];
      exact_raw += same;
    }
  }
  const auto metrics = compute_metrics(set.labels, pred, classes);
  const auto float_metrics = compute_metrics(set.labels, pred_float, classes);
  const double per_cell_ms = total_s * 1e3 / double(std::max<std::size_t>(1, set.size()));

  nlohmann::json j;
  j["mode"] = o.mode;
  j["model"] = p.model.name;
  j["split"] = o.split;
  j["images"] = set.size();
  j["quantization"] = p.q.options.to_json();
  j["quantization_origin"] = p.quant_origin;
  j["metrics"] = metrics.to_json();
  j["float_metrics"] = float_metrics.to_json();
  j["agreement"] = {{"argmax_vs_float", double(agree_float) / double(set.size())}};
  if (o.mode != "float") j["agreement"]["exact_logits_vs_raw"] = double(exact_raw) / double(set.size());
  j["worst_case_output_bits"] = bound.output_bits;
  j["seconds_total"] = total_s;
  j["ms_per_cell"] = per_cell_ms;
  j["report"] = res.report.to_json();
  if (o.mode == "encrypted") {
    j["params"] = settings->to_json();
    j["params_origin"] = params_origin;
    j["layout"] = to_string(settings->layout);
    j["bytes_sent_per_cell"] = double(res.report.bytes_sent) / double(set.size());
    j["bytes_received_per_cell"] = double(res.report.bytes_received) / double(set.size());
  }
  nlohmann::json cells = nlohmann::json::array();
  for (std::size_t i = 0; i < set.size(); ++i) {
    auto prob = softmax(res.logits.data() + i * classes, classes);
    nlohmann::json c{{"index", i},
                     {"source", set.names[i]},
                     {"label", set.label_names.at(set.labels[i])},
                     {"predicted", set.label_names.at(pred[i])},
                     {"probability", prob[pred[i]]},
                     {"ms", per_cell_ms}};
    if (!res.exact.empty()) {
      nlohmann::json lg = nlohmann::json::array();
      for (int k = 0; k < classes; ++k) lg.push_back(to_string128(res.exact[i * classes + k]));
      c["integer_logits"] = lg;
    }
    cells.push_back(c);
  }
  j["cells"] = cells;
  if (o.json) {
    print_json(j);
  } else {
    std::cout << "model " << p.model.name << ", " << set.size() << " cells of split '" << o.split << "', mode "
              << o.mode << (o.mode == "encrypted" ? " (params " + params_origin + ")" : "") << "\n";
    std::cout << "  cell                                   label  predicted  probability  time/cell\n";
    for (std::size_t i = 0; i < std::min(o.show, set.size()); ++i) {
      const auto& c = cells[i];
      std::string src = set.names[i];
      if (src.size() > 38) src = "..." + src.substr(src.size() - 35);
      std::cout << "  " << std::left << std::setw(38) << src << " " << std::setw(6) << c["label"].get<std::string>()
                << " " << std::setw(10) << c["predicted"].get<std::string>() << " " << std::setw(12)
                << fixed(c["probability"].get<double>(), 4) << " " << fixed(per_cell_ms, 1) << " ms\n";
    }
    if (set.size() > o.show) std::cout << "  ... (" << set.size() - o.show << " more; --json for all)\n";
    std::cout << std::right;
    std::cout << "accuracy " << fixed(100 * metrics.accuracy, 2) << "%, balanced accuracy "
              << fixed(100 * metrics.balanced_accuracy, 2) << "%, weighted F1 " << fixed(100 * metrics.weighted_f1, 2)
              << "%  (float: " << fixed(100 * float_metrics.accuracy, 2) << "% / "
              << fixed(100 * float_metrics.balanced_accuracy, 2) << "% / " << fixed(100 * float_metrics.weighted_f1, 2)
              << "%)\n";
    std::cout << "agreement: argmax vs float " << fixed(100.0 * agree_float / set.size(), 2) << "%";
    if (o.mode != "float") std::cout << ", exact logits vs raw " << exact_raw << "/" << set.size();
    std::cout << "\n";
    if (o.mode == "raw") {
      std::cout << "largest |value| per step (bits):";
      for (const auto& s : res.report.steps)
        if (s.kind == OpKind::kLinear || s.kind == OpKind::kSquare) std::cout << " " << s.name << "=" << s.bits;
      std::cout << "; worst-case logits " << bound.output_bits << " bits\n";
    }
    if (o.mode == "encrypted") {
      const auto& r = res.report;
      std::cout << "time: encode " << fixed(r.encode_seconds, 2) << " s, encrypt " << fixed(r.encrypt_seconds, 2)
                << " s, server " << fixed(r.evaluate_seconds, 2) << " s, decrypt " << fixed(r.decrypt_seconds, 2)
                << " s; total " << fixed(total_s, 2) << " s (" << fixed(per_cell_ms, 1) << " ms/cell, "
                << r.batches << (settings->layout == Layout::kLatency ? " ciphertext(s) per prime" : " batch(es)")
                << ", " << to_string(settings->layout) << " layout)\n";
      if (r.server_cpu_seconds >= 0)
        std::cout << "server CPU (all threads): " << fixed(r.server_cpu_seconds, 2) << " s\n";
      std::cout << "per step (s / noise budget bits):";
      for (const auto& s : r.steps)
        std::cout << " " << s.name << "=" << fixed(s.seconds, 2)
                  << (s.noise_budget_bits >= 0 ? "/" + std::to_string(s.noise_budget_bits) : "");
      std::cout << "\n";
      if (r.client_cpu_seconds >= 0) {
        std::cout << "CPU seconds per step (all threads):";
        for (const auto& s : r.steps)
          if (s.cpu_seconds >= 0) std::cout << " " << s.name << "=" << fixed(s.cpu_seconds, 2);
        std::cout << "\n";
      }
      std::cout << "bytes per cell: sent " << fixed(double(r.bytes_sent) / set.size() / 1024, 1) << " KiB, received "
                << fixed(double(r.bytes_received) / set.size() / 1024, 1) << " KiB\n";
    } else {
      std::cout << "time: " << fixed(total_s, 3) << " s (" << fixed(per_cell_ms, 3) << " ms/cell)\n";
    }
  }
  if (o.mode != "float" && exact_raw != set.size())
    throw Error("encrypted logits differ from the raw integer logits for " + std::to_string(set.size() - exact_raw) +
                " cells");
}

void register_nn(CLI::App& root) {
  {
    auto* cmd = root.add_subcommand("params", "Choose BFV parameters for a model: raw simulation + worst-case bound");
    auto o = std::make_shared<ParamsOptions>();
    cmd->add_option("--model", o->model, "Model file (native format)")->required();
    cmd->add_option("--data", o->data, "Prepared dataset directory (or the MNIST folder)")->required();
    cmd->add_option("--split", o->split, "Images for the raw simulation: all, train, test or a group")->default_val("all");
    cmd->add_option("--limit", o->limit, "At most this many images (0 = all)");
    cmd->add_option("--bound", o->bound, "Bits from the worst-case bound (guaranteed) or the observed maximum")
        ->default_val("worst-case");
    cmd->add_option("--n", o->n, "Ring degree N (default: automatic)");
    cmd->add_option("--t", o->t, "Plaintext primes, comma-separated (default: automatic)");
    cmd->add_option("--q-bits", o->q_bits, "Ciphertext prime sizes then the special prime(s), comma-separated");
    cmd->add_option("--special-primes", o->special_primes,
                    "Key-switching special primes, the last entries of the modulus (default: automatic; more give "
                    "fewer key-switching digits, smaller and faster Galois keys, and use more of the 128-bit budget)")
        ->check(CLI::Range(0, 20));
    cmd->add_option("--blocks", o->blocks,
                    "Throughput layout: spatial blocks per ciphertext (default: automatic; 1 = one cell per slot of "
                    "all N; B > 1 packs B strips of the first convolution's rows in B blocks of slots, for batches "
                    "smaller than N: fewer inputs, multiply-adds and squares, plus rotations for the next layer)")
        ->check(CLI::Range(0, 16));
    cmd->add_option("--margin", o->margin, "Noise budget (bits) to keep at decryption")->default_val(10);
    cmd->add_option("--memory-gb", o->memory_gb, "Refuse parameters whose resident ciphertexts (streamed evaluation, one prime) exceed this")
        ->default_val(8);
    cmd->add_option("--images,--cells", o->images, "Cells the end-to-end time is estimated for (default: the split's size)");
    cmd->add_option("--layout", o->layout,
                    "throughput (one ciphertext per value, a cell per slot), latency (a cell's values in the slots of "
                    "one ciphertext, rotations) or auto (the lower estimated end-to-end time; ckks: among the layouts "
                    "whose parameters reach --target-error, and one CKKS parameter set serves only its layout; with "
                    "circuit privacy ckks auto takes throughput: the latency layout's flood needs N = 32768 and GBs "
                    "of Galois keys)")
        ->default_val("auto");
    cmd->add_option("--bandwidth-mbit", o->bandwidth_mbit, "Link between key holder and server (Mbit/s, both ways) for the estimate")
        ->default_val(100);
    cmd->add_option("--out", o->out, "Write the choice to this params.json");
    add_insecure_flag(cmd, o->insecure);
    cmd->add_option("--scheme", o->scheme, "bfv (exact, quantised) or ckks (approximate, float weights)")->default_val("bfv");
    cmd->add_option("--target-error", o->target_error,
                    "ckks: largest logit error the precision model may predict; refused, with the numbers, when no "
                    "128-bit parameters reach it")
        ->default_val(1e-3);
    cmd->add_flag("--no-circuit-privacy", o->no_circuit_privacy,
                  "Reserve no room for the server's flooding (BFV: noise budget; CKKS: the wide scale chain the "
                  "flood needs, ~2^96 after every square). To measure; the server then needs --no-circuit-privacy "
                  "too");
    cmd->add_flag("--json", o->json, "Machine-readable output");
    cmd->callback([o] { run_params(*o); });
  }
  {
    auto* cmd = root.add_subcommand("eval", "Run a model on a dataset split: float, raw integer or encrypted");
    auto o = std::make_shared<EvalOptions>();
    cmd->add_option("--model", o->model, "Model file (native format)")->required();
    cmd->add_option("--data", o->data, "Prepared dataset directory (or the MNIST folder)")->required();
    cmd->add_option("--split", o->split, "test, train, all or a patient group (A/B/C)")->default_val("test");
    cmd->add_option("--mode", o->mode, "float, raw or encrypted")->default_val("encrypted");
    cmd->add_option("--params", o->params, "params.json from `leukocrypt params` (default: automatic)");
    cmd->add_option("--layout", o->layout,
                    "throughput, latency or auto (with --params: must match the file's layout; without: chosen "
                    "for the number of cells; ckks: parameters chosen for that layout)")
        ->default_val("auto");
    cmd->add_option("--limit", o->limit, "At most this many cells (0 = all)");
    cmd->add_option("--show", o->show, "Per-cell lines printed (text output)")->default_val(10);
    cmd->add_flag("--no-noise", o->no_noise, "Skip the noise-budget measurement after each step");
    cmd->add_option("--scheme", o->scheme, "bfv or ckks (--mode encrypted; ckks: parameters from --target-error)")
        ->default_val("bfv");
    cmd->add_option("--target-error", o->target_error, "ckks: largest logit error the precision model may predict")
        ->default_val(1e-3);
    cmd->add_flag("--no-circuit-privacy", o->no_circuit_privacy,
                  "Automatic parameters reserve no room for the service's flooding (BFV: noise budget; CKKS: "
                  "the wide scale chain the flood needs; eval floods CKKS results as the service does when the "
                  "parameters carry a flood, so the reported error is what the key holder sees)");
    add_insecure_flag(cmd, o->insecure);
    cmd->add_flag("--json", o->json, "Machine-readable output (every cell)");
    cmd->callback([o] { run_eval(*o); });
  }
}

const CommandRegistrar kRegistrar(500, register_nn);

}  // namespace
}  // namespace leukocrypt::cli
#endif
