// `leukocrypt train`: folds of a protocol, one net per fold, reports and nn::Model files.
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>

#include "common/error.h"
#include "common/paths.h"
#include "common/timer.h"
#include "data/dataset.h"
#include "data/mnist.h"
#include "train/commands.h"
#include "train/he_cost.h"
#include "train/report.h"
#include "train/trainer.h"

namespace leukocrypt::train {
namespace {

TensorData load_mnist_split(const std::filesystem::path& dir, const std::string& prefix) {
  auto set = data::load_mnist(dir / (prefix + "-images-idx3-ubyte.gz"), dir / (prefix + "-labels-idx1-ubyte.gz"));
  const int64_t n = static_cast<int64_t>(set.size());
  TensorData t;
  t.shape = {1, set.rows, set.cols};
  for (int c = 0; c < 10; ++c) t.classes.push_back(std::to_string(c));
  t.images = torch::from_blob(set.images.data(), {n, 1, set.rows, set.cols}, torch::kUInt8).clone();
  t.labels = torch::from_blob(set.labels.data(), {n}, torch::kUInt8).to(torch::kInt64);
  t.subjects.assign(n, "");
  t.groups.assign(n, "");
  t.splits.assign(n, prefix == "train" ? "train" : "test");
  return t;
}

// MNIST train (60k) followed by t10k (10k), with one fold: train -> test.
TensorData load_mnist_all(const std::filesystem::path& dir) {
  auto a = load_mnist_split(dir, "train"), b = load_mnist_split(dir, "t10k");
  require<FormatError>(a.shape == b.shape, "MNIST train and t10k images differ in size");
  TensorData t = a;
  t.images = torch::cat({a.images, b.images}, 0);
  t.labels = torch::cat({a.labels, b.labels}, 0);
  for (auto* v : {&t.subjects, &t.groups, &t.splits}) v->clear();
  for (const auto* s : {&a, &b}) {
    t.subjects.insert(t.subjects.end(), s->subjects.begin(), s->subjects.end());
    t.groups.insert(t.groups.end(), s->groups.begin(), s->groups.end());
    t.splits.insert(t.splits.end(), s->splits.begin(), s->splits.end());
  }
  return t;
}

nlohmann::json mean_std(const std::vector<double>& v) {
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= v.empty() ? 1 : v.size();
  for (double x : v) s += (x - m) * (x - m);
  s = v.size() > 1 ? std::sqrt(s / (v.size() - 1)) : 0.0;
  return {{"mean", m}, {"std", s}};
}

std::string pct(double x) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(2) << 100.0 * x;
  return o.str();
}

}  // namespace

