#include "prod/db/migrate_command.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "cli/args.h"
#include "prod/db/migrations.h"

namespace chatscale::db {
namespace {

std::string where(const std::string& path, const YAML::Node& node) {
  return path + ":" + std::to_string(node.Mark().line + 1);
}

Result<std::string> scalar_at(const std::string& path, const YAML::Node& node, const std::string& field) {
  if (!node.IsScalar() || node.Scalar().empty())
    return invalid_argument(where(path, node) + ": " + field + ": must be a non-empty string");
  return node.Scalar();
}

}  // namespace

Result<std::string> primary_dsn_from_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) return not_found(path + ": cannot read the file");
  YAML::Node root;
  try {
    root = YAML::Load(in);
  } catch (const YAML::Exception& e) {
    return invalid_argument(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (!root.IsMap()) return invalid_argument(path + ":1: the file must be a mapping (see serve.yaml's schema)");
  const YAML::Node database = root["database"];
  if (!database) return invalid_argument(path + ":1: database: missing (no database is configured)");
  if (!database.IsMap()) return invalid_argument(where(path, database) + ": database: must be a mapping");
  const YAML::Node primary = database["primary"];
  if (!primary || !primary.IsMap())
    return invalid_argument(where(path, database) + ": database.primary: missing or not a mapping");
  const YAML::Node dsn = primary["dsn"];
  const YAML::Node dsn_env = primary["dsn_env"];
  if (dsn && dsn_env)
    return invalid_argument(where(path, dsn) + ": database.primary: give dsn or dsn_env, not both");
  if (dsn) return scalar_at(path, dsn, "database.primary.dsn");
  if (!dsn_env) return invalid_argument(where(path, primary) + ": database.primary.dsn: missing");
  CS_ASSIGN_OR_RETURN(std::string variable, scalar_at(path, dsn_env, "database.primary.dsn_env"));
  const char* value = std::getenv(variable.c_str());
  if (value == nullptr || *value == '\0')
    return invalid_argument(where(path, dsn_env) + ": database.primary.dsn_env: environment variable " +
                            variable + " is not set");
  return std::string(value);
}

int migrate_command(const std::vector<std::string>& args) {
  std::string dsn;
  std::string config;
  cli::ArgParser parser("chatscale migrate",
                        "Applies the embedded schema migrations (prod/db/migrations/*.sql) that the PostgreSQL\n"
                        "primary lacks, each in its own transaction, under an advisory lock (safe to run from\n"
                        "several processes at once; a second run applies nothing). Give exactly one of --dsn\n"
                        "and --config.");
  parser.option("--dsn", "DSN", &dsn, "libpq connection string of the primary (\"host=... dbname=...\")");
  parser.option("--config", "FILE", &config, "serve.yaml: use database.primary.dsn (or dsn_env)");
  if (Status s = parser.parse(args); !s.is_ok()) {
    std::cerr << "chatscale migrate: " << s.message() << "\n(see chatscale migrate --help)\n";
    return cli::kExitBadInput;
  }
  if (parser.help_requested()) {
    std::cout << parser.usage();
    return cli::kExitOk;
  }
  if (dsn.empty() == config.empty()) {
    std::cerr << "chatscale migrate: give exactly one of --dsn DSN and --config FILE\n"
                 "(see chatscale migrate --help)\n";
    return cli::kExitBadInput;
  }
  if (!config.empty()) {
    auto from_config = primary_dsn_from_config(config);
    if (!from_config.is_ok()) {
      std::cerr << "chatscale migrate: " << from_config.status().message() << "\n";
      return cli::kExitBadInput;
    }
    dsn = *from_config;
  }
  auto applied = apply_migrations(dsn);
  if (!applied.is_ok()) {
    std::cerr << "chatscale migrate: " << applied.status().message() << "\n";
    return cli::kExitFailure;
  }
  const int newest = embedded_migrations().empty() ? 0 : embedded_migrations().back().version;
  std::cout << "migrate: applied " << *applied << " migration" << (*applied == 1 ? "" : "s")
            << "; schema at version " << newest << "\n";
  return cli::kExitOk;
}

}  // namespace chatscale::db
