// Registry of CLI subcommands and small shared output helpers.
#include "command.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <thread>

namespace leukocrypt::cli {

std::vector<RegisteredCommand>& registered_commands() {
  static std::vector<RegisteredCommand> commands;
  return commands;
}

CommandRegistrar::CommandRegistrar(int order, RegisterFn fn) {
  registered_commands().push_back({order, std::move(fn)});
}

void print_json(const nlohmann::json& j) { std::cout << j.dump(2) << std::endl; }

void add_insecure_flag(CLI::App* cmd, bool& flag) {
  cmd->add_flag("--insecure-for-tests", flag,
                "Accept encryption parameters below 128-bit security (tests only; never with patient data)");
}

void warn_insecure_params(bool below_128_bits) {
  if (!below_128_bits) return;
  std::cerr << "leukocrypt: WARNING: INSECURE ENCRYPTION PARAMETERS (below 128-bit security), accepted because of "
               "--insecure-for-tests. Ciphertexts made with them can be broken: tests only, never patient data.\n";
}

void add_no_circuit_privacy_flag(CLI::App* cmd, bool& flag) {
  cmd->add_flag("--no-circuit-privacy", flag,
                "Return results without re-randomisation and noise flooding (leaks the model; to measure only, and "
                "for CKKS parameters, which carry no flood: docs/API.md, Security)");
}

void warn_insecure_card(const nlohmann::json& card) {
  warn_insecure_params(card.contains("params") && card["params"].is_object() &&
                       card["params"].value("security", "128") != "128");
}

namespace {
sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}
}  // namespace

void block_stop_signals() {
  sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

void serve_until_signal(const std::string& name, const std::function<void()>& serve, const std::function<void()>& stop) {
  const sigset_t set = stop_signals();
  std::atomic<bool> done{false};
  std::thread signals([&] {
    timespec ts{0, 200 * 1000 * 1000};
    while (!done) {
      int sig = sigtimedwait(&set, nullptr, &ts);
      if (sig == SIGINT || sig == SIGTERM) {
        std::cout << name << ": stopping (signal " << sig << ")" << std::endl;
        stop();
        return;
      }
    }
  });
  serve();
  done = true;
  signals.join();
  stop();
}

std::string default_data_dir() {
  if (const char* env = std::getenv("LEUKOCRYPT_DATA_DIR"); env && *env) return env;
  return LEUKOCRYPT_DEFAULT_DATA_DIR;
}

}  // namespace leukocrypt::cli
