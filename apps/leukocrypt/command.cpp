// Registry of CLI subcommands and small shared output helpers.
#include "command.h"

#include <cstdlib>
#include <iostream>

namespace leukocrypt::cli {

std::vector<RegisteredCommand>& registered_commands() {
  static std::vector<RegisteredCommand> commands;
  return commands;
}

CommandRegistrar::CommandRegistrar(int order, RegisterFn fn) {
  registered_commands().push_back({order, std::move(fn)});
}

void print_json(const nlohmann::json& j) { std::cout << j.dump(2) << std::endl; }

std::string default_data_dir() {
  if (const char* env = std::getenv("LEUKOCRYPT_DATA_DIR"); env && *env) return env;
  return LEUKOCRYPT_DEFAULT_DATA_DIR;
}

}  // namespace leukocrypt::cli
