#include "gpu/gpu_profile.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

namespace chatscale {
namespace {

using Json = nlohmann::ordered_json;  // keeps the file's order of measured points

// Reads typed fields of one JSON object, each error as "file: path.field: problem".
class Fields {
 public:
  Fields(const std::string& file, const Json& object, std::string path)
      : file_(file), object_(object), path_(std::move(path)) {}

  Status error(std::string_view field, std::string_view problem) const {
    return invalid_argument(file_ + ": " + child(field) + ": " + std::string(problem));
  }
  std::string child(std::string_view field) const {
    return path_.empty() ? std::string(field) : path_ + "." + std::string(field);
  }
  bool has(std::string_view field) const { return object_.contains(field); }

  Result<const Json*> get(std::string_view field, Json::value_t type, std::string_view type_name) const {
    auto it = object_.find(field);
    if (it == object_.end()) return error(field, "missing required field");
    const bool number_ok = type == Json::value_t::number_float && it->is_number();
    const bool integer_ok = type == Json::value_t::number_unsigned && it->is_number_integer();
    if (it->type() != type && !number_ok && !integer_ok) return error(field, "must be " + std::string(type_name));
    return &*it;
  }
  Result<std::string> text(std::string_view field) const {
    CS_ASSIGN_OR_RETURN(const Json* v, get(field, Json::value_t::string, "a string"));
    return v->get<std::string>();
  }
  Result<double> positive_number(std::string_view field) const {
    CS_ASSIGN_OR_RETURN(const Json* v, get(field, Json::value_t::number_float, "a number"));
    const double x = v->get<double>();
    if (!(x > 0) || !std::isfinite(x)) return error(field, "must be a positive number");
    return x;
  }
  Result<std::int64_t> positive_integer(std::string_view field) const {
    CS_ASSIGN_OR_RETURN(const Json* v, get(field, Json::value_t::number_unsigned, "an integer"));
    const std::int64_t x = v->get<std::int64_t>();
    if (x <= 0) return error(field, "must be a positive integer");
    return x;
  }
  Result<const Json*> object(std::string_view field) const {
    CS_ASSIGN_OR_RETURN(const Json* v, get(field, Json::value_t::object, "an object"));
    if (v->empty()) return error(field, "must not be empty");
    return v;
  }
  // Overwrites `out` only when the optional field is present.
  Status optional_positive(std::string_view field, double scale, double& out) const {
    if (!has(field)) return Status::ok();
    CS_ASSIGN_OR_RETURN(double x, positive_number(field));
    out = x * scale;
    return Status::ok();
  }

