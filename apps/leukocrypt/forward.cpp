// Exec-forwarding of a subcommand to a sibling executable (see forward.h).
#include "forward.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "common/error.h"

namespace leukocrypt::cli {
namespace {

std::filesystem::path sibling(const std::string& binary, const std::string& env_override) {
  if (const char* env = std::getenv(env_override.c_str()); env && *env) return env;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw IoError("cannot locate the leukocrypt executable (/proc/self/exe): " + ec.message());
  return self.parent_path() / binary;
}

[[noreturn]] void forward(const std::string& name, const std::vector<std::string>& rest, const std::string& binary,
                          const std::string& env_override) {
  const auto bin = sibling(binary, env_override);
  std::vector<std::string> args{"leukocrypt", name};
  args.insert(args.end(), rest.begin(), rest.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(bin.c_str(), argv.data());
  throw IoError("cannot run the " + binary + " binary " + bin.string() + ": " + std::strerror(errno) +
                " (build the target " + binary + ", or set " + env_override + ")");
}

}  // namespace

void add_forwarder(CLI::App& root, const std::string& name, const std::string& description, const std::string& binary,
                   const std::string& env_override) {
  auto* cmd = root.add_subcommand(name, description);
  cmd->prefix_command();  // everything after the name is passed through untouched
  cmd->set_help_flag();   // ... --help included: the sibling prints the real help
  cmd->callback([cmd, name, binary, env_override] { forward(name, cmd->remaining(), binary, env_override); });
}

}  // namespace leukocrypt::cli
