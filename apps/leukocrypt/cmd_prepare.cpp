// `leukocrypt prepare`: C-NMC / ALL-IDB2 cell images -> a model-ready dataset directory.
#include <iostream>

#include <opencv2/core/utils/logger.hpp>

#include "command.h"
#include "data/prepare.h"

namespace leukocrypt::cli {
namespace {

void register_prepare(CLI::App& root) {
  auto* cmd = root.add_subcommand(
      "prepare",
      "Crop, area-resize and split cell images into a dataset (CIFAR-10 .bin, CryptoNets .tsv, manifest)");
  auto o = std::make_shared<data::PrepareOptions>();
  auto layout = std::make_shared<std::string>("auto");
  auto json = std::make_shared<bool>(false);
  auto seed = std::make_shared<std::uint64_t>(1);
  cmd->add_option("--input", o->input,
                  "Input folder: C-NMC_training_data (fold_*/{all,hem}), any folder with all/ and hem/, or ALL-IDB2")
      ->required();
  cmd->add_option("--out", o->out, "Output dataset folder (written atomically)")->required();
  cmd->add_option("--layout", *layout, "Input layout: auto, cnmc, all-idb2")->capture_default_str();
  cmd->add_option("--size", o->preprocess.size, "Output image side S (S x S RGB)")->capture_default_str();
  cmd->add_option("--window", o->preprocess.window,
                  "Centred crop window as a fraction of the frame (default 320/450)")
      ->capture_default_str();
  cmd->add_option("--split", o->split.kind, "patient (subject-disjoint groups) or random (80/20, leaks patients)")
      ->capture_default_str();
  cmd->add_option("--splits", o->split.splits_file, "patient: SPLITS.tsv (subject<TAB>group); else automatic");
  cmd->add_option("--groups", o->split.groups, "patient, automatic: number of balanced groups")
      ->capture_default_str();
  cmd->add_option("--test-group", o->split.test_group, "patient: group on the test side (default: the last)");
  cmd->add_option("--test-fraction", o->split.test_fraction, "random: fraction of each class in test")
      ->capture_default_str();
  cmd->add_option("--seed", *seed, "random: shuffle seed")->capture_default_str();
  cmd->add_flag("--skip-bad", o->skip_bad, "Skip unreadable/corrupt/misnamed files and report their count");
  cmd->add_flag("--force", o->force, "Replace an existing output folder");
  cmd->add_flag("--json", *json, "Print the summary as JSON");
  cmd->callback([o, layout, json, seed] {
    // Decoding errors are reported by lc_data with the file name; OpenCV's own log lines would
    // only repeat them on stderr.
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    o->layout = data::parse_layout(*layout);
    o->split.seed = *seed;
    auto summary = data::prepare_dataset(*o);
    if (*json) {
      print_json(summary.to_json());
    } else {
      std::cout << summary.to_text();
    }
    if (!summary.skipped.empty())
      std::cerr << "leukocrypt: warning: skipped " << summary.skipped.size() << " bad input(s)" << std::endl;
  });
}

const CommandRegistrar kRegistrar(100, register_prepare);

}  // namespace
}  // namespace leukocrypt::cli
