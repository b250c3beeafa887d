// `leukocrypt clinic`: the key holder's local web page (src/clinic, docs/CLINIC.md). Prints the
// address to open (with this start's access token) and serves until SIGINT/SIGTERM.
#include <iostream>

#include "command.h"
#include "common/error.h"

#ifdef LEUKOCRYPT_HAVE_LC_CLINIC
#include "clinic/clinic_server.h"
#include "common/paths.h"
#endif

namespace leukocrypt::cli {
namespace {

#ifdef LEUKOCRYPT_HAVE_LC_CLINIC
struct ClinicArgs {
  clinic::ClinicOptions options;
  std::string data_dir, url_file;
};

void run_clinic(ClinicArgs& a) {
  if (!a.data_dir.empty()) a.options.data_dir = a.data_dir;
  block_stop_signals();  // SIGINT/SIGTERM stop the clinic from one thread
  clinic::ClinicServer server(a.options);
  server.bind();
  std::cout << "leukocrypt clinic: open this address in a browser on this machine (it holds this start's "
               "access token; keep it private):\n  "
            << server.url() << "\nkeys and screenings: "
            << (a.options.data_dir.empty() ? clinic::default_data_dir() : a.options.data_dir).string()
            << "\nstop with Ctrl-C" << std::endl;
  if (!a.url_file.empty()) write_file_atomic(a.url_file, server.url() + "\n", 0600);

  serve_until_signal("leukocrypt clinic", [&] { server.serve(); }, [&] { server.stop(); });
}
#endif

void register_clinic(CLI::App& root) {
#ifdef LEUKOCRYPT_HAVE_LC_CLINIC
  auto a = std::make_shared<ClinicArgs>();
  auto* cmd = root.add_subcommand("clinic", "Key holder: a local web page to screen cells (keys stay on this machine)");
  cmd->add_option("--data-dir", a->data_dir, "Keys, screenings (SQLite) and staged requests (default: "
                                             "$XDG_DATA_HOME or ~/.local/share, /leukocrypt-clinic)");
  cmd->add_option("--host", a->options.host, "Address to listen on (loopback only unless --allow-remote)")
      ->capture_default_str();
  cmd->add_option("--port", a->options.port, "Port (0 = any free port)")->capture_default_str();
  cmd->add_flag("--allow-remote", a->options.allow_remote,
                "Allow a non-loopback --host (anyone who can reach it and has the token can use your keys)");
  add_insecure_flag(cmd, a->options.allow_insecure_for_tests);
  cmd->add_option("--url-file", a->url_file, "Also write the address (with its token) to this file (mode 0600)");
  cmd->footer("Each provider's scheme (BFV, or CKKS for a CKKS model card) comes from its model card. CKKS "
              "results are approximate and are decrypted only here: never send them (or the CSV/JSON exports) to "
              "the provider (Li-Micciancio 2021; docs/API.md, Security).");
  cmd->callback([a] { run_clinic(*a); });
#else
  (void)root;
#endif
}

const CommandRegistrar kRegistrar(750, register_clinic);

}  // namespace
}  // namespace leukocrypt::cli
