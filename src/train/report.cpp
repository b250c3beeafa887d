// CSV and gnuplot output.
#include "train/report.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/paths.h"

namespace leukocrypt::train {
namespace {

#ifdef LEUKOCRYPT_GNUPLOT
const char* kGnuplot = LEUKOCRYPT_GNUPLOT;
#else
const char* kGnuplot = "gnuplot";
#endif

std::string clean(std::string s) {
  for (auto& c : s)
    if (c == '"' || c == '\\' || c == '\'' || static_cast<unsigned char>(c) < 32) c = ' ';
  return s;
}

std::string quoted_path(const std::filesystem::path& p) {
  std::string q(1, '\'');  // built step by step: GCC 12 warns falsely on "lit" + string (bug 105329)
  q += clean(p.string());
  q += '\'';
  return q;
}

bool run_gnuplot(const std::string& script, const std::filesystem::path& png) {
  if (!gnuplot_available()) return false;
  auto gp = png;
  gp.replace_extension(".gp");
  write_file_atomic(gp, script);
  std::string cmd = std::string(kGnuplot) + " '" + clean(gp.string()) + "' 2>/dev/null";
  int rc = std::system(cmd.c_str());
  require<IoError>(rc == 0, "gnuplot failed on " + gp.string() + " (exit " + std::to_string(rc) + ")");
  return true;
}

const char* kTerminal = "set terminal pngcairo size 1200,450 font 'sans,10'\n";

}  // namespace

bool gnuplot_available() {
  static const bool ok = [] {
    std::string cmd = std::string(kGnuplot) + " -e 'exit' >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
  }();
  return ok;
}

void write_history_csv(const std::filesystem::path& path, const std::vector<EpochStats>& h) {
  std::ostringstream o;
  o << "epoch,train_loss,train_acc,val_loss,val_acc,val_balanced_acc,lr,seconds\n";
  o.precision(6);
  for (const auto& e : h)
    o << e.epoch << ',' << e.train_loss << ',' << e.train_acc << ',' << e.val_loss << ',' << e.val_acc << ','
      << e.val_balanced_acc << ',' << e.lr << ',' << e.seconds << '\n';
  write_file_atomic(path, o.str());
}

bool plot_history(const std::filesystem::path& csv, const std::filesystem::path& png, const std::string& title) {
  std::ostringstream s;
  s << kTerminal << "set output " << quoted_path(png) << "\n"
    << "set datafile separator ','\nset key autotitle columnhead\nset grid\nset xlabel 'epoch'\n"
    << "set multiplot layout 1,2 title '" << clean(title) << "'\n"
    << "set ylabel 'accuracy'\nset key bottom right\n"
    << "plot " << quoted_path(csv) << " using 1:3 with lines lw 2 title 'train', '' using 1:5 with lines lw 2 "
    << "title 'validation', '' using 1:6 with lines lw 1 dt 2 title 'validation (balanced)'\n"
    << "set ylabel 'loss'\nset key top right\n"
    << "plot " << quoted_path(csv) << " using 1:2 with lines lw 2 title 'train', '' using 1:4 with lines lw 2 "
    << "title 'validation'\n"
    << "unset multiplot\n";
  return run_gnuplot(s.str(), png);
}

bool plot_series(const std::vector<Series>& series, const std::filesystem::path& png, const std::string& title) {
  if (series.empty()) return false;
  std::ostringstream s;
  s << kTerminal << "set output " << quoted_path(png) << "\n"
    << "set datafile separator ','\nset grid\nset xlabel 'epoch'\n"
    << "set multiplot layout 1,2 title '" << clean(title) << "'\n"
    << "set ylabel 'training accuracy'\nset key bottom right\nplot ";
  for (std::size_t i = 0; i < series.size(); ++i)
    s << (i ? ", " : "") << quoted_path(series[i].csv) << " using 1:3 with lines lw 2 title '"
      << clean(series[i].name) << "'";
  s << "\nset ylabel 'validation accuracy'\nplot ";
  for (std::size_t i = 0; i < series.size(); ++i)
    s << (i ? ", " : "") << quoted_path(series[i].csv) << " using 1:5 with lines lw 2 title '"
      << clean(series[i].name) << "'";
  s << "\nunset multiplot\n";
  return run_gnuplot(s.str(), png);
}

}  // namespace leukocrypt::train
