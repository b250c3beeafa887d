// The scheme-independent parts of the two HE runners (he_job_runner.cpp: BFV,
// ckks_job_runner.cpp: CKKS): loading the served model, the model card's shared fields, the
// envelope checks of key uploads and requests, the result container's header and the run's
// stages and sizes. Kept in one place so that both schemes give clients the same answers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nn/model.h"
#include "nn/plan.h"
#include "nn/quantize.h"
#include "service/he_job_runner.h"
#include "service/job_runner.h"
#include "service/wire/container.h"

namespace leukocrypt::service {

// The model's metrics without anything per patient or per cell (the card is public).
nlohmann::json public_metrics(const nlohmann::json& metrics);
// Quantisation options the parameters were chosen for (params.json, else the model's metadata).
nn::QuantizeOptions find_quantize_options(const nlohmann::json& params, const nn::Model& model);

// The served model lowered to its plan, with the id clients name it by.
struct ServedModel {
  nn::Model model;
  nn::QuantizeOptions quantize;
  nn::Plan plan;
  std::string model_id;  // "<name>-<12 hex digits of the model file and quantisation>"
};
// Loads options.model, checks that the parameters were chosen for it (nn::check_params_match_model)
// and lowers it with the parameters' quantisation.
ServedModel load_served_model(const HeRunnerOptions& options, const nlohmann::json& params_json,
                              const std::string& params_what);

// The model card fields both schemes share; the runner adds the scheme's own (scheme, params,
// input_scale, slots_per_batch, circuit_privacy, layouts).
nlohmann::json common_card(const ServedModel& served);

// Throws FormatError naming the scheme a key bundle's or request's meta is for, when wrong.
using SchemeCheck = void (*)(const std::string& meta, const std::string& what);

// A key upload's envelope: eval keys, a valid key id, the scheme, keys made for `params_id`.
wire::ContainerView open_key_upload(std::string_view bytes, std::uint64_t params_id, SchemeCheck check_scheme);

// A request's header against the registered key and the model: kind, key id, the scheme (when
// check_scheme is set), model id (an empty one means this model).
void check_request_header(const wire::ContainerHeader& h, const KeyInfo& key, const std::string& model_id,
                          SchemeCheck check_scheme);
RequestInfo request_info(const wire::ContainerHeader& h, const std::string& model_id);

// A result container for request `h`: its params, key, cells and names, and this model's id.
wire::Container result_container(const wire::ContainerHeader& h, const std::string& model_id);

// FormatError for a request ciphertext that is not fresh (qualifier: e.g. " at the default scale").
[[noreturn]] void throw_not_fresh(std::size_t idx, std::size_t size, std::size_t level, const std::string& qualifier = "");
// RefusedInput for a row of a request ciphertext that is not full-width (row_check.h says why).
[[noreturn]] void refuse_row(std::size_t idx, std::size_t poly, std::size_t prime, const std::string& why);
// InvalidArgument when the plan's evaluation returned another number of outputs than it has.
void check_output_count(std::size_t got, std::size_t expected);

// Stages of a streamed evaluation: evaluate_wall, circuit_privacy (when privacy_s is set),
// load_ciphertexts_thread_seconds, each plan step that took time, serialize_result.
struct StreamedSeconds {
  double evaluate_wall = 0, load_thread = 0, save = 0;
  std::optional<double> privacy;  // set when results were flooded
  std::vector<double> steps;      // per plan step
};
void add_streamed_stages(RunOutput& r, const nn::Plan& plan, const StreamedSeconds& s);
// One stage per plan step that took time, named after the step.
void add_step_stages(RunOutput& r, const nn::Plan& plan, const std::vector<double>& step_seconds);
// request_bytes, result_bytes and both per cell.
nlohmann::json byte_info(const wire::ContainerFile& request, std::size_t result_bytes);

}  // namespace leukocrypt::service