 private:
  const std::string& file_;
  const Json& object_;
  std::string path_;
};

// "128" -> 128; anything but a positive decimal integer fails.
bool parse_count(std::string_view s, std::int64_t& out) {
  if (s.empty() || s.size() > 12) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return out > 0;
}

// "B16_C512" -> batch 16, context 512.
bool parse_decode_key(std::string_view key, std::int64_t& batch, std::int64_t& context) {
  const std::size_t sep = key.find("_C");
  if (key.size() < 5 || key[0] != 'B' || sep == std::string_view::npos) return false;
  return parse_count(key.substr(1, sep - 1), batch) && parse_count(key.substr(sep + 2), context);
}

// Reads one timing table ("prefill_layer_ms": {"128": 0.52, ...}) into points of `kind`.
Status read_table(const Fields& model, std::string_view field, CalibrationKind kind,
                  std::vector<CalibrationPoint>& points) {
  CS_ASSIGN_OR_RETURN(const Json* table, model.object(field));
  for (const auto& [key, value] : table->items()) {
    CalibrationPoint p;
    p.kind = kind;
    const std::string where = std::string(field) + "." + key;
    const bool key_ok = kind == CalibrationKind::kDecodeLayer ? parse_decode_key(key, p.batch, p.length)
                        : kind == CalibrationKind::kPrefillLayer ? parse_count(key, p.length)
                                                                 : parse_count(key, p.batch);
    if (!key_ok) {
      return model.error(where, kind == CalibrationKind::kDecodeLayer
                                    ? "key must read B<batch>_C<context>, e.g. B16_C512"
                                    : "key must be a positive integer");
    }
    if (!value.is_number() || !(value.get<double>() > 0) || !std::isfinite(value.get<double>())) {
      return model.error(where, "must be a positive number of milliseconds");
    }
    p.measured_ms = value.get<double>();
    points.push_back(p);
  }
  return Status::ok();
}

Result<ModelShape> read_shape(const Fields& model, const std::string& file, const std::string& name,
                              std::int64_t dtype_bytes) {
  CS_ASSIGN_OR_RETURN(const Json* shape_json, model.object("shape"));
  const Fields f(file, *shape_json, model.child("shape"));
  ModelShape s;
  s.name = name;
  s.dtype_bytes = dtype_bytes;
  CS_ASSIGN_OR_RETURN(s.hidden, f.positive_integer("hid"));
  CS_ASSIGN_OR_RETURN(s.heads, f.positive_integer("hq"));
  CS_ASSIGN_OR_RETURN(s.kv_heads, f.positive_integer("hkv"));
  CS_ASSIGN_OR_RETURN(s.head_dim, f.positive_integer("d"));
  CS_ASSIGN_OR_RETURN(s.ffn, f.positive_integer("ffn"));
  CS_ASSIGN_OR_RETURN(s.layers, f.positive_integer("layers"));
  CS_ASSIGN_OR_RETURN(s.vocab, f.positive_integer("vocab"));
  if (s.heads % s.kv_heads != 0) return f.error("hkv", "must divide hq (" + std::to_string(s.heads) + ")");
  return s;
}

Result<ProfiledModel> read_model(const std::string& file, const std::string& name, const Json& json,
                                 std::int64_t dtype_bytes) {
  if (!json.is_object()) return invalid_argument(file + ": models." + name + ": must be an object");
  const Fields model(file, json, "models." + name);
  ProfiledModel m;
  m.name = name;
  CS_ASSIGN_OR_RETURN(m.shape, read_shape(model, file, name, dtype_bytes));
  CS_RETURN_IF_ERROR(read_table(model, "prefill_layer_ms", CalibrationKind::kPrefillLayer, m.points));
  CS_RETURN_IF_ERROR(read_table(model, "decode_layer_ms", CalibrationKind::kDecodeLayer, m.points));
  CS_RETURN_IF_ERROR(read_table(model, "lm_head_ms", CalibrationKind::kLmHead, m.points));
  return m;
}

Result<GpuProfile> read_profile(const std::string& file, const Json& root) {
  if (!root.is_object()) return invalid_argument(file + ": the profile must be a JSON object");
  const Fields f(file, root, "");
  CS_ASSIGN_OR_RETURN(std::string format, f.text("format"));
  if (format != kGpuProfileFormat) {
    return f.error("format", "must be \"" + std::string(kGpuProfileFormat) + "\", got \"" + format + "\"");
  }
  GpuProfile p;
  p.source = file;
  CS_ASSIGN_OR_RETURN(p.gpu.name, f.text("gpu"));
  if (f.has("measured_with")) {
    CS_ASSIGN_OR_RETURN(p.measured_with, f.text("measured_with"));
  }
  CS_ASSIGN_OR_RETURN(double tbps, f.positive_number("hbm_copy_TBps"));
  CS_ASSIGN_OR_RETURN(double tflops, f.positive_number("gemm_8192_bf16_TFLOPs"));
  p.gpu.hbm_bytes_per_s = tbps * 1e12;
  p.gpu.dense_bf16_flops = tflops * 1e12;
  CS_RETURN_IF_ERROR(f.optional_positive("memory_GB", 1e9, p.gpu.memory_bytes));
  CS_RETURN_IF_ERROR(f.optional_positive("nvlink_GBps", 1e9, p.gpu.nvlink_bytes_per_s));
  CS_RETURN_IF_ERROR(f.optional_positive("allreduce_latency_us", 1e-6, p.gpu.allreduce_latency_s));
  std::int64_t dtype_bytes = 2;
  if (f.has("dtype_bytes")) {
    CS_ASSIGN_OR_RETURN(dtype_bytes, f.positive_integer("dtype_bytes"));
  }
  CS_ASSIGN_OR_RETURN(const Json* models, f.object("models"));
  for (const auto& [name, json] : models->items()) {
    CS_ASSIGN_OR_RETURN(ProfiledModel m, read_model(file, name, json, dtype_bytes));
    p.models.push_back(std::move(m));
  }
  return p;
}

}  // namespace

std::string CalibrationPoint::label() const {
  switch (kind) {
    case CalibrationKind::kPrefillLayer:
      return "prefill_layer_ms[" + std::to_string(length) + "]";
    case CalibrationKind::kDecodeLayer:
      return "decode_layer_ms[B" + std::to_string(batch) + "_C" + std::to_string(length) + "]";
    case CalibrationKind::kLmHead:
      return "lm_head_ms[" + std::to_string(batch) + "]";
  }
  return "?";
}

const ProfiledModel* GpuProfile::find_model(std::string_view name) const {
  for (const ProfiledModel& m : models) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

std::vector<std::string> GpuProfile::model_names() const {
  std::vector<std::string> names;
  for (const ProfiledModel& m : models) names.push_back(m.name);
  return names;
}

Result<GpuProfile> parse_gpu_profile(std::string_view json_text, const std::string& filename) {
  Json root;
  try {
    root = Json::parse(json_text);
  } catch (const Json::exception& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line 3, column 5: ..."
    std::string what = e.what();
    const std::size_t bracket = what.find("] ");
    if (bracket != std::string::npos) what = what.substr(bracket + 2);
    return invalid_argument(filename + ": not valid JSON: " + what);
  }
  return read_profile(filename, root);
}

Result<GpuProfile> load_gpu_profile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalid_argument(path + ": cannot open the file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_gpu_profile(text.str(), path);
}

}  // namespace chatscale
