// The scheme-independent parts of the HE runners (see runner_parts.h).
#include "service/runner_parts.h"

#include <algorithm>

#include "common/error.h"
#include "common/paths.h"
#include "nn/params_check.h"
#include "service/wire/he_layout.h"

namespace leukocrypt::service {

// Quantisation the parameters were chosen for: params.json "quantization"/"quantize", else the
// model's metadata (written by `export`), else the defaults. Either the options themselves or a
// QuantizeChoice object holding them under "options".
nn::QuantizeOptions find_quantize_options(const nlohmann::json& params, const nn::Model& model) {
  auto from = [](const nlohmann::json& q) {
    return nn::QuantizeOptions::from_json(q.contains("options") && q["options"].is_object() ? q["options"] : q);
  };
  for (const auto* src : {&params, &model.metadata})
    if (src->is_object())
      for (const char* key : {"quantization", "quantize"})
        if (src->contains(key) && (*src)[key].is_object()) return from((*src)[key]);
  return {};
}

// The model's metrics without anything per patient or per cell: the card is public, and the
// training/validation patients' results must not be published with it.
nlohmann::json public_metrics(const nlohmann::json& m) {
  if (m.is_array()) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& v : m) a.push_back(public_metrics(v));
    return a;
  }
  if (!m.is_object()) return m;
  nlohmann::json o = nlohmann::json::object();
  for (auto it = m.begin(); it != m.end(); ++it) {
    const auto& k = it.key();
    if (k.rfind("per_subject", 0) == 0 || k.rfind("per_patient", 0) == 0 || k.rfind("per_cell", 0) == 0 ||
        k == "subjects" || k == "patients" || k == "predictions" || k == "cells")
      continue;
    o[k] = public_metrics(it.value());
  }
  return o;
}

ServedModel load_served_model(const HeRunnerOptions& o, const nlohmann::json& params_json,
                              const std::string& params_what) {
  ServedModel s;
  const auto model_bytes = read_file(o.model);
  s.model = nn::load_model(o.model);
  nn::check_params_match_model(params_json, model_bytes, params_what, o.model.string());
  s.quantize = find_quantize_options(params_json, s.model);
  s.plan = nn::lower(nn::quantize(nn::collapse_linear(s.model), s.quantize));
  // The quantisation is part of the id: the same file quantised otherwise computes other logits.
  s.model_id = s.model.name + "-" + wire::fnv1a_hex(model_bytes + s.quantize.to_json().dump()).substr(0, 12);
  return s;
}

nlohmann::json common_card(const ServedModel& s) {
  const auto& m = s.model;
  return {{"api_version", 1},
          {"model_id", s.model_id},
          {"name", m.name},
          {"variant", m.variant},
          {"version", m.metadata.value("version", s.model_id)},
          {"input", {{"channels", m.input.c}, {"height", m.input.h}, {"width", m.input.w}}},
          {"classes", m.classes},
          {"plan", s.plan.counts().to_json()},
          {"metrics", public_metrics(m.metadata.value("metrics", nlohmann::json::object()))}};
}

wire::ContainerView open_key_upload(std::string_view bytes, std::uint64_t params_id, SchemeCheck check_scheme) {
  auto v = wire::parse_as(bytes, wire::Kind::kEvalKeys, "key upload");
  if (!wire::is_valid_id(v.key_id)) throw FormatError("key upload: key id '" + v.key_id + "' is not a valid id");
  check_scheme(v.meta, "key upload");
  if (v.params_id != params_id)
    throw FormatError("key upload: keys were made for parameters " + std::to_string(v.params_id) +
                      ", but this model runs with " + std::to_string(params_id) +
                      " (GET /v1/model shows them; re-run keygen with them)");
  return v;
}

void check_request_header(const wire::ContainerHeader& h, const KeyInfo& key, const std::string& model_id,
                          SchemeCheck check_scheme) {
  if (h.kind != wire::Kind::kRequest)
    throw FormatError(std::string("request: holds ") + wire::to_string(h.kind) + ", expected request");
  if (h.key_id != key.key_id) throw FormatError("request: key id '" + h.key_id + "' does not match '" + key.key_id + "'");
  if (check_scheme) check_scheme(h.meta, "request");
  if (!h.model_id.empty() && h.model_id != model_id)
    throw FormatError("request: made for model '" + h.model_id + "', this server runs '" + model_id + "'");
}

RequestInfo request_info(const wire::ContainerHeader& h, const std::string& model_id) {
  return {h.key_id, h.params_id, h.model_id.empty() ? model_id : h.model_id, h.cells};
}

wire::Container result_container(const wire::ContainerHeader& h, const std::string& model_id) {
  wire::Container out;
  out.kind = wire::Kind::kResult;
  out.params_id = h.params_id;
  out.key_id = h.key_id;
  out.model_id = model_id;
  out.cells = h.cells;
  out.names = h.names;
  return out;
}

void throw_not_fresh(std::size_t idx, std::size_t size, std::size_t level, const std::string& qualifier) {
  throw FormatError("request: ciphertext " + std::to_string(idx) + " is not a fresh ciphertext" + qualifier +
                    " (size " + std::to_string(size) + ", level " + std::to_string(level) + ")");
}

void refuse_row(std::size_t idx, std::size_t poly, std::size_t prime, const std::string& why) {
  throw RefusedInput("request: ciphertext " + std::to_string(idx) + " (polynomial " + std::to_string(poly) +
                     ", prime " + std::to_string(prime) + ") is not a fresh encryption: " + why);
}

void check_output_count(std::size_t got, std::size_t expected) {
  if (got != expected)
    throw InvalidArgument("plan produced " + std::to_string(got) + " outputs, expected " + std::to_string(expected));
}

void add_step_stages(RunOutput& r, const nn::Plan& plan, const std::vector<double>& step_seconds) {
  for (std::size_t s = 0; s < step_seconds.size() && s < plan.steps.size(); ++s)
    if (step_seconds[s] > 0) r.stages.emplace_back(plan.steps[s].name, step_seconds[s]);
}

void add_streamed_stages(RunOutput& r, const nn::Plan& plan, const StreamedSeconds& s) {
  r.stages.emplace_back("evaluate_wall", s.evaluate_wall);
  if (s.privacy) r.stages.emplace_back("circuit_privacy", *s.privacy);
  r.stages.emplace_back("load_ciphertexts_thread_seconds", s.load_thread);
  add_step_stages(r, plan, s.steps);
  r.stages.emplace_back("serialize_result", s.save);
}

nlohmann::json byte_info(const wire::ContainerFile& f, std::size_t result_bytes) {
  const double cells = f.header().cells;
  return {{"request_bytes", f.file_size()},
          {"result_bytes", result_bytes},
          {"request_bytes_per_cell", double(f.file_size()) / cells},
          {"result_bytes_per_cell", double(result_bytes) / cells}};
}

}  // namespace leukocrypt::service
