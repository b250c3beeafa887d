// `leukocrypt compare`: the paper's Table II on our data and protocols. Every model is trained on
// the same folds with the same seed; the table is rewritten after each run so a stopped
// comparison keeps what it finished.
#include <torch/torch.h>

#include <iomanip>
#include <map>
#include <sstream>

#include "common/error.h"
#include "common/paths.h"
#include "common/timer.h"
#include "data/dataset.h"
#include "train/commands.h"
#include "train/report.h"
#include "train/svm.h"
#include "train/trainer.h"

namespace leukocrypt::train {
namespace {

const std::map<std::string, std::string> kDescriptions = {
    {"svm-pixels", "linear SVM on raw pixels"},
    {"svm-vgg-features", "linear SVM on the VGG-style net's penultimate features (paper: SVM on VGG16 features)"},
    {"alexnet", "AlexNet-style CNN, 5 conv + 3 dense, from scratch"},
    {"vgg", "VGG-style CNN, 6 conv (3x3, batch norm) + 2 dense, from scratch"},
    {"resnet", "ResNet-8-style CNN (3 basic blocks), from scratch"},
    {"cnn-relu", "paper's CNN, ReLU + sigmoid output"},
    {"cnn-x2", "paper's CNN, x² + softmax (runs encrypted)"},
};

Metrics svm_metrics(const LinearSvm& svm, const torch::Tensor& x, const TensorData& data,
                    const std::vector<int64_t>& idx) {
  auto pred = svm.predict(x).contiguous();
  auto y = data.labels.index_select(0, index_tensor(idx)).contiguous();
  std::vector<int> yt(y.data_ptr<int64_t>(), y.data_ptr<int64_t>() + y.numel());
  std::vector<int> yp(pred.data_ptr<int64_t>(), pred.data_ptr<int64_t>() + pred.numel());
  std::vector<std::string> subj;
  for (auto i : idx) subj.push_back(data.subjects[i]);
  return compute_metrics(yt, yp, 2, subj);
}

std::string pct(double x) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(1) << 100.0 * x;
  return o.str();
}

// Mean of the per-fold histories, epoch by epoch.
std::vector<EpochStats> mean_history(const std::vector<std::vector<EpochStats>>& runs) {
  std::vector<EpochStats> out;
  if (runs.empty()) return out;
  std::size_t n = runs[0].size();
  for (const auto& r : runs) n = std::min(n, r.size());
  for (std::size_t e = 0; e < n; ++e) {
    EpochStats m;
    m.epoch = runs[0][e].epoch;
    for (const auto& r : runs) {
      m.train_loss += r[e].train_loss / runs.size();
      m.train_acc += r[e].train_acc / runs.size();
      m.val_loss += r[e].val_loss / runs.size();
      m.val_acc += r[e].val_acc / runs.size();
      m.val_balanced_acc += r[e].val_balanced_acc / runs.size();
      m.lr = r[e].lr;
      m.seconds += r[e].seconds / runs.size();
    }
    out.push_back(m);
  }
  return out;
}

void aggregate(nlohmann::json& result) {
  // rows: one per (protocol, model), means over folds.
  std::map<std::pair<std::string, std::string>, std::vector<const nlohmann::json*>> by;
  std::vector<std::pair<std::string, std::string>> order;
  for (const auto& r : result["runs"]) {
    auto key = std::make_pair(r["protocol"].get<std::string>(), r["model"].get<std::string>());
    if (!by.count(key)) order.push_back(key);
    by[key].push_back(&r);
  }
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& key : order) {
    const auto& runs = by[key];
    double tr = 0, va = 0, ba = 0, f1 = 0, secs = 0, ba_min = 1;
    for (const auto* r : runs) {
      tr += (*r)["train"]["accuracy"].get<double>();
      va += (*r)["val"]["accuracy"].get<double>();
      ba += (*r)["val"]["balanced_accuracy"].get<double>();
      ba_min = std::min(ba_min, (*r)["val"]["balanced_accuracy"].get<double>());
      f1 += (*r)["val"]["weighted_f1"].get<double>();
      secs += (*r)["seconds"].get<double>();
    }
    const double k = static_cast<double>(runs.size());
    rows.push_back({{"protocol", key.first},
                    {"model", key.second},
                    {"description", kDescriptions.at(key.second)},
                    {"folds", runs.size()},
                    {"epochs", (*runs[0])["epochs"]},
                    {"parameters", (*runs[0])["parameters"]},
                    {"train_accuracy", tr / k},
                    {"val_accuracy", va / k},
                    {"val_balanced_accuracy", ba / k},
                    {"val_balanced_accuracy_min_fold", ba_min},
                    {"val_weighted_f1", f1 / k},
                    {"train_seconds_total", secs}});
  }
  result["table"] = rows;
}

}  // namespace

