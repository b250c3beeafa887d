// BfvSettings validation and JSON form.
#include "nn/bfv_settings.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "he/bfv/keys.h"
#include "he/math/primes.h"

namespace leukocrypt::nn {

void BfvSettings::validate() const {
  const std::size_t min_n = 16;  // below 1024 only with insecure_for_tests (check_security)
  require(n >= min_n && n <= 32768 && (n & (n - 1)) == 0,
          "BFV settings: N = " + std::to_string(n) + " must be a power of two in [" + std::to_string(min_n) + ", 32768]");
  require(special_primes >= 1 && special_primes <= 20, "BFV settings: special_primes = " +
                                                           std::to_string(special_primes) + " not in [1, 20]");
  require(q_bits.size() >= special_primes + 1 && q_bits.size() <= 40,
          "BFV settings: need at least one ciphertext prime and " + std::to_string(special_primes) +
              " special prime(s) (got " + std::to_string(q_bits.size()) + " sizes)");
  for (int b : q_bits) require(b >= 20 && b <= 60, "BFV settings: ciphertext prime size " + std::to_string(b) + " not in [20, 60] bits");
  if (special_primes > 1)
    for (int b : q_bits)
      require(b <= 50, "BFV settings: with " + std::to_string(special_primes) +
                           " special primes every prime must have at most 50 bits (got " + std::to_string(b) + ")");
  require(!plain_primes.empty() && plain_primes.size() <= 4, "BFV settings: need 1 to 4 plaintext primes");
  require(!(layout == Layout::kLatency && defer_relin),
          "BFV settings: the latency layout cannot defer relinearisation (rotations need size-2 ciphertexts)");
  for (std::size_t j = 0; j < plain_primes.size(); ++j) {
    const auto t = plain_primes[j];
    require(t > 2 && t < (std::uint64_t(1) << 60) && he::is_prime(t),
            "BFV settings: plaintext modulus " + std::to_string(t) + " is not a prime below 2^60");
    require(t % (2 * n) == 1, "BFV settings: plaintext prime " + std::to_string(t) + " is not 1 mod 2N = " +
                                  std::to_string(2 * n) + " (no batching slots)");
    for (std::size_t k = 0; k < j; ++k)
      require(plain_primes[k] != t, "BFV settings: plaintext prime " + std::to_string(t) + " repeated");
  }
  require(log2_plain() < 126.5, "BFV settings: product of the plaintext primes exceeds 2^126");
  require(blocks >= 1 && blocks <= 64, "BFV settings: blocks = " + std::to_string(blocks) + " not in [1, 64]");
  require(blocks == 1 || layout == Layout::kThroughput, "BFV settings: blocks are a throughput-layout option");
  require(cells_per_batch() >= 1, "BFV settings: " + std::to_string(blocks) + " blocks leave no slot per block at N = " +
                                      std::to_string(n));
  for (auto l : mod_switch_levels)
    require(l <= levels(), "BFV settings: mod-switch level " + std::to_string(l) + " above the " +
                               std::to_string(levels()) + " ciphertext primes");
}

double BfvSettings::log2_plain() const {
  double s = 0;
  for (auto t : plain_primes) s += std::log2(double(t));
  return s;
}

namespace {

// log2(q*p) of the primes Params::create picks: the largest p = 1 (mod 2N) below 2^b for each size.
double log2_qp_upper(const std::vector<int>& q_bits) {
  double s = 0;
  for (int b : q_bits) s += b;
  return s;
}

}  // namespace

bool BfvSettings::meets_128_bits() const {
  const int max_bits = bfv::Params::max_secure_bits(n);
  if (max_bits == 0) return false;
  // Exact check on the actual primes when the bit-size sum is at the limit.
  if (log2_qp_upper(q_bits) <= max_bits) return true;
  try {
    return bfv::Params::create(n, q_bits, plain_primes.empty() ? 2 : plain_primes.front(), bfv::Security::k128,
                               special_primes)
               .log2_qp() <= max_bits;
  } catch (const Error&) {
    return false;
  }
}

void BfvSettings::check_security() const {
  if (insecure_for_tests || meets_128_bits()) return;
  const int max_bits = bfv::Params::max_secure_bits(n);
  throw SecurityError("parameters below 128-bit security: N = " + std::to_string(n) + ", log2(q*p) ~ " +
                      std::to_string(static_cast<int>(log2_qp_upper(q_bits))) + " bits" +
                      (max_bits ? " > " + std::to_string(max_bits) + " allowed"
                                : " (N is not in the 128-bit table, 1024..32768)") +
                      "; the security level is never taken from a document: pass --insecure-for-tests explicitly "
                      "(tests only, never with patient data)");
}

std::vector<bfv::Params> BfvSettings::params() const {
  validate();
  check_security();
  const auto level = meets_128_bits() ? bfv::Security::k128 : bfv::Security::kInsecureForTests;
  std::vector<bfv::Params> out;
  for (auto t : plain_primes) out.push_back(bfv::Params::create(n, q_bits, t, level, special_primes));
  return out;
}

nlohmann::json BfvSettings::to_json() const {
  nlohmann::json t = nlohmann::json::array();
  for (auto p : plain_primes) t.push_back(std::to_string(p));  // decimal strings: exact in every JSON reader
  nlohmann::json j{{"n", n},
                   {"q_bits", q_bits},
                   {"special_primes", special_primes},
                   {"plain_primes", t},
                   {"mod_switch_levels", mod_switch_levels},
                   {"defer_relinearization", defer_relin},
                   {"layout", to_string(layout)},
                   {"security", meets_128_bits() ? "128" : "insecure-for-tests"}};  // informational
  if (blocks > 1) j["blocks"] = blocks;  // older readers keep the documents they wrote
  return j;
}

BfvSettings BfvSettings::from_json(const nlohmann::json& j, bool allow_insecure_for_tests) {
  BfvSettings s;
  try {
    if (!j.is_object()) throw FormatError("BFV settings: not a JSON object");
    s.n = j.at("n").get<std::size_t>();
    s.q_bits = j.at("q_bits").get<std::vector<int>>();
    if (j.contains("special_primes")) s.special_primes = j.at("special_primes").get<std::size_t>();
    for (const auto& v : j.at("plain_primes")) {
      if (v.is_string()) {
        const std::string str = v.get<std::string>();
        if (str.empty() || str.size() > 19 || str.find_first_not_of("0123456789") != std::string::npos)
          throw FormatError("BFV settings: plaintext prime '" + str + "' is not a decimal integer < 2^60");
        s.plain_primes.push_back(std::stoull(str));
      } else {
        s.plain_primes.push_back(v.get<std::uint64_t>());
      }
    }
    if (j.contains("mod_switch_levels")) s.mod_switch_levels = j.at("mod_switch_levels").get<std::vector<std::size_t>>();
    if (j.contains("defer_relinearization")) s.defer_relin = j.at("defer_relinearization").get<bool>();
    if (j.contains("blocks")) s.blocks = j.at("blocks").get<std::size_t>();
    // Informational only (see from_json in the header): checked for spelling, never obeyed.
    if (j.contains("layout")) {
      const std::string l = j.at("layout").get<std::string>();
      if (l != "throughput" && l != "latency")
        throw FormatError("BFV settings: layout '" + l + "', expected throughput or latency");
      s.layout = layout_from_string(l);
    }
    const std::string sec = j.value("security", "128");
    if (sec != "128" && sec != "insecure-for-tests") throw FormatError("BFV settings: unknown security '" + sec + "'");
    s.insecure_for_tests = allow_insecure_for_tests;
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(std::string("BFV settings: missing or mistyped field (") + e.what() + ")");
  }
  try {
    s.validate();
  } catch (const InvalidArgument& e) {
    throw FormatError(e.what());
  }
  s.check_security();
  return s;
}

bool needs_blocking(const Plan& plan, const BfvSettings& settings) {
  return settings.layout == Layout::kThroughput && settings.blocks > 1 &&
         !(plan.blocks.count == settings.blocks && plan.blocks.n == settings.n);
}

std::vector<std::uint32_t> block_sum_galois_elts(const BlockLayout& blocks) {
  std::vector<std::uint32_t> elts;
  for (int step : blocks.rotation_steps()) elts.push_back(bfv::galois_elt_for_step(step, blocks.n));
  if (blocks.swaps()) elts.push_back(bfv::galois_elt_for_columns(blocks.n));
  std::sort(elts.begin(), elts.end());
  return elts;
}

Plan plan_for(const Plan& plan, const BfvSettings& settings) {
  if (settings.layout == Layout::kThroughput)
    return needs_blocking(plan, settings) ? to_blocked(plan, settings.n, settings.blocks) : plan;
  if (plan.layout == Layout::kLatency && plan.slots.n == settings.n) return plan;
  return to_latency(plan, settings.n);
}

}  // namespace leukocrypt::nn
