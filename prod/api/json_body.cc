#include "prod/api/json_body.h"

#include <cmath>
#include <limits>
#include <vector>

namespace chatscale::api {
namespace {

constexpr int kMaxDepth = 64;

// nlohmann's messages start with "[json.exception.parse_error.101] "; the rest is what a client needs.
std::string strip_exception_prefix(std::string what) {
  if (!what.empty() && what[0] == '[') {
    auto end = what.find("] ");
    if (end != std::string::npos) what.erase(0, end + 2);
  }
  return what;
}

const char* type_name(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float: return "a number";
    default: return "an unsupported value";
  }
}

// A SAX consumer that builds nothing and keeps the first parse error's message.
struct FirstParseError final : nlohmann::json_sax<nlohmann::json> {
  std::string message = "unexpected input";
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::json::exception& e) override {
    message = e.what();
    return false;
  }
};

}  // namespace

Result<nlohmann::json> parse_json_object(std::string_view body, std::size_t max_bytes) {
  if (body.size() > max_bytes)
    return payload_too_large("request body of " + std::to_string(body.size()) + " bytes exceeds the limit of " +
                             std::to_string(max_bytes));
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return invalid_argument("request body: a JSON object is required");
  // Duplicate keys are refused (nlohmann would keep the last one silently); so is deep nesting.
  std::vector<std::set<std::string>> open_objects;
  std::string problem;
  auto callback = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (depth > kMaxDepth && problem.empty()) problem = "request body: nested deeper than 64 levels";
    if (event == E::object_start) open_objects.emplace_back();
    if (event == E::object_end && !open_objects.empty()) open_objects.pop_back();
    if (event == E::key && !open_objects.empty() && parsed.is_string()) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second && problem.empty())
        problem = "request body: duplicate key \"" + key + "\"";
    }
    return true;
  };
  // Without exceptions: handlers run on coroutine stacks, where a throw costs an unwind per bad body
  // and AddressSanitizer cannot follow it. A body that does not parse is parsed again, SAX only, for
  // the message.
  nlohmann::json value = nlohmann::json::parse(body.begin(), body.end(), callback, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    FirstParseError error;
    nlohmann::json::sax_parse(body.begin(), body.end(), &error);
    return invalid_argument("request body: invalid JSON: " + strip_exception_prefix(error.message));
  }
  if (!problem.empty()) return invalid_argument(problem);
  if (!value.is_object()) return invalid_argument(std::string("request body: must be a JSON object, not ") + type_name(value));
  return value;
}

bool contains_nul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

FieldReader::FieldReader(const nlohmann::json& object, std::string prefix)
    : object_(object), prefix_(std::move(prefix)) {}

bool FieldReader::has(std::string_view key) const {
  return object_.is_object() && object_.find(std::string(key)) != object_.end();
}

const nlohmann::json* FieldReader::find(std::string_view key) {
  known_.emplace(key);
  if (!object_.is_object()) return nullptr;
  auto it = object_.find(std::string(key));
  return it == object_.end() ? nullptr : &*it;
}

const nlohmann::json* FieldReader::raw(std::string_view key) { return find(key); }

void FieldReader::fail(std::string_view key, std::string_view problem) {
  if (status_.is_ok()) status_ = invalid_argument(prefix_ + std::string(key) + ": " + std::string(problem));
}

bool FieldReader::text(std::string_view key, std::string& out, TextRule rule) {
  const nlohmann::json* value = find(key);
  if (value == nullptr) {
    if (rule.required) fail(key, "missing required field");
    return false;
  }
  if (!value->is_string()) {
    fail(key, std::string("must be a string, not ") + type_name(*value));
    return false;
  }
  const auto& s = value->get_ref<const std::string&>();
  if (s.size() < rule.min_bytes) {
    fail(key, rule.min_bytes == 1 ? "must not be empty"
                                  : "must be at least " + std::to_string(rule.min_bytes) + " bytes");
    return false;
  }
  if (s.size() > rule.max_bytes) {
    fail(key, "must be at most " + std::to_string(rule.max_bytes) + " bytes");
    return false;
  }
  if (!rule.allow_nul && contains_nul(s)) {
    fail(key, "must not contain U+0000");
    return false;
  }
  out = s;
  return true;
}

bool FieldReader::integer(std::string_view key, std::int64_t& out, std::int64_t min, std::int64_t max,
                          bool required) {
  const nlohmann::json* value = find(key);
  if (value == nullptr || value->is_null()) {
    if (required) fail(key, "missing required field");
    return false;
  }
  std::string range = "between " + std::to_string(min) + " and " + std::to_string(max);
  bool whole_float = value->is_number_float() && std::isfinite(value->get<double>()) &&
                     std::floor(value->get<double>()) == value->get<double>() &&
                     std::fabs(value->get<double>()) < 9e15;
  if (!value->is_number_integer() && !value->is_number_unsigned() && !whole_float) {
    fail(key, "must be an integer " + range);
    return false;
  }
  if (value->is_number_unsigned() &&
      value->get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    fail(key, "must be an integer " + range);
    return false;
  }
  std::int64_t v = whole_float ? static_cast<std::int64_t>(value->get<double>()) : value->get<std::int64_t>();
  if (v < min || v > max) {
    fail(key, "must be an integer " + range);
    return false;
  }
  out = v;
  return true;
}

bool FieldReader::number(std::string_view key, double& out, double min, double max) {
  const nlohmann::json* value = find(key);
  if (value == nullptr || value->is_null()) return false;
  auto range = [&] {
    auto fmt = [](double d) {
      std::string s = std::to_string(d);
      s.erase(s.find_last_not_of('0') + 1);
      if (!s.empty() && s.back() == '.') s.pop_back();
      return s;
    };
    return "must be a number between " + fmt(min) + " and " + fmt(max);
  };
  if (!value->is_number()) {
    fail(key, range());
    return false;
  }
  double v = value->get<double>();
  if (!std::isfinite(v) || v < min || v > max) {
    fail(key, range());
    return false;
  }
  out = v;
  return true;
}

bool FieldReader::boolean(std::string_view key, bool& out) {
  const nlohmann::json* value = find(key);
  if (value == nullptr || value->is_null()) return false;
  if (!value->is_boolean()) {
    fail(key, std::string("must be true or false, not ") + type_name(*value));
    return false;
  }
  out = value->get<bool>();
  return true;
}

Status FieldReader::finish() {
  if (!status_.is_ok() || !object_.is_object()) return status_;
  for (const auto& [key, value] : object_.items()) {
    if (known_.count(key) == 0) {
      fail(key, "unknown field");
      break;
    }
  }
  return status_;
}

}  // namespace chatscale::api
