// `leukocrypt export`: native format, CryptoNets CSV, collapsed model, quantised integer model
// with float vs integer accuracy on a prepared dataset. Uses the nn API only (no libtorch).
#include <algorithm>
#include <iomanip>
#include <set>

#include "common/error.h"
#include "common/paths.h"
#include "data/dataset.h"
#include "nn/model.h"
#include "nn/quantize.h"
#include "train/commands.h"
#include "train/he_cost.h"
#include "train/metrics.h"

namespace leukocrypt::train {
namespace {

bool only_encryptable_layers(const nn::Model& collapsed) {
  for (const auto& l : collapsed.layers)
    if (l.kind != nn::LayerKind::kConv2d && l.kind != nn::LayerKind::kDense && l.kind != nn::LayerKind::kSquare)
      return false;
  return true;
}

template <class Fn>
Metrics metrics_of(const nn::LabeledImages& set, const std::vector<std::string>& subjects, int classes, Fn logits) {
  std::vector<int> pred;
  pred.reserve(set.size());
  for (std::size_t i = 0; i < set.size(); ++i) {
    auto out = logits(set.pixels[i]);
    pred.push_back(static_cast<int>(std::max_element(out.begin(), out.end()) - out.begin()));
  }
  return compute_metrics(set.labels, pred, classes, subjects);
}

}  // namespace

nlohmann::json run_export(const ExportRequest& req, std::ostream& log) {
  require(!req.out.empty(), "export needs --out");
  require(req.max_drop_pp >= 0, "quantisation tolerance must be non-negative");
  nn::Model model = nn::load_model(req.model);
  nn::Model collapsed = nn::collapse_linear(model);
  const auto cost = he_cost(collapsed);
  std::filesystem::create_directories(req.out);
  nlohmann::json j;
  j["model"] = req.model.string();
  j["name"] = model.name;
  j["variant"] = model.variant;
  j["layers"] = model.layers.size();
  j["collapsed_layers"] = collapsed.layers.size();
  j["he_cost"] = cost.to_json();
  log << "model " << model.name << " (" << model.layers.size() << " layers) collapsed to "
      << collapsed.layers.size() << " layers\n"
      << cost.to_text();

  if (!req.data.empty()) {
    require(only_encryptable_layers(collapsed),
            "model '" + model.name + "' is not an x² network (ReLU/sigmoid remain after collapsing); "
            "only x² models are quantised");
    const auto ds = data::load_dataset(req.data);
    require(ds.channels == model.input.c && ds.image_size == model.input.h && ds.image_size == model.input.w,
            "dataset images are " + std::to_string(ds.channels) + "x" + std::to_string(ds.image_size) + "x" +
                std::to_string(ds.image_size) + " but the model expects " + std::to_string(model.input.c) + "x" +
                std::to_string(model.input.h) + "x" + std::to_string(model.input.w));
    // Evaluate on the side the model never saw: its held-out patient group if the dataset has it,
    // else the dataset's test split. Quantisation is calibrated on the other records.
    std::string held_out;
    if (model.metadata.contains("val_group") && model.metadata["val_group"].is_string()) {
      held_out = model.metadata["val_group"].get<std::string>();
      if (std::find(ds.groups.begin(), ds.groups.end(), held_out) == ds.groups.end()) held_out.clear();
    }
    nn::LabeledImages eval, calib;
    std::vector<std::string> eval_subjects, calib_subjects;
    for (const auto& r : ds.records) {
      const bool is_eval = held_out.empty() ? r.split == "test" : r.group == held_out;
      auto& set = is_eval ? eval : calib;
      set.pixels.push_back(r.pixels.data());
      set.labels.push_back(r.label);
      (is_eval ? eval_subjects : calib_subjects).push_back(r.subject);
    }
    require(!eval.pixels.empty() && !calib.pixels.empty(),
            "dataset " + req.data.string() + " has no held-out (test) side or no calibration side");
    log << "quantising: calibration on " << calib.size() << " images, evaluation on " << eval.size() << " ("
        << (held_out.empty() ? "test split" : "held-out group " + held_out) << ")\n";
    const auto sweep = nn::sweep_quantization(collapsed, calib);
    auto choice = nn::select_quantization(collapsed, sweep, req.max_drop_pp);
    const int k = static_cast<int>(model.classes.size());
    std::vector<float> buf(model.input.size());
    auto float_logits = [&](const std::uint8_t* p) {
      for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = p[i];
      return nn::forward(collapsed, buf.data());
    };
    auto int_logits_of = [](const nn::QuantizedModel& qm) {
      return [&qm](const std::uint8_t* p) { return nn::forward_quantized(qm, p); };
    };
    auto mf = metrics_of(eval, eval_subjects, k, float_logits);
    auto mq = metrics_of(eval, eval_subjects, k, int_logits_of(choice.model));
    auto cf = metrics_of(calib, calib_subjects, k, float_logits);
    auto cq = metrics_of(calib, calib_subjects, k, int_logits_of(choice.model));
    const auto bound = nn::worst_case_bound(choice.model);
    // The most faithful grid point and the bits/agreement Pareto front, also on the evaluation side:
    // what each extra plaintext bit buys.
    const auto faithful_model = nn::quantize(collapsed, choice.most_accurate.options);
    auto mfa = metrics_of(eval, eval_subjects, k, int_logits_of(faithful_model));
    nlohmann::json front = nlohmann::json::array();
    for (const auto& t : choice.pareto()) {
      const auto qm = nn::quantize(collapsed, t.options);
      auto me = metrics_of(eval, eval_subjects, k, int_logits_of(qm));
      front.push_back({{"weight_max", t.options.weight_max},
                       {"worst_case_bits", t.worst_case_bits},
                       {"plaintext_primes_50bit", nn::plaintext_primes_50bit(t.worst_case_bits)},
                       {"calibration_agreement", t.agreement},
                       {"calibration_accuracy", t.accuracy},
                       {"eval_accuracy", me.accuracy},
                       {"eval_balanced_accuracy", me.balanced_accuracy}});
    }
    nlohmann::json q;
    q["options"] = choice.model.options.to_json();
    q["summary"] = choice.model.summary();
    q["choice"] = choice.to_json();
    q["worst_case_output_bits"] = bound.output_bits;
    q["plaintext_primes_50bit"] = nn::plaintext_primes_50bit(bound.output_bits);
    q["evaluation_side"] = held_out.empty() ? "test split" : "group " + held_out;
    q["eval"] = {{"float", to_json(mf, model.classes)}, {"integer", to_json(mq, model.classes)},
                 {"accuracy_drop_pp", 100.0 * (mf.accuracy - mq.accuracy)}};
    q["most_accurate"] = {{"weight_max", choice.most_accurate.options.weight_max},
                          {"worst_case_bits", choice.most_accurate.worst_case_bits},
                          {"calibration_agreement", choice.most_accurate.agreement},
                          {"eval", to_json(mfa, model.classes)},
                          {"eval_accuracy_drop_pp", 100.0 * (mf.accuracy - mfa.accuracy)}};
    q["pareto_front"] = front;
    q["calibration"] = {{"float_accuracy", cf.accuracy}, {"integer_accuracy", cq.accuracy},
                        {"agreement", choice.agreement}, {"count", calib.size()}};
    q["tolerance_pp"] = req.max_drop_pp;
    q["within_tolerance_on_calibration"] = choice.within_tolerance;
    q["within_tolerance_on_eval"] = 100.0 * (mf.accuracy - mq.accuracy) <= req.max_drop_pp + 1e-9;
    write_file_atomic(req.out / "quantization.json", q.dump(2) + "\n");
    // eval/params read the settings from the model (nn::quantization_for).
    model.metadata["quantization"] = choice.model.options.to_json();
    collapsed.metadata["quantization"] = choice.model.options.to_json();
    j["quantization"] = q;
    log << std::fixed << std::setprecision(2) << "float   " << summary_line(mf) << "\n"
        << "integer " << summary_line(mq) << "  (weight_max " << q["options"]["weight_max"].dump()
        << ", worst-case logits " << bound.output_bits << " bits)\n"
        << "accuracy drop " << 100.0 * (mf.accuracy - mq.accuracy) << " pp (tolerance " << req.max_drop_pp
        << " pp, calibration agreement " << 100.0 * choice.agreement << " %)\n"
        << "most faithful grid point: weight_max " << q["most_accurate"]["weight_max"].dump() << ", "
        << choice.most_accurate.worst_case_bits << " bits, drop " << 100.0 * (mf.accuracy - mfa.accuracy)
        << " pp\nbits/agreement Pareto front (" << sweep.trials.size() << " grid points):\n";
    for (const auto& f : front)
      log << "  " << std::setw(3) << f["worst_case_bits"].get<int>() << " bits  weight_max "
          << std::setw(16) << std::left << f["weight_max"].dump() << std::right << "  calib agreement "
          << 100.0 * f["calibration_agreement"].get<double>() << " %  eval acc "
          << 100.0 * f["eval_accuracy"].get<double>() << " %\n";
  }

  nn::save_model(model, req.out / "model.lcm");
  nn::write_cryptonets_csv(model, req.out / "cryptonets");
  nn::save_model(collapsed, req.out / "collapsed.lcm");
  nn::write_cryptonets_csv(collapsed, req.out / "collapsed-cryptonets");
  j["files"] = {(req.out / "model.lcm").string(), (req.out / "cryptonets").string(),
                (req.out / "collapsed.lcm").string(), (req.out / "collapsed-cryptonets").string()};
  write_file_atomic(req.out / "export.json", j.dump(2) + "\n");
  log << "wrote " << req.out.string() << "/{model.lcm, cryptonets/, collapsed.lcm, collapsed-cryptonets/"
      << (req.data.empty() ? "" : ", quantization.json") << ", export.json}\n";
  return j;
}

}  // namespace leukocrypt::train
