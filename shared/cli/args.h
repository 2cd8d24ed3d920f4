// A small command-line parser for chatscale's subcommands: named options (--name VALUE or
// --name=VALUE), flags, positional arguments, generated --help. Parse errors are values (exit code 2 at
// the call site). Not thread-safe; one parser per command invocation.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace chatscale::cli {

// Exit codes of every chatscale command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;

class ArgParser {
 public:
  ArgParser(std::string command, std::string summary);

  void flag(const std::string& name, bool* target, const std::string& help);
  void option(const std::string& name, const std::string& metavar, std::string* target, const std::string& help);
  void option(const std::string& name, const std::string& metavar, double* target, const std::string& help);
  void option(const std::string& name, const std::string& metavar, std::int64_t* target, const std::string& help);
  void positional(const std::string& metavar, std::string* target, const std::string& help, bool required = true);
  // Collects every remaining positional argument.
  void rest(const std::string& metavar, std::vector<std::string>* target, const std::string& help);

  // Parses args (without the program and command names). Sets help_requested() on --help/-h.
  Status parse(const std::vector<std::string>& args);
  bool help_requested() const { return help_; }
  std::string usage() const;

 private:
  struct Option {
    std::string name, metavar, help;
    bool is_flag = false;
    std::function<Status(const std::string&)> set;
  };
  struct Positional {
    std::string metavar, help;
    std::string* target = nullptr;
    bool required = true;
  };
  Status apply(const Option& option, const std::string& value);
  const Option* find(const std::string& name) const;

  std::string command_, summary_;
  std::vector<Option> options_;
  std::vector<Positional> positionals_;
  std::vector<std::string>* rest_ = nullptr;
  std::string rest_metavar_, rest_help_;
  bool help_ = false;
};

}  // namespace chatscale::cli
