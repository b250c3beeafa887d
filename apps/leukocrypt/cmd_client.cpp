// Key holder and provider file commands: `keygen`, `encrypt`, `infer` (provider, offline, no
// secret key), `decrypt`, and `screen` (the whole round trip through a screening server).
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "command.h"
#include "common/error.h"

#if defined(LEUKOCRYPT_CLIENT_HE) && defined(LEUKOCRYPT_SERVICE_HE)
#include "client/key_files.h"
#include "client/keyholder.h"
#include "client/service_client.h"
#include "common/paths.h"
#include "common/progress.h"
#include "common/timer.h"
#include "service/he_job_runner.h"
#include "service/wire/container.h"
#include "service/wire/he_layout.h"
#include "nn/ckks_settings.h"
#include "nn/slot_layout.h"
#define LC_HAVE_CLIENT 1
#endif

namespace leukocrypt::cli {
namespace {

#ifdef LC_HAVE_CLIENT

std::string human_bytes(double b) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(1);
  if (b >= 1 << 30) s << b / (1 << 30) << " GiB";
  else if (b >= 1 << 20) s << b / (1 << 20) << " MiB";
  else if (b >= 1 << 10) s << b / (1 << 10) << " KiB";
  else s << std::setprecision(0) << b << " B";
  return s.str();
}

// Feeds a 0..1000 progress bar from (done, total) counts.
std::function<void(std::size_t, std::size_t)> progress_ticker(ProgressBar& bar) {
  auto shown = std::make_shared<std::size_t>(0);
  return [&bar, shown](std::size_t done, std::size_t total) {
    auto now = total ? static_cast<std::size_t>(1000.0 * double(done) / double(total)) : 0;
    if (now > *shown) bar.tick(now - *shown), *shown = now;
  };
}

nlohmann::json read_json_file(const std::string& path) {
  auto j = nlohmann::json::parse(read_file(path, 1 << 24), nullptr, false);
  if (j.is_discarded()) throw FormatError(path + ": not valid JSON");
  return j;
}

struct CellSource {
  std::vector<std::string> images;
  std::string data, split;
  std::size_t limit = 0;
  double window = 0;
};

void add_cell_options(CLI::App* cmd, CellSource& src) {
  cmd->add_option("images", src.images, "Cell images (BMP/PNG/JPG/TIFF), preprocessed as `prepare` does");
  cmd->add_option("--data", src.data, "A prepared dataset directory (or the MNIST folder) instead of images");
  cmd->add_option("--split", src.split, "With --data: a split (train/test) or patient group (MNIST: test or train)");
  cmd->add_option("--limit", src.limit, "At most this many cells (0 = all)");
  cmd->add_option("--window", src.window, "Crop window as a fraction of the frame (default: prepare's)");
}

std::vector<client::CellInput> load_cells(const CellSource& src, int size) {
  require(src.images.empty() != src.data.empty(), "give either IMAGES or --data DATASET");
  if (!src.data.empty()) return client::load_dataset_cells(src.data, src.split, src.limit, size);
  std::vector<std::filesystem::path> files(src.images.begin(), src.images.end());
  if (src.limit > 0 && files.size() > src.limit) files.resize(src.limit);
  return client::load_images(files, size, src.window);
}

nlohmann::json cells_json(const std::vector<client::CellResult>& cells) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& c : cells)
    a.push_back({{"cell", c.name},
                 {"label", c.label},
                 {"class", c.class_name},
                 {"probability", c.probability},
                 {"logits", c.logits},
                 {"exact_logits", c.exact}});
  return a;
}

void print_cells(const std::vector<client::CellResult>& cells) {
  std::size_t w = 4;
  for (const auto& c : cells) w = std::max(w, c.name.size());
  std::cout << std::left << std::setw(static_cast<int>(w) + 2) << "cell" << std::setw(8) << "label"
            << "probability\n";
  std::map<std::string, int> counts;
  for (const auto& c : cells) {
    std::cout << std::left << std::setw(static_cast<int>(w) + 2) << c.name << std::setw(8) << c.class_name
              << std::fixed << std::setprecision(3) << c.probability << "\n";
    counts[c.class_name]++;
  }
  std::cout << cells.size() << " cell(s):";
  for (auto& [k, n] : counts) std::cout << " " << n << " " << k;
  std::cout << "\n";
}

