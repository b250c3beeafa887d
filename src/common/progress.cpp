// Progress bar drawing: one carriage-return line, at most ~10 redraws per second.
#include "common/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace leukocrypt {

bool ProgressBar::terminal_available() {
  return isatty(STDERR_FILENO) && std::getenv("LEUKOCRYPT_NO_PROGRESS") == nullptr;
}

ProgressBar::ProgressBar(std::string label, std::size_t total, bool enabled)
    : label_(std::move(label)), total_(total), active_(enabled && terminal_available()) {
  draw(true);
}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::tick(std::size_t n) {
  done_.fetch_add(n);
  if (active_) draw(false);
}

void ProgressBar::set_status(const std::string& status) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    status_ = status;
  }
  if (active_) draw(false);
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (!active_) return;
  draw(true);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

void ProgressBar::draw(bool force) {
  if (!active_) return;
  std::lock_guard<std::mutex> lk(mu_);
  double now = timer_.seconds();
  if (!force && now - last_draw_ < 0.1) return;
  last_draw_ = now;
  std::size_t done = done_.load();
  if (total_ > 0 && done > total_) done = total_;
  constexpr int kWidth = 30;
  double frac = total_ ? static_cast<double>(done) / total_ : 0.0;
  int filled = static_cast<int>(frac * kWidth);
  char bar[kWidth + 1];
  for (int i = 0; i < kWidth; ++i) bar[i] = i < filled ? '#' : '.';
  bar[kWidth] = 0;
  double eta = (done > 0 && total_ > done) ? now / done * (total_ - done) : 0.0;
  std::fprintf(stderr, "\r%s [%s] %zu/%zu %5.1fs eta %5.1fs %s\033[K", label_.c_str(), bar, done,
               total_, now, eta, status_.c_str());
  std::fflush(stderr);
}

}  // namespace leukocrypt