nlohmann::json run_compare(const CompareRequest& req, std::ostream& log) {
  require(req.threads >= 1 && req.threads <= 64, "threads must be in [1, 64]");
  torch::set_num_threads(req.threads);
  for (const auto& m : req.models)
    require(kDescriptions.count(m), "unknown comparison model '" + m + "'");
  auto data = from_dataset(data::load_dataset(req.data));
  std::filesystem::create_directories(req.out);
  const int num_classes = static_cast<int>(data.classes.size());
  require(num_classes == 2, "compare expects the two C-NMC classes, dataset has " + std::to_string(num_classes));

  nlohmann::json result;
  result["dataset"] = req.data.string();
  result["command"] = req.command_line;
  result["seed"] = req.seed;
  result["threads"] = req.threads;
  result["epochs"] = {{"cnn", req.epochs}, {"baselines", req.baseline_epochs}, {"svm", req.svm_epochs}};
  result["note"] =
      "All networks trained from scratch at the prepared input size: ImageNet weights (the paper's "
      "AlexNet/ResNet50/VGG16 were pretrained) cannot be downloaded here. Baselines use fewer epochs than "
      "the paper's CNN to fit the CPU budget.";
  result["runs"] = nlohmann::json::array();
  auto save = [&] {
    aggregate(result);
    write_file_atomic(req.out / "compare.json", result.dump(2) + "\n");
    write_file_atomic(req.out / "compare.md", compare_markdown(result));
  };
  auto want = [&](const std::string& m) {
    return std::find(req.models.begin(), req.models.end(), m) != req.models.end();
  };

  for (const auto& protocol : req.protocols) {
    auto folds = make_folds(data, protocol, req.seed);
    std::map<std::string, std::vector<std::vector<EpochStats>>> histories;
    for (const auto& fold : folds) {
      auto record = [&](const std::string& model, int epochs, int64_t params, const Metrics& tr, const Metrics& va,
                        double secs) {
        result["runs"].push_back({{"protocol", protocol},
                                  {"fold", fold.name},
                                  {"model", model},
                                  {"epochs", epochs},
                                  {"parameters", params},
                                  {"train", to_json(tr, data.classes)},
                                  {"val", to_json(va, data.classes)},
                                  {"seconds", secs}});
        log << protocol << " fold " << fold.name << " " << model << ": val " << summary_line(va) << " ("
            << std::fixed << std::setprecision(0) << secs << " s)\n";
        save();
      };
      if (want("svm-pixels")) {
        Timer t;
        auto xt = to_input(data.images.index_select(0, index_tensor(fold.train))).flatten(1);
        auto xv = to_input(data.images.index_select(0, index_tensor(fold.val))).flatten(1);
        SvmOptions so;
        so.epochs = req.svm_epochs;
        so.seed = req.seed;
        auto svm = train_linear_svm(xt, data.labels.index_select(0, index_tensor(fold.train)), so);
        record("svm-pixels", so.epochs, xt.size(1) + 1, svm_metrics(svm, xt, data, fold.train),
               svm_metrics(svm, xv, data, fold.val), t.seconds());
      }
      for (const std::string arch : {"alexnet", "vgg", "resnet", "cnn-relu", "cnn-x2"}) {
        const bool features = arch == std::string("vgg") && want("svm-vgg-features");
        if (!want(arch) && !features) continue;
        const bool paper_cnn = arch.rfind("cnn-", 0) == 0;
        TrainOptions opt;
        opt.epochs = paper_cnn ? req.epochs : req.baseline_epochs;
        opt.seed = req.seed;
        opt.progress = req.progress;
        opt.label = protocol + " " + fold.name + " " + arch;
        seed_everything(req.seed);
        Net net = make_net(arch, data.shape, num_classes);
        auto res = train_net(*net, data, fold.train, fold.val, opt);
        const auto csv = req.out / (protocol + "-" + fold.name + "-" + arch + ".csv");
        write_history_csv(csv, res.history);
        histories[arch].push_back(res.history);
        if (want(arch)) record(arch, opt.epochs, res.parameters, res.train, res.val, res.train_seconds);
        if (features) {
          Timer t;
          auto ft = predict_features(*net, data.images.index_select(0, index_tensor(fold.train)));
          auto fv = predict_features(*net, data.images.index_select(0, index_tensor(fold.val)));
          SvmOptions so;
          so.epochs = req.svm_epochs;
          so.seed = req.seed;
          auto svm = train_linear_svm(ft, data.labels.index_select(0, index_tensor(fold.train)), so);
          record("svm-vgg-features", so.epochs, ft.size(1) + 1, svm_metrics(svm, ft, data, fold.train),
                 svm_metrics(svm, fv, data, fold.val), t.seconds() + res.train_seconds);
        }
      }
    }
    std::vector<Series> series;
    for (const auto& [arch, runs] : histories) {
      const auto csv = req.out / (protocol + "-mean-" + arch + ".csv");
      write_history_csv(csv, mean_history(runs));
      series.push_back({arch, csv});
    }
    plot_series(series, req.out / ("curves-" + protocol + ".png"),
                protocol + ": accuracy per epoch (mean over folds)");
  }
  save();
  return result;
}

std::string compare_markdown(const nlohmann::json& r) {
  std::ostringstream o;
  o << "| protocol | model | epochs | params | train acc % | val acc % | val bal. acc % | val wF1 % | "
       "train time s |\n|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& row : r["table"]) {
    o << "| " << row["protocol"].get<std::string>() << (row["folds"].get<int>() > 1 ? " (mean of " +
                                                             std::to_string(row["folds"].get<int>()) + " folds)" : "")
      << " | " << row["model"].get<std::string>() << " | " << row["epochs"] << " | " << row["parameters"] << " | "
      << pct(row["train_accuracy"]) << " | " << pct(row["val_accuracy"]) << " | "
      << pct(row["val_balanced_accuracy"]) << " | " << pct(row["val_weighted_f1"]) << " | " << std::fixed
      << std::setprecision(0) << row["train_seconds_total"].get<double>() << " |\n";
  }
  o << "\n" << r["note"].get<std::string>() << "\n";
  return o.str();
}

}  // namespace leukocrypt::train