// --scheme bfv|ckks|auto: auto follows the keys or the parameters document; a named scheme must
// match it (one line otherwise).
void add_scheme_option(CLI::App* cmd, std::string& scheme, const char* what) {
  cmd->add_option("--scheme", scheme, std::string("bfv, ckks, or auto (the scheme of ") + what + ")")
      ->default_val("auto")
      ->check(CLI::IsMember({"auto", "bfv", "ckks"}));
}

void require_scheme_matches(const std::string& asked, const std::string& actual, const std::string& what) {
  if (asked != "auto" && asked != actual)
    throw InvalidArgument("--scheme " + asked + ", but " + what + " is for " + actual);
}

// The key directory's secret key; insecure parameters only with the command's explicit flag.
client::KeyHolder open_keys(const std::string& dir, bool insecure, const std::string& scheme = "auto") {
  client::KeyHolder kh{client::KeyPaths(dir), insecure};
  require_scheme_matches(scheme, kh.scheme(), "the key directory '" + dir + "'");
  warn_insecure_params(!kh.meets_128_bits());
  return kh;
}

void add_layout_option(CLI::App* cmd, std::string& layout) {
  cmd->add_option("--layout", layout,
                  "throughput (one cell per slot: full batches), latency (each cell in one ciphertext's slots: "
                  "megabytes for a few cells; needs keys with Galois keys) or auto (the keys' default; CKKS keys serve "
                  "only the layout their parameters were chosen for)")
      ->default_val("auto")
      ->check(CLI::IsMember({"auto", "throughput", "latency"}));
}

// screen --layout: an explicit layout, or (auto) the keys' default when the server serves it,
// else the other one the server serves.
void choose_screen_layout(client::KeyHolder& kh, const std::string& layout, const nlohmann::json& card) {
  auto served = [&](nn::Layout l) {
    if (!card.contains("layouts")) return l == nn::Layout::kThroughput;  // an older server
    for (const auto& x : card["layouts"])
      if (x == nn::to_string(l)) return true;
    return false;
  };
  if (layout != "auto") {
    const auto l = nn::layout_from_string(layout);
    if (!served(l)) throw InvalidArgument(std::string("the server does not serve the ") + nn::to_string(l) + " layout");
    kh.set_layout(l);
    return;
  }
  if (served(kh.layout())) return;
  const auto other = kh.layout() == nn::Layout::kLatency ? nn::Layout::kThroughput : nn::Layout::kLatency;
  if (!served(other)) throw InvalidArgument("the server serves no layout these keys can use");
  kh.set_layout(other);
}

