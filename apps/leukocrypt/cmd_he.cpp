// `leukocrypt he-params`: the HomomorphicEncryption.org 128-bit table and the BFV parameter set
// (primes, log2 q, noise budget estimate of a fresh ciphertext) for a ring degree and plaintext
// modulus.
#include "command.h"

#ifdef LEUKOCRYPT_HAVE_LC_HE
#include <cmath>
#include <iostream>

#include "he/bfv/context.h"
#include "he/bfv/noise_model.h"
#include "he/bfv/params.h"

namespace leukocrypt::cli {
namespace {

void register_he(CLI::App& root) {
  auto* cmd = root.add_subcommand("he-params", "Show the 128-bit security table and a BFV parameter set");
  auto n = std::make_shared<std::size_t>(8192);
  auto t = std::make_shared<std::uint64_t>(957181001729ULL);
  auto json = std::make_shared<bool>(false);
  cmd->add_option("--n", *n, "Ring degree N (2048..32768)")->capture_default_str();
  cmd->add_option("--t", *t, "Plaintext modulus t (prime = 1 mod 2N for batching)")->capture_default_str();
  cmd->add_flag("--json", *json, "Machine-readable output");
  cmd->callback([n, t, json] {
    {
      bfv::Params p = bfv::Params::default_for(*n, *t);
      bfv::Context ctx(p);
      bfv::NoiseModel model(p);
      const double fresh = bfv::NoiseModel::noise_budget_bits(model.fresh_public());
      nlohmann::json j;
      j["params"] = nlohmann::json::parse(p.to_json());
      j["aux_primes_for_multiply"] = ctx.level(p.max_level()).aux_count;
      j["fresh_budget_bits_worst_case"] = std::floor(fresh);
      nlohmann::json table = nlohmann::json::array();
      for (std::size_t m = 1024; m <= 32768; m *= 2)
        table.push_back({{"n", m}, {"max_log2_qp", bfv::Params::max_secure_bits(m)}});
      j["security_table_128bit_ternary"] = table;
      if (*json) {
        print_json(j);
        return;
      }
      std::cout << "HomomorphicEncryption.org 128-bit table (ternary secret): max log2(q*p)\n";
      for (const auto& row : table) std::cout << "  N=" << row["n"] << ": " << row["max_log2_qp"] << "\n";
      std::cout << "BFV N=" << p.n() << ", t=" << p.t() << (p.supports_batching() ? " (batching)" : " (no batching)")
                << "\n  ciphertext primes:";
      for (auto q : p.q()) std::cout << " " << q;
      std::cout << "\n  special prime: " << p.special_prime() << "\n  log2 q = " << p.log2_q()
                << ", log2(q*p) = " << p.log2_qp() << " <= " << bfv::Params::max_secure_bits(p.n())
                << "\n  fresh noise budget (worst-case bound): " << std::floor(fresh) << " bits\n";
    }
  });
}

const CommandRegistrar kRegistrar(350, register_he);

}  // namespace
}  // namespace leukocrypt::cli
#endif