nlohmann::json run_train(const TrainRequest& req, std::ostream& log) {
  require(req.threads >= 1 && req.threads <= 64, "threads must be in [1, 64], got " + std::to_string(req.threads));
  torch::set_num_threads(req.threads);
  const bool mnist = !req.mnist.empty();
  require(mnist != !req.data.empty(), "give exactly one of --data (prepared C-NMC dataset) or --mnist (idx folder)");
  const int epochs = req.epochs > 0 ? req.epochs : (mnist ? 15 : 100);

  TensorData data;
  std::vector<Fold> folds;
  if (mnist) {
    data = load_mnist_all(req.mnist);
    folds = make_folds(data, "split", req.seed);
    folds[0].name = "mnist";
  } else {
    data = from_dataset(data::load_dataset(req.data));
    folds = make_folds(data, req.protocol, req.seed);
  }
  if (!req.fold.empty()) {
    std::vector<Fold> kept;
    for (auto& f : folds)
      if (f.name == req.fold) kept.push_back(f);
    require(!kept.empty(), "fold '" + req.fold + "' not found in protocol " + req.protocol);
    folds = kept;
  }

  for (auto& f : folds) {
    if (req.limit_train > 0 && static_cast<int64_t>(f.train.size()) > req.limit_train) f.train.resize(req.limit_train);
    if (req.limit_val > 0 && static_cast<int64_t>(f.val.size()) > req.limit_val) f.val.resize(req.limit_val);
  }

  CnnWidths widths{req.conv1, req.conv2, req.conv3, req.hidden, req.dropout, req.conv1_kernel, req.conv1_stride};
  const int num_classes = static_cast<int>(data.classes.size());
  std::filesystem::create_directories(req.out);

  // Model summary with the encrypted op counts (from an untrained copy: the counts depend only on
  // the architecture).
  nlohmann::json summary;
  {
    seed_everything(req.seed);
    Net probe = make_net(req.arch, data.shape, num_classes, widths);
    log << "model " << req.arch << " (" << probe->parameter_count() << " trainable parameters), input "
        << data.shape.c << "x" << data.shape.h << "x" << data.shape.w << "\n"
        << probe->describe();
    if (auto* seq = dynamic_cast<SequentialNetImpl*>(probe.get())) {
      try {
        auto m = to_nn_model(*seq, req.arch, req.arch, data.classes);
        auto cost = he_cost(nn::collapse_linear(m));
        log << cost.to_text();
        summary["he_cost"] = cost.to_json();
      } catch (const InvalidArgument&) {
        log << "not convertible to an encrypted network (max pooling)\n";
      }
    }
    summary["parameters"] = probe->parameter_count();
    summary["architecture"] = probe->describe();
  }

  TrainOptions opt;
  opt.epochs = epochs;
  opt.batch_size = req.batch_size;
  opt.lr = req.lr;
  opt.weight_decay = req.weight_decay;
  opt.seed = req.seed;
  opt.augment = req.augment && !mnist;
  opt.class_weighted = !mnist;
  opt.progress = req.progress;
  opt.recalibrate_bn = req.recalibrate_bn;
  opt.augmentation.colour_jitter = req.colour_jitter;
  opt.augmentation.max_rotation_deg = req.max_rotation_deg;
  opt.augmentation.max_translate = req.max_translate;
  opt.balanced_sampling = req.balanced_sampling;
  opt.subject_balanced = req.subject_balanced;
  opt.label_smoothing = req.label_smoothing;
  opt.mixup_alpha = req.mixup_alpha;
  opt.ema_decay = req.ema_decay;

  // The recipe: recorded once in the summary and in every fold's model metadata.
  const nlohmann::json recipe = {
      {"arch", req.arch},
      {"dataset", mnist ? req.mnist.string() : req.data.string()},
      {"protocol", mnist ? "mnist train/t10k" : req.protocol},
      {"epochs", epochs},
      {"seed", req.seed},
      {"threads", req.threads},
      {"batch_size", req.batch_size},
      {"lr", req.lr},
      {"augment", opt.augment},
      {"recalibrate_bn", opt.recalibrate_bn},
      {"weight_decay", req.weight_decay},
      {"widths",
       {{"conv1", req.conv1}, {"conv2", req.conv2}, {"conv3", req.conv3}, {"hidden", req.hidden},
        {"conv1_kernel", req.conv1_kernel}, {"conv1_stride", req.conv1_stride}, {"dropout", req.dropout}}},
      {"colour_jitter", req.colour_jitter},
      {"max_rotation_deg", req.max_rotation_deg},
      {"max_translate", req.max_translate},
      {"balanced_sampling", req.balanced_sampling},
      {"subject_balanced", req.subject_balanced},
      {"label_smoothing", req.label_smoothing},
      {"mixup_alpha", req.mixup_alpha},
      {"ema_decay", req.ema_decay},
      {"command", req.command_line},
  };
  summary.update(recipe);
  nlohmann::json fold_results = nlohmann::json::array();
  std::vector<double> acc, bal, f1, secs;
  for (const auto& fold : folds) {
    const auto dir = req.out / fold.name;
    std::filesystem::create_directories(dir);
    opt.label = req.arch + " " + fold.name;
    seed_everything(req.seed);
    Net net = make_net(req.arch, data.shape, num_classes, widths);
    log << "fold " << fold.name << ": " << fold.train.size() << " training, " << fold.val.size()
        << " validation images\n";
    auto res = train_net(*net, data, fold.train, fold.val, opt);
    write_history_csv(dir / "history.csv", res.history);
    plot_history(dir / "history.csv", dir / "curves.png", req.arch + " fold " + fold.name);

    nlohmann::json fr;
    fr["fold"] = fold.name;
    if (req.protocol == "patient-cv" && !mnist) {
      std::set<std::string> tg;
      for (auto i : fold.train) tg.insert(data.groups[i]);
      fr["train_groups"] = std::vector<std::string>(tg.begin(), tg.end());
      fr["val_group"] = fold.name;
    }
    fr["train_count"] = fold.train.size();
    fr["val_count"] = fold.val.size();
    fr["train"] = to_json(res.train, data.classes);
    fr["val"] = to_json(res.val, data.classes);
    if (opt.recalibrate_bn)
      fr["val_before_bn_recalibration"] = {{"accuracy", res.val_before_recalibration.accuracy},
                                         {"balanced_accuracy", res.val_before_recalibration.balanced_accuracy}};
    fr["train_seconds"] = res.train_seconds;
    fr["seconds_per_epoch"] = res.train_seconds / epochs;

    if (auto* seq = dynamic_cast<SequentialNetImpl*>(net.get())) {
      const std::string variant = req.arch == "cnn-relu" ? "relu" : "x2";
      auto model = to_nn_model(*seq, mnist ? "mnist-cryptonets" : "cnmc-" + variant, variant, data.classes);
      // The converted model must reproduce the trained net: compare logits on validation images.
      auto n_check = std::min<int64_t>(64, static_cast<int64_t>(fold.val.size()));
      std::vector<int64_t> ci(fold.val.begin(), fold.val.begin() + n_check);
      auto imgs = data.images.index_select(0, index_tensor(ci)).contiguous();
      auto ref = predict_logits(*net, imgs).contiguous();
      auto ref_a = ref.accessor<float, 2>();
      // The collapsed model's logits (softmax/sigmoid removed) against the net's logits.
      auto collapsed = nn::collapse_linear(model);
      double max_diff = 0, max_ref = 0;
      const int64_t px = imgs[0].numel();
      std::vector<float> pixels(px);
      for (int64_t i = 0; i < n_check; ++i) {
        const uint8_t* p = imgs.data_ptr<uint8_t>() + i * px;
        for (int64_t k = 0; k < px; ++k) pixels[k] = p[k];
        auto out = nn::forward(collapsed, pixels.data());
        for (std::size_t k = 0; k < out.size(); ++k) {
          max_diff = std::max(max_diff, std::abs(double(out[k]) - ref_a[i][k]));
          max_ref = std::max(max_ref, std::abs(double(ref_a[i][k])));
        }
      }
      fr["export_check"] = {{"images", n_check}, {"max_abs_logit_diff", max_diff}, {"max_abs_logit", max_ref}};
      model.metadata = recipe;
      model.metadata.update({{"fold", fold.name},
                             {"torch_version", TORCH_VERSION},
                             {"train_seconds", res.train_seconds},
                             {"metrics", {{"train", fr["train"]}, {"val", fr["val"]}}}});
      if (fr.contains("val_group")) {
        model.metadata["train_groups"] = fr["train_groups"];
        model.metadata["val_group"] = fr["val_group"];
      }
      nn::save_model(model, dir / "model.lcm");
      fr["model"] = (dir / "model.lcm").string();
    }
    write_file_atomic(dir / "metrics.json", fr.dump(2) + "\n");
    if (opt.recalibrate_bn)
      log << "fold " << fold.name << " before batch-norm recalibration: val "
          << summary_line(res.val_before_recalibration) << "\n";
    log << "fold " << fold.name << " final: train " << summary_line(res.train) << "\n"
        << "fold " << fold.name << " final: val   " << summary_line(res.val) << "  (" << std::fixed
        << std::setprecision(1) << res.train_seconds << " s)\n";
    acc.push_back(res.val.accuracy);
    bal.push_back(res.val.balanced_accuracy);
    f1.push_back(res.val.weighted_f1);
    secs.push_back(res.train_seconds);
    fold_results.push_back(fr);
  }
  summary["folds"] = fold_results;
  summary["val_accuracy"] = mean_std(acc);
  summary["val_balanced_accuracy"] = mean_std(bal);
  summary["val_weighted_f1"] = mean_std(f1);
  summary["train_seconds"] = mean_std(secs);
  write_file_atomic(req.out / "summary.json", summary.dump(2) + "\n");
  write_file_atomic(req.out / "summary.md", train_summary_text(summary));
  return summary;
}

