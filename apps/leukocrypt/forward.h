// Forwarding a command to a sibling executable by exec: `leukocrypt train|compare|export` run in
// `leukocrypt-train` (the only one that links libtorch) and `leukocrypt serve` in
// `leukocrypt-serve` (the only one the provider's service runs in; it links no secret-key code).
// The sibling replaces this process, so output, exit code and signals are its own.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace leukocrypt::cli {

// Adds subcommand `name` that passes every argument after it (--help included) to `binary`
// (found beside this executable; `env_override` names an environment variable that may give its
// path instead).
void add_forwarder(CLI::App& root, const std::string& name, const std::string& description,
                   const std::string& binary, const std::string& env_override);

}  // namespace leukocrypt::cli
