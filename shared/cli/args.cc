#include "cli/args.h"

#include <charconv>
#include <cmath>
#include <sstream>

namespace chatscale::cli {

ArgParser::ArgParser(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

void ArgParser::flag(const std::string& name, bool* target, const std::string& help) {
  options_.push_back({name, "", help, true, [target](const std::string&) {
                        *target = true;
                        return Status::ok();
                      }});
}

void ArgParser::option(const std::string& name, const std::string& metavar, std::string* target,
                       const std::string& help) {
  options_.push_back({name, metavar, help, false, [target](const std::string& v) {
                        *target = v;
                        return Status::ok();
                      }});
}

void ArgParser::option(const std::string& name, const std::string& metavar, double* target,
                       const std::string& help) {
  options_.push_back({name, metavar, help, false, [name, target](const std::string& v) {
                        double x = 0;
                        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
                        if (ec != std::errc() || p != v.data() + v.size() || !std::isfinite(x))
                          return invalid_argument(name + ": expected a number, got \"" + v + "\"");
                        *target = x;
                        return Status::ok();
                      }});
}

void ArgParser::option(const std::string& name, const std::string& metavar, std::int64_t* target,
                       const std::string& help) {
  options_.push_back({name, metavar, help, false, [name, target](const std::string& v) {
                        std::int64_t x = 0;
                        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
                        if (ec != std::errc() || p != v.data() + v.size())
                          return invalid_argument(name + ": expected an integer, got \"" + v + "\"");
                        *target = x;
                        return Status::ok();
                      }});
}

void ArgParser::positional(const std::string& metavar, std::string* target, const std::string& help,
                           bool required) {
  positionals_.push_back({metavar, help, target, required});
}

void ArgParser::rest(const std::string& metavar, std::vector<std::string>* target, const std::string& help) {
  rest_ = target;
  rest_metavar_ = metavar;
  rest_help_ = help;
}

const ArgParser::Option* ArgParser::find(const std::string& name) const {
  for (const auto& o : options_)
    if (o.name == name) return &o;
  return nullptr;
}

Status ArgParser::apply(const Option& option, const std::string& value) {
  Status s = option.set(value);
  if (!s.is_ok()) return invalid_argument(command_ + ": " + s.message());
  return s;
}

Status ArgParser::parse(const std::vector<std::string>& args) {
  std::size_t next_positional = 0;
  bool only_positionals = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!only_positionals && (a == "--help" || a == "-h")) {
      help_ = true;
      return Status::ok();
    }
    if (!only_positionals && a == "--") {
      only_positionals = true;
      continue;
    }
    if (!only_positionals && a.size() > 1 && a[0] == '-') {
      auto eq = a.find('=');
      std::string name = a.substr(0, eq);
      const Option* o = find(name);
      if (o == nullptr) return invalid_argument(command_ + ": unknown option " + name + " (see --help)");
      if (o->is_flag) {
        if (eq != std::string::npos) return invalid_argument(command_ + ": " + name + " takes no value");
        CS_RETURN_IF_ERROR(apply(*o, ""));
      } else if (eq != std::string::npos) {
        CS_RETURN_IF_ERROR(apply(*o, a.substr(eq + 1)));
      } else {
        if (i + 1 >= args.size()) return invalid_argument(command_ + ": " + name + " needs a value " + o->metavar);
        CS_RETURN_IF_ERROR(apply(*o, args[++i]));
      }
      continue;
    }
    if (next_positional < positionals_.size()) {
      *positionals_[next_positional++].target = a;
    } else if (rest_ != nullptr) {
      rest_->push_back(a);
    } else {
      return invalid_argument(command_ + ": unexpected argument \"" + a + "\" (see --help)");
    }
  }
  for (std::size_t i = next_positional; i < positionals_.size(); ++i)
    if (positionals_[i].required) return invalid_argument(command_ + ": missing " + positionals_[i].metavar + " (see --help)");
  return Status::ok();
}

std::string ArgParser::usage() const {
  std::ostringstream out;
  out << "usage: " << command_;
  if (!options_.empty()) out << " [options]";
  for (const auto& p : positionals_) out << (p.required ? " " + p.metavar : " [" + p.metavar + "]");
  if (rest_ != nullptr) out << " [" << rest_metavar_ << "...]";
  out << "\n\n" << summary_ << "\n";
  if (!positionals_.empty() || rest_ != nullptr) out << "\narguments:\n";
  for (const auto& p : positionals_) out << "  " << p.metavar << "\n      " << p.help << "\n";
  if (rest_ != nullptr) out << "  " << rest_metavar_ << "...\n      " << rest_help_ << "\n";
  out << "\noptions:\n";
  for (const auto& o : options_) {
    out << "  " << o.name << (o.metavar.empty() ? "" : " " + o.metavar) << "\n      " << o.help << "\n";
  }
  out << "  --help\n      show this help and exit\n";
  return out.str();
}

}  // namespace chatscale::cli
