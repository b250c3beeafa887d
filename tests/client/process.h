// Test helper: run the built `leukocrypt` CLI as a child process with a deadline (never hangs),
// capturing stdout+stderr; or start one in the background (a server) and kill it by pid. Also a
// temporary directory for such tests (LEUKOCRYPT_KEEP_TEST_DIR=1 keeps it for debugging).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace leukocrypt::testing {

// A fresh directory lc-<tag>-<pid>-<random> under the system's temporary directory, removed at
// the end (kept when LEUKOCRYPT_KEEP_TEST_DIR is set: model, params, keys, logs for debugging).
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("lc-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000007));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    if (std::getenv("LEUKOCRYPT_KEEP_TEST_DIR")) return;
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

struct RunResult {
  int status = -1;  // exit code, or -1 when killed / timed out
  std::string output;
  std::string errors;  // stderr, when run separately (stdout_only)
  bool timed_out = false;
};

// stdout and stderr go to log_path, or stderr to err_path when one is given.
inline pid_t spawn(const std::vector<std::string>& args, const std::string& log_path, const std::string& err_path = "") {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    if (!err_path.empty()) {
      int efd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (efd >= 0) ::dup2(efd, 2), ::close(efd);
    }
    ::setenv("LEUKOCRYPT_NO_PROGRESS", "1", 1);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs to completion or kills it after timeout_s. stdout_only: output is stdout alone (stderr kept
// in r.errors), for output parsed as JSON.
inline RunResult run(const std::vector<std::string>& args, const std::filesystem::path& dir, int timeout_s = 120,
                     bool stdout_only = false) {
  static int counter = 0;
  auto log = (dir / ("run-" + std::to_string(counter) + ".log")).string();
  auto err = stdout_only ? (dir / ("run-" + std::to_string(counter) + ".err")).string() : std::string();
  ++counter;
  pid_t pid = spawn(args, log, err);
  RunResult r;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  int st = 0;
  while (true) {
    pid_t w = ::waitpid(pid, &st, WNOHANG);
    if (w == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!r.timed_out && WIFEXITED(st)) r.status = WEXITSTATUS(st);
  r.output = slurp(log);
  if (stdout_only) r.errors = slurp(err);
  return r;
}

// A background `leukocrypt serve` on 127.0.0.1 with a free port (read from --port-file).
class ServerProcess {
 public:
  ServerProcess(std::vector<std::string> args, const std::filesystem::path& dir) : dir_(dir) {
    port_file_ = (dir / "port").string();
    std::filesystem::remove(port_file_);
    args.insert(args.end(), {"--host", "127.0.0.1", "--port", "0", "--port-file", port_file_});
    log_ = (dir / ("server-" + std::to_string(::getpid()) + "-" + std::to_string(starts_++) + ".log")).string();
    pid_ = spawn(args, log_);
    for (int i = 0; i < 1500 && port_ == 0; ++i) {  // up to 30 s (model load + plan)
      std::ifstream in(port_file_);
      int p = 0;
      if (in >> p && p > 0) port_ = p;
      else std::this_thread::sleep_for(std::chrono::milliseconds(20));
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
    }
  }
  ~ServerProcess() { kill(SIGTERM); }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return slurp(log_); }
  bool alive() const { return pid_ > 0; }
  // Sends sig and waits (bounded) for the process to exit; SIGKILL after 10 s.
  void kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int st = 0;
    for (int i = 0; i < 500; ++i) {
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
  }

 private:
  std::filesystem::path dir_;
  std::string port_file_, log_;
  pid_t pid_ = -1;
  int port_ = 0;
  static inline int starts_ = 0;
};

}  // namespace leukocrypt::testing
