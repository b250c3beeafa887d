// `leukocrypt train`, `compare`, `export`: training with libtorch (src/train). Without libtorch the
// commands still exist and exit with a clear error.
#include <iostream>
#include <sstream>

#include "command.h"
#include "common/error.h"

#ifdef LEUKOCRYPT_HAVE_LC_TRAIN
#include "train/commands.h"
#endif

namespace leukocrypt::cli {
namespace {

#ifdef LEUKOCRYPT_HAVE_LC_TRAIN
std::string command_line(const CLI::App* cmd) {
  std::ostringstream o;
  o << "leukocrypt " << cmd->get_name();
  for (const auto* opt : cmd->get_options()) {
    if (opt->get_name() == "--help" || opt->count() == 0) continue;
    o << " " << opt->get_name();
    for (const auto& r : opt->results())
      if (opt->get_type_size() != 0) o << " " << r;
  }
  return o.str();
}
#endif

void register_train(CLI::App& root) {
  auto* train = root.add_subcommand("train", "Train the CryptoNets-friendly CNN (x² or ReLU) on a prepared dataset, or "
                                             "the CryptoNets MNIST network");
  auto* compare = root.add_subcommand("compare", "Compare with the paper's baselines (SVM, AlexNet-, VGG-, ResNet-style) "
                                                 "on both protocols");
  auto* exp = root.add_subcommand("export", "Export a model: native, CryptoNets CSV, collapsed, quantised (+accuracy)");
#ifdef LEUKOCRYPT_HAVE_LC_TRAIN
  auto tr = std::make_shared<train::TrainRequest>();
  auto json = std::make_shared<bool>(false);
  auto variant = std::make_shared<std::string>();
  train->add_option("--data", tr->data, "Prepared dataset folder (leukocrypt prepare)");
  train->add_option("--mnist", tr->mnist, "MNIST idx folder (instead of --data), e.g. ../shared/data/mnist");
  train->add_option("--variant", *variant, "x2 (x² + softmax, encryptable) or relu (ReLU + sigmoid)")
      ->check(CLI::IsMember({"x2", "relu"}));
  train->add_option("--arch", tr->arch, "Architecture: cnn-x2, cnn-relu, cryptonets-mnist, alexnet, vgg, resnet")
      ->capture_default_str();
  train->add_option("--protocol", tr->protocol, "patient-cv (3-fold over groups), random (80/20) or split")
      ->check(CLI::IsMember({"patient-cv", "random", "split"}))
      ->capture_default_str();
  train->add_option("--fold", tr->fold, "patient-cv: only the fold that holds out this group (e.g. C)");
  train->add_option("--epochs", tr->epochs, "Epochs (default 100; 15 for MNIST)");
  train->add_option("--batch", tr->batch_size, "Batch size")->capture_default_str();
  train->add_option("--lr", tr->lr, "Adam learning rate (cosine decay to lr/100)")->capture_default_str();
  train->add_option("--seed", tr->seed, "Seed (initialisation, shuffling, augmentation)")->capture_default_str();
  train->add_option("--threads", tr->threads, "libtorch threads")->capture_default_str();
  train->add_option("--conv1", tr->conv1, "Maps of the first (encrypted) convolution")->capture_default_str();
  train->add_option("--conv1-kernel", tr->conv1_kernel, "Kernel side of the first convolution")
      ->check(CLI::Range(1, 15))
      ->capture_default_str();
  train->add_option("--conv1-stride", tr->conv1_stride, "Stride of the first convolution (e.g. 4 for 64x64 input)")
      ->check(CLI::Range(1, 8))
      ->capture_default_str();
  train->add_option("--hidden", tr->hidden, "Units of the first dense layer (second x²)")->capture_default_str();
  train->add_option("--conv2", tr->conv2, "Maps of the second convolution (collapsed away when encrypted)")
      ->capture_default_str();
  train->add_option("--conv3", tr->conv3, "Maps of the third convolution (collapsed away when encrypted)")
      ->capture_default_str();
  train->add_option("--dropout", tr->dropout, "Dropout probability")->capture_default_str();
  train->add_option("--weight-decay", tr->weight_decay, "Adam weight decay (L2)")->capture_default_str();
  train->add_option("--rotation", tr->max_rotation_deg, "Augmentation: rotation uniform in [0, DEG) degrees")
      ->check(CLI::Range(0.0, 360.0))
      ->capture_default_str();
  train->add_option("--translate", tr->max_translate, "Augmentation: translation up to this fraction of the side")
      ->check(CLI::Range(0.0, 0.5))
      ->capture_default_str();
  train->add_option("--colour-jitter", tr->colour_jitter,
                    "Augmentation: per-image and per-channel gains in [1-j, 1+j] (stain variation)")
      ->capture_default_str();
  train->add_flag("--balanced-sampling", tr->balanced_sampling,
                  "Class-balanced sampling with replacement instead of the class-weighted loss");
  train->add_flag("--subject-balanced", tr->subject_balanced,
                  "Balanced sampling that also weighs every subject of a class equally (patient-disjoint data)");
  train->add_option("--label-smoothing", tr->label_smoothing, "Label smoothing (x² / softmax nets)")
      ->capture_default_str();
  train->add_option("--mixup", tr->mixup_alpha, "Mixup alpha (0: off)")->capture_default_str();
  train->add_option("--ema", tr->ema_decay, "Final model = exponential moving average of the weights, decay per step "
                                            "(0: off; e.g. 0.998)")
      ->capture_default_str();
  train->add_flag("--no-augment", [tr](std::int64_t) { tr->augment = false; }, "Disable flips/rotation/translation");
  train->add_flag("--recalibrate-bn", tr->recalibrate_bn,
                  "Re-estimate batch-norm statistics on unaugmented training images after the last epoch");
  train->add_option("--out", tr->out, "Output folder")->capture_default_str();
  train->add_flag("--json", *json, "Print the summary as JSON");
  train->callback([train, tr, json, variant] {
    if (!variant->empty()) tr->arch = "cnn-" + *variant;
    if (!tr->mnist.empty() && train->get_option("--arch")->count() == 0) tr->arch = "cryptonets-mnist";
    tr->progress = !*json;
    tr->command_line = command_line(train);
    auto summary = train::run_train(*tr, *json ? std::cerr : std::cout);
    if (*json) print_json(summary);
    else std::cout << train::train_summary_text(summary) << "results in " << tr->out.string() << "\n";
  });

  auto cr = std::make_shared<train::CompareRequest>();
  auto cjson = std::make_shared<bool>(false);
  compare->add_option("--data", cr->data, "Prepared dataset folder")->required();
  compare->add_option("--protocols", cr->protocols, "Protocols")->capture_default_str();
  compare->add_option("--models", cr->models, "Models: svm-pixels svm-vgg-features alexnet vgg resnet cnn-relu cnn-x2")
      ->capture_default_str();
  compare->add_option("--epochs", cr->epochs, "Epochs of the paper's CNN (x², ReLU)")->capture_default_str();
  compare->add_option("--baseline-epochs", cr->baseline_epochs, "Epochs of AlexNet/VGG/ResNet-style nets")
      ->capture_default_str();
  compare->add_option("--svm-epochs", cr->svm_epochs, "SGD epochs of the linear SVMs")->capture_default_str();
  compare->add_option("--seed", cr->seed, "Seed")->capture_default_str();
  compare->add_option("--threads", cr->threads, "libtorch threads")->capture_default_str();
  compare->add_option("--out", cr->out, "Output folder")->capture_default_str();
  compare->add_flag("--json", *cjson, "Print the result as JSON");
  compare->callback([compare, cr, cjson] {
    cr->progress = !*cjson;
    cr->command_line = command_line(compare);
    auto r = train::run_compare(*cr, *cjson ? std::cerr : std::cout);
    if (*cjson) print_json(r);
    else std::cout << train::compare_markdown(r) << "results in " << cr->out.string() << "\n";
  });

  auto er = std::make_shared<train::ExportRequest>();
  auto ejson = std::make_shared<bool>(false);
  exp->add_option("--model", er->model, "Model file (.lcm)")->required();
  exp->add_option("--out", er->out, "Output folder")->required();
  exp->add_option("--data", er->data, "Prepared dataset: choose the quantisation, report float vs integer accuracy");
  exp->add_option("--tolerance", er->max_drop_pp, "Largest accuracy drop of the integer model, percentage points")
      ->capture_default_str();
  exp->add_flag("--json", *ejson, "Print the result as JSON");
  exp->callback([er, ejson] {
    auto r = train::run_export(*er, *ejson ? std::cerr : std::cout);
    if (*ejson) print_json(r);
  });
#else
  for (auto* cmd : {train, compare, exp}) {
    cmd->allow_extras();
    cmd->callback([cmd] {
      throw Error("'" + cmd->get_name() + "' is not available: this leukocrypt was built without libtorch "
                  "(install libtorch-dev and configure with -DLEUKOCRYPT_WITH_TORCH=ON)");
    });
  }
#endif
}

const CommandRegistrar kRegistrar(300, register_train);

}  // namespace
}  // namespace leukocrypt::cli