void register_keygen(CLI::App& root) {
  struct Args {
    std::string params, out, scheme = "auto";
    bool force = false, json = false, insecure = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = root.add_subcommand("keygen", "Key holder: generate secret.key (0600), public.key, eval.key");
  cmd->add_option("--params", a->params, "params.json, or the server's model card (GET /v1/model)")->required();
  cmd->add_option("--out", a->out, "Key directory")->required();
  add_scheme_option(cmd, a->scheme, "--params");
  cmd->add_flag("--force", a->force, "Overwrite an existing secret key");
  add_insecure_flag(cmd, a->insecure);
  cmd->add_flag("--json", a->json, "Machine-readable output");
  cmd->callback([a] {
    auto j = read_json_file(a->params);
    const bool ckks = nn::is_ckks_document(j);
    require_scheme_matches(a->scheme, ckks ? "ckks" : "bfv", "--params '" + a->params + "'");
    // The card's parameters are checked here against the 128-bit table, whatever its "security"
    // field says: a provider cannot make a patient encrypt under breakable parameters.
    Timer t;
    nlohmann::json info;
    if (ckks) {
      auto settings = nn::ckks_settings_from_json(j, a->params, a->insecure);
      warn_insecure_params(settings.params.security() != ckks::Security::k128);
      info = client::keygen(settings, client::KeyPaths(a->out), j, a->force);
    } else {
      auto settings = wire::settings_from_json(j, a->params, a->insecure);
      warn_insecure_params(!settings.meets_128_bits());
      info = client::keygen(settings, client::KeyPaths(a->out), j, a->force);
    }
    info["seconds"] = t.seconds();
    info["dir"] = a->out;
    if (a->json) return print_json(info);
    std::cout << "keys " << info["key_id"].get<std::string>() << " written to " << a->out << " in " << std::fixed
              << std::setprecision(2) << t.seconds() << " s\n"
              << "  secret.key  " << human_bytes(info["bytes"]["secret.key"].get<double>())
              << "  (mode 0600: never share it)\n"
              << "  public.key  " << human_bytes(info["bytes"]["public.key"].get<double>()) << "\n"
              << "  eval.key    " << human_bytes(info["bytes"]["eval.key"].get<double>())
              << "  (upload this to the provider)\n";
  });
}

void register_encrypt(CLI::App& root) {
  struct Args {
    std::string keys, out, model_id, layout = "auto", scheme = "auto";
    CellSource src;
    bool json = false, insecure = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = root.add_subcommand("encrypt", "Key holder: preprocess, pack (one cell per slot) and encrypt cells");
  cmd->add_option("--keys", a->keys, "Key directory from keygen")->required();
  add_cell_options(cmd, a->src);
  cmd->add_option("--model-id", a->model_id, "Model the request is for (default: keys.json's)");
  cmd->add_option("--out", a->out, "Request file (.lcx)")->required();
  add_layout_option(cmd, a->layout);
  add_scheme_option(cmd, a->scheme, "the keys");
  cmd->add_flag("--json", a->json, "Machine-readable output");
  add_insecure_flag(cmd, a->insecure);
  cmd->callback([a] {
    auto kh = open_keys(a->keys, a->insecure, a->scheme);
    if (a->layout != "auto") kh.set_layout(nn::layout_from_string(a->layout));
    auto cells = load_cells(a->src, kh.image_size());
    std::string model_id = a->model_id.empty() ? kh.info().value("model_id", "") : a->model_id;
    client::EncryptStats st;
    {
      ProgressBar bar("encrypt", 1000, !a->json);
      kh.encrypt_to_file(cells, model_id, a->out, &st, progress_ticker(bar));
      bar.finish();
    }
    nlohmann::json j = {{"out", a->out},          {"cells", cells.size()}, {"layout", nn::to_string(kh.layout())},
                        {"scheme", kh.scheme()},
                        {"batches", st.batches},  {"bytes", st.bytes},
                        {"bytes_per_cell", double(st.bytes) / cells.size()},
                        {"encode_seconds", st.encode_seconds}, {"encrypt_seconds", st.encrypt_seconds}};
    if (a->json) return print_json(j);
    std::cout << "encrypted " << cells.size() << " cell(s) in " << st.batches
              << (kh.layout() == nn::Layout::kLatency ? " ciphertext(s) per prime (latency layout)" : " batch(es)")
              << " -> " << a->out << " ("
              << human_bytes(double(st.bytes)) << ", " << human_bytes(double(st.bytes) / cells.size())
              << " per cell; encrypt " << std::fixed << std::setprecision(2) << st.encode_seconds + st.encrypt_seconds
              << " s)\n";
  });
}

void register_infer(CLI::App& root) {
  struct Args {
    std::string model, params, eval, in, out, scheme = "auto";
    bool json = false, insecure = false, no_circuit_privacy = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = root.add_subcommand("infer", "Provider, offline: run the encrypted model on a request (no secret key)");
  cmd->add_option("--model", a->model, "Model file")->required();
  cmd->add_option("--params", a->params, "params.json (default: the parameters recorded in eval.key)");
  cmd->add_option("--eval-key", a->eval, "eval.key from the key holder")->required();
  cmd->add_option("--in", a->in, "Request (.lcx)")->required();
  cmd->add_option("--out", a->out, "Result (.lcx)")->required();
  cmd->add_flag("--json", a->json, "Machine-readable output");
  add_insecure_flag(cmd, a->insecure);
  add_no_circuit_privacy_flag(cmd, a->no_circuit_privacy);
  add_scheme_option(cmd, a->scheme, "the parameters");
  cmd->callback([a] {
    auto keys = read_file(a->eval);
    service::HeRunnerOptions o{a->model, a->params, {}, a->insecure, !a->no_circuit_privacy, {}};
    if (a->params.empty()) {
      auto v = wire::parse_as(keys, wire::Kind::kEvalKeys, a->eval);
      o.params_json = nlohmann::json::parse(v.meta, nullptr, false);
    }
    {
      const auto doc = a->params.empty() ? o.params_json : read_json_file(a->params);
      require_scheme_matches(a->scheme, nn::is_ckks_document(doc) ? "ckks" : "bfv",
                             a->params.empty() ? "the parameters in '" + a->eval + "'" : "--params '" + a->params + "'");
    }
    auto runner = service::make_he_runner(o);
    warn_insecure_card(runner->model_card());
    auto request = wire::ContainerFile::open(a->in, a->in);
    Timer t;
    auto key = runner->inspect_keys(keys);
    auto info = runner->inspect_request(request, key);
    double validate_s = t.seconds();
    ProgressBar bar("infer", 1000, !a->json);
    std::size_t shown = 0;
    auto out = runner->run(keys, request, [&](double f) {
      auto now = static_cast<std::size_t>(f * 1000);
      if (now > shown) bar.tick(now - shown), shown = now;
    });
    bar.finish();
    write_file_atomic(a->out, out.result);
    nlohmann::json stages = nlohmann::json::object();
    for (auto& [k, s] : out.stages) stages[k] = s;
    nlohmann::json j = {{"out", a->out},
                        {"cells", info.cells},
                        {"validate_seconds", validate_s},
                        {"seconds", t.seconds() - validate_s},
                        {"stages", stages},
                        {"request_bytes", request.file_size()},
                        {"result_bytes", out.result.size()},
                        {"result_bytes_per_cell", double(out.result.size()) / info.cells}};
    if (a->json) return print_json(j);
    std::cout << "inferred " << info.cells << " cell(s) in " << std::fixed << std::setprecision(2)
              << t.seconds() - validate_s << " s (validation " << validate_s << " s) -> " << a->out << " ("
              << human_bytes(double(out.result.size())) << ", "
              << human_bytes(double(out.result.size()) / info.cells) << " per cell)\n";
  });
}

void register_decrypt(CLI::App& root) {
  struct Args {
    std::string keys, in, scheme = "auto";
    bool json = false, insecure = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = root.add_subcommand("decrypt", "Key holder: decrypt a result into per-cell labels and probabilities");
  cmd->add_option("--keys", a->keys, "Key directory")->required();
  cmd->add_option("--in", a->in, "Result (.lcx)")->required();
  add_scheme_option(cmd, a->scheme, "the keys");
  cmd->add_flag("--json", a->json, "Machine-readable output");
  add_insecure_flag(cmd, a->insecure);
  cmd->footer("Security (CKKS keys, --scheme ckks): CKKS decryptions are approximate and reveal information "
              "about the secret key to whoever also holds the ciphertexts (Li-Micciancio 2021). Never return "
              "decrypted CKKS results to the provider; keep them with the key holder (docs/API.md, Security). "
              "Model privacy: CKKS results are flooded when the provider's parameters carry a flood "
              "(circuit privacy, the default of `params --scheme ckks` and serve); a provider running "
              "--no-circuit-privacy returns unflooded results whose decrypted error may say more about the "
              "model than the logits.");
  cmd->callback([a] {
    auto kh = open_keys(a->keys, a->insecure, a->scheme);
    client::DecryptStats st;
    auto cells = kh.decrypt(read_file(a->in), &st);
    if (a->json)
      return print_json({{"cells", cells_json(cells)}, {"decrypt_seconds", st.decrypt_seconds + st.decode_seconds}});
    print_cells(cells);
  });
}

// The API token: --token-file (refused when group or others can read it), --token (warned: ps
// shows it), else $LEUKOCRYPT_TOKEN.
std::string screen_token(const std::string& token, const std::string& token_file) {
  require(token.empty() || token_file.empty(), "give --token or --token-file, not both");
  if (!token_file.empty()) {
    require_private_file(token_file);
    auto t = read_file(token_file, 4096);
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
    require(!t.empty() && t.find_first_of(" \t\r\n") == std::string::npos,
            "token file '" + token_file + "' must hold one token on one line");
    return t;
  }
  if (!token.empty()) {
    std::cerr << "leukocrypt: warning: --token is visible to other users in ps; use --token-file (mode 0600)\n";
    return token;
  }
  const char* env = std::getenv("LEUKOCRYPT_TOKEN");
  return env ? env : "";
}

void register_screen(CLI::App& root) {
  struct Args {
    std::string server, token, token_file, ca_file, keys, work_dir, layout = "auto", scheme = "auto";
    CellSource src;
    int timeout = 3600;
    bool json = false, insecure = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = root.add_subcommand("screen", "Key holder: encrypt cells, screen them on a server, decrypt the result");
  cmd->add_option("--server", a->server, "Server URL, e.g. http://127.0.0.1:8080")->required();
  cmd->add_option("--token-file", a->token_file, "File holding the API token (mode 0600; default: $LEUKOCRYPT_TOKEN)");
  cmd->add_option("--token", a->token, "API token on the command line (visible in ps: prefer --token-file)");
  cmd->add_option("--ca-file", a->ca_file, "https: CA certificate(s) (PEM) the server's certificate must chain to "
                                           "(default: the system's trusted CAs)");
  cmd->add_option("--keys", a->keys, "Key directory")->required();
  add_cell_options(cmd, a->src);
  cmd->add_option("--timeout", a->timeout, "Seconds to wait for the result")->capture_default_str();
  cmd->add_option("--work-dir", a->work_dir, "Where the request is staged before upload (default: $TMPDIR or /tmp)");
  add_layout_option(cmd, a->layout);
  add_scheme_option(cmd, a->scheme, "the keys");
  cmd->add_flag("--json", a->json, "Machine-readable output");
  add_insecure_flag(cmd, a->insecure);
  cmd->callback([a] {
    ::signal(SIGPIPE, SIG_IGN);  // a server that closes mid-upload is an error message, not a silent death
    client::ClientOptions copt;
    copt.ca_file = a->ca_file;
    client::ServiceClient sc(a->server, screen_token(a->token, a->token_file), copt);
    client::KeyPaths paths(a->keys);
    auto kh = open_keys(a->keys, a->insecure, a->scheme);
    Timer total;
    auto card = sc.model_card();
    const std::string server_scheme = card.value("scheme", "bfv");
    if (server_scheme != kh.scheme())
      throw InvalidArgument("keys in '" + a->keys + "' are " + kh.scheme() + " keys, the server runs " + server_scheme +
                            "; run: curl <server>/v1/model > model.json; leukocrypt keygen --params model.json");
    if (card.value("params_id", "") != std::to_string(kh.params_id()))
      throw InvalidArgument("keys in '" + a->keys + "' are for parameters " + std::to_string(kh.params_id()) +
                            ", the server runs " + card.value("params_id", "?") +
                            "; run: curl <server>/v1/model > model.json; leukocrypt keygen --params model.json");
    int size = card.contains("input") ? card["input"].value("height", kh.image_size()) : kh.image_size();
    auto cells = load_cells(a->src, size);
    choose_screen_layout(kh, a->layout, card);
    // Keys are registered once per key: eval.key (with Galois keys, hundreds of MB) goes up only
    // when the server does not hold it yet.
    const auto eval_size = std::filesystem::file_size(paths.eval);
    const bool registered = sc.key_registered(kh.key_id());
    if (!registered) {
      // Streamed from the file (a latency eval.key for 100 cells is 2.3 GB): the envelope and its
      // kind are checked first without reading the blobs.
      auto eval_file = wire::ContainerFile::open(paths.eval, paths.eval.string());
      if (eval_file.kind() != wire::Kind::kEvalKeys)
        throw FormatError("'" + paths.eval.string() + "' is a " + wire::to_string(eval_file.kind()) +
                          " container, not evaluation keys");
      sc.register_keys_file(paths.eval);
    }
    Timer t;
    // The request goes to a temporary file (encrypted a slice at a time) and is streamed from
    // there: neither side holds a multi-gigabyte request in memory.
    std::filesystem::path work = a->work_dir.empty() ? std::filesystem::temp_directory_path()
                                                     : std::filesystem::path(a->work_dir);
    auto request_path = work / ("leukocrypt-request-" + wire::random_id().substr(0, 12) + ".lcx");
    struct Remove {
      std::filesystem::path p;
      ~Remove() {
        std::error_code ec;
        std::filesystem::remove(p, ec);
      }
    } remove_request{request_path};
    client::EncryptStats est;
    {
      ProgressBar bar("encrypt", 1000, !a->json);
      kh.encrypt_to_file(cells, card.value("model_id", ""), request_path, &est, progress_ticker(bar));
      bar.finish();
    }
    const std::uint64_t request_bytes = est.bytes;
    double encrypt_s = t.seconds();
    t.reset();
    std::string job;
    {
      ProgressBar bar("upload", 1000, !a->json);
      auto tick = progress_ticker(bar);
      job = sc.submit_file(request_path, [&](std::uint64_t sent, std::uint64_t total) {
        tick(static_cast<std::size_t>(sent >> 10), static_cast<std::size_t>(total >> 10));
      });
      bar.finish();
    }
    double upload_s = t.seconds();
    std::filesystem::remove(request_path);
    t.reset();
    ProgressBar bar("screen", 1000, !a->json);
    std::size_t shown = 0;
    auto status = sc.wait(job, std::chrono::seconds(a->timeout), [&](const nlohmann::json& s) {
      auto now = static_cast<std::size_t>(s.value("progress", 0.0) * 1000);
      if (now > shown) bar.tick(now - shown), shown = now;
    });
    bar.finish();
    double wait_s = t.seconds();
    t.reset();
    auto result = sc.result(job);
    double download_s = t.seconds();
    client::DecryptStats dst;
    auto out = kh.decrypt(result, &dst);
    nlohmann::json j = {
        {"server", a->server},
        {"job_id", job},
        {"model_id", card.value("model_id", "")},
        {"scheme", kh.scheme()},
        {"cells", cells_json(out)},
        {"layout", nn::to_string(kh.layout())},
        {"bytes_sent", request_bytes + (registered ? 0 : eval_size)},
        {"bytes_request", request_bytes},
        {"bytes_eval_key", eval_size},
        {"eval_key_uploaded", !registered},
        {"bytes_received", result.size()},
        {"bytes_sent_per_cell", double(request_bytes) / out.size()},
        {"bytes_received_per_cell", double(result.size()) / out.size()},
        {"seconds",
         {{"encrypt", encrypt_s}, {"upload", upload_s}, {"server_wait", wait_s}, {"download", download_s},
          {"decrypt", dst.decrypt_seconds + dst.decode_seconds}, {"total", total.seconds()}}},
        {"server_receive_seconds", sc.last_submit().value("receive_seconds", 0.0)},
        {"server_validate_seconds",  // the full check runs after the 202, on the validation threads
         status.value("timings", nlohmann::json::object()).value("stages", nlohmann::json::object()).value("validate", 0.0)},
        {"server_timings", status.value("timings", nlohmann::json::object())}};
    if (a->json) return print_json(j);
    print_cells(out);
    std::cout << "sent " << human_bytes(double(request_bytes)) << " (" << human_bytes(double(request_bytes) / out.size())
              << "/cell, " << nn::to_string(kh.layout()) << " layout; eval.key " << human_bytes(double(eval_size))
              << (registered ? " already registered" : " registered now") << "), received "
              << human_bytes(double(result.size())) << " (" << human_bytes(double(result.size()) / out.size())
              << "/cell); encrypt " << std::fixed << std::setprecision(2) << encrypt_s << " s, server " << wait_s
              << " s, total " << total.seconds() << " s\n";
  });
}

#endif

void register_client(CLI::App& root) {
#ifdef LC_HAVE_CLIENT
  register_keygen(root);
  register_encrypt(root);
  register_infer(root);
  register_decrypt(root);
  register_screen(root);
#else
  (void)root;
#endif
}

const CommandRegistrar kRegistrar(700, register_client);

}  // namespace
}  // namespace leukocrypt::cli