std::string train_summary_text(const nlohmann::json& s) {
  std::ostringstream o;
  o << "| fold | train | val | val acc % | val bal. acc % | val wF1 % | train acc % | time s |\n"
    << "|---|---|---|---|---|---|---|---|\n";
  for (const auto& f : s["folds"]) {
    o << "| " << f["fold"].get<std::string>() << " | " << f["train_count"] << " | " << f["val_count"] << " | "
      << pct(f["val"]["accuracy"]) << " | " << pct(f["val"]["balanced_accuracy"]) << " | "
      << pct(f["val"]["weighted_f1"]) << " | " << pct(f["train"]["accuracy"]) << " | " << std::fixed
      << std::setprecision(0) << f["train_seconds"].get<double>() << " |\n";
  }
  if (s["folds"].size() > 1)
    o << "| mean ± sd | | | " << pct(s["val_accuracy"]["mean"]) << " ± " << pct(s["val_accuracy"]["std"]) << " | "
      << pct(s["val_balanced_accuracy"]["mean"]) << " ± " << pct(s["val_balanced_accuracy"]["std"]) << " | "
      << pct(s["val_weighted_f1"]["mean"]) << " ± " << pct(s["val_weighted_f1"]["std"]) << " | | |\n";
  return o.str();
}

}  // namespace leukocrypt::train
