// `leukocrypt serve` in the main binary: forwarded to `leukocrypt-serve` (built beside it from
// cmd_serve.cpp), which links no code that can hold a secret key (no key generation, decryption
// or secret-key loading; checked at configure time and by the apps_serve_links_no_secret_code
// test). The main binary holds the key holder's commands, so the service never runs inside it.
#include "command.h"
#include "forward.h"

namespace leukocrypt::cli {
namespace {

void register_serve_forwarder(CLI::App& root) {
  add_forwarder(root, "serve", "Run the provider's HTTP screening service (in leukocrypt-serve: no secret-key code)",
                "leukocrypt-serve", "LEUKOCRYPT_SERVE_BIN");
  add_forwarder(root, "worker", "Run a stateless evaluation worker (in leukocrypt-serve: no secret-key code)",
                "leukocrypt-serve", "LEUKOCRYPT_SERVE_BIN");
}

const CommandRegistrar kRegistrar(800, register_serve_forwarder);

}  // namespace
}  // namespace leukocrypt::cli
