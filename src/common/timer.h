// Wall-clock and process-CPU stopwatches and a named-stage timing table for per-stage reports
// (--json). CPU time (all threads of the process) is what a loaded machine does not inflate.
#pragma once

#include <time.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace leukocrypt {

class Timer {
 public:
  Timer() : start_(Clock::now()) {}
  void reset() { start_ = Clock::now(); }
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  double millis() const { return seconds() * 1e3; }

 private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point start_;
};

// CPU seconds of the whole process (every thread) since construction or reset().
class CpuTimer {
 public:
  CpuTimer() : start_(now()) {}
  void reset() { start_ = now(); }
  double seconds() const { return now() - start_; }

 private:
  static double now() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
  }
  double start_;
};

// Ordered list of (stage, seconds); adding to an existing stage accumulates.
class StageTimes {
 public:
  void add(const std::string& stage, double seconds) {
    for (auto& [name, s] : stages_)
      if (name == stage) { s += seconds; return; }
    stages_.emplace_back(stage, seconds);
  }
  const std::vector<std::pair<std::string, double>>& stages() const { return stages_; }
  double total() const { double t = 0; for (auto& s : stages_) t += s.second; return t; }

 private:
  std::vector<std::pair<std::string, double>> stages_;
};

}  // namespace leukocrypt
