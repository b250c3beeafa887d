// leukocrypt: entry point. Builds the CLI from the registered subcommands and maps errors to a
// one-line message and an exit code (0 ok, 1 error, 2 usage).
#include <algorithm>
#include <iostream>

#include "command.h"
#include "common/allocator.h"
#include "common/error.h"

int main(int argc, char** argv) {
  leukocrypt::configure_allocator();
  CLI::App app{"leukocrypt: privacy-preserving screening of Acute Lymphoblastic Leukemia "
               "(CryptoNets on encrypted cell images, our own RNS-BFV engine)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("leukocrypt ") + LEUKOCRYPT_VERSION);
  auto commands = leukocrypt::cli::registered_commands();
  std::stable_sort(commands.begin(), commands.end(),
                   [](const auto& a, const auto& b) { return a.order < b.order; });
  for (auto& c : commands) c.fn(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  } catch (const leukocrypt::Error& e) {
    std::cerr << "leukocrypt: error: " << e.what() << std::endl;
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "leukocrypt: error: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
