// Self-registration of CLI subcommands. Each cmd_<group>.cpp defines a function that adds its
// subcommands to the root CLI11 app and registers it with a static CommandRegistrar, so adding a
// command never edits main.cpp.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace leukocrypt::cli {

using RegisterFn = std::function<void(CLI::App& root)>;

struct CommandRegistrar {
  // `order` sorts the subcommands in --help (lower first).
  CommandRegistrar(int order, RegisterFn fn);
};

struct RegisteredCommand {
  int order;
  RegisterFn fn;
};
std::vector<RegisteredCommand>& registered_commands();

// Prints a JSON document to stdout (pretty, newline-terminated): the --json output of commands.
void print_json(const nlohmann::json& j);

// --insecure-for-tests on every command that loads encryption parameters: the only way to accept
// a set below 128-bit security (a params.json or model card never can, whatever it says).
void add_insecure_flag(CLI::App* cmd, bool& flag);
// The loud stderr warning every command prints when it runs with such a set.
void warn_insecure_params(bool below_128_bits);
// --no-circuit-privacy on the provider's commands (serve, infer, card): results are returned
// without re-randomisation and noise flooding, to measure what they cost. On by default.
void add_no_circuit_privacy_flag(CLI::App* cmd, bool& flag);
// The same for a model card (its "params" object, whose "security" the runner computed).
void warn_insecure_card(const nlohmann::json& card);
// For long-running servers (`serve`, `clinic`): block_stop_signals() before any thread starts
// (SIGINT/SIGTERM blocked everywhere, SIGPIPE ignored: a client hanging up is not fatal), then
// serve_until_signal() runs `serve` (blocking) while a dedicated thread waits for SIGINT/SIGTERM
// and calls `stop`, printing "<name>: stopping (signal N)".
void block_stop_signals();
void serve_until_signal(const std::string& name, const std::function<void()>& serve, const std::function<void()>& stop);

// Default real-data folder baked in at build time (../shared/data beside the checkout),
// overridden by the LEUKOCRYPT_DATA_DIR environment variable.
std::string default_data_dir();

}  // namespace leukocrypt::cli
