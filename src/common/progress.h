// Terminal progress bar for long work (prepare, training epochs, encrypted layers). Draws on
// stderr only when stderr is a terminal and LEUKOCRYPT_NO_PROGRESS is unset, so logs, pipes and
// --json output stay clean. Thread-safe tick().
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>

#include "common/timer.h"

namespace leukocrypt {

class ProgressBar {
 public:
  ProgressBar(std::string label, std::size_t total, bool enabled = true);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void tick(std::size_t n = 1);
  // Free text drawn after the counter (e.g. "loss 0.31 acc 0.88").
  void set_status(const std::string& status);
  // Draws the final state and a newline; called by the destructor if not called before.
  void finish();

  bool active() const { return active_; }
  static bool terminal_available();

 private:
  void draw(bool force);

  std::string label_;
  std::size_t total_;
  std::atomic<std::size_t> done_{0};
  std::string status_;
  bool active_;
  bool finished_ = false;
  double last_draw_ = -1;
  Timer timer_;
  std::mutex mu_;
};

}  // namespace leukocrypt
