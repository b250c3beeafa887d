// `leukocrypt primes`: NTT-friendly primes p = 1 (mod 2^(log_n+1)), the first K at or above
// 2^bits (bits may be fractional; the CryptoNets plaintext primes are --bits 39.8 --log-n 14),
// or with --below the largest K below 2^bits (ciphertext moduli).
#include <cmath>
#include <iostream>
#include <memory>

#include "command.h"
#include "common/error.h"
#include "he/math/primes.h"

namespace leukocrypt::cli {
namespace {

struct PrimesOptions {
  double bits = 0;
  int log_n = 0;
  std::size_t count = 1;
  bool below = false;
  bool json = false;
};

void run_primes(const PrimesOptions& o) {
  std::vector<std::uint64_t> primes;
  if (o.below) {
    require(o.bits == std::floor(o.bits), "--bits must be an integer with --below");
    primes = he::ntt_primes_below(static_cast<int>(o.bits), o.log_n, o.count);
  } else {
    primes = he::ntt_primes(o.bits, o.log_n, o.count);
  }
  if (o.json) {
    nlohmann::json j;
    j["bits"] = o.bits;
    j["log_n"] = o.log_n;
    j["count"] = o.count;
    j["below"] = o.below;
    j["primes"] = primes;
    nlohmann::json bits = nlohmann::json::array();
    for (std::uint64_t p : primes) bits.push_back(std::log2(static_cast<double>(p)));
    j["log2"] = bits;
    print_json(j);
  } else {
    for (std::uint64_t p : primes) std::cout << p << "\n";
  }
}

void register_primes(CLI::App& root) {
  auto* cmd = root.add_subcommand(
      "primes", "Print NTT-friendly primes p = 1 mod 2^(log_n+1) at or above 2^bits");
  auto o = std::make_shared<PrimesOptions>();
  cmd->add_option("--bits", o->bits, "Lower bound 2^bits (fractional allowed), or upper with --below")
      ->required();
  cmd->add_option("--log-n", o->log_n, "log2 of the ring degree N (primes are 1 mod 2N)")->required();
  cmd->add_option("--count", o->count, "How many primes")->default_val(1);
  cmd->add_flag("--below", o->below, "The largest primes below 2^bits, descending");
  cmd->add_flag("--json", o->json, "Machine-readable output");
  cmd->callback([o] { run_primes(*o); });
}

const CommandRegistrar kRegistrar(300, register_primes);

}  // namespace
}  // namespace leukocrypt::cli
