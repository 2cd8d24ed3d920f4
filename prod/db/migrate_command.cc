#include "prod/db/migrate_command.h"

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "cli/args.h"
#include "prod/db/key_rotation.h"
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

Result<std::vector<ContentKey>> content_keys_from_config(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return not_found(path + ": cannot read the file");
  } catch (const YAML::Exception& e) {
    return invalid_argument(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  const YAML::Node secrets = root.IsMap() ? root["secrets"] : YAML::Node();
  const YAML::Node keys = secrets && secrets.IsMap() ? secrets["content_keys"] : YAML::Node();
  if (!keys || !keys.IsSequence() || keys.size() == 0)
    return invalid_argument(path + ":1: secrets.content_keys: missing or empty (a list of {id, key | key_env})");
  std::vector<ContentKey> out;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const YAML::Node k = keys[i];
    const std::string field = "secrets.content_keys[" + std::to_string(i) + "]";
    if (!k.IsMap()) return invalid_argument(where(path, k) + ": " + field + ": must be a mapping {id, key}");
    if (!k["id"]) return invalid_argument(where(path, k) + ": " + field + ".id: missing");
    CS_ASSIGN_OR_RETURN(std::string id, scalar_at(path, k["id"], field + ".id"));
    if (k["key"] && k["key_env"])
      return invalid_argument(where(path, k) + ": " + field + ": give key or key_env, not both");
    std::string base64;
    if (k["key"]) {
      CS_ASSIGN_OR_RETURN(base64, scalar_at(path, k["key"], field + ".key"));
    } else if (k["key_env"]) {
      CS_ASSIGN_OR_RETURN(std::string variable, scalar_at(path, k["key_env"], field + ".key_env"));
      const char* value = std::getenv(variable.c_str());
      if (value == nullptr || *value == '\0')
        return invalid_argument(where(path, k) + ": " + field + ".key_env: environment variable " + variable +
                                " is not set");
      base64 = value;
    } else {
      return invalid_argument(where(path, k) + ": " + field + ": needs key or key_env");
    }
    auto key = content_key_from_base64(id, base64);
    if (!key.is_ok()) return invalid_argument(where(path, k) + ": " + field + ": " + key.status().message());
    out.push_back(std::move(key).value());
  }
  return out;
}

namespace {

int rotate(const std::string& dsn, const std::string& config, std::int64_t batch) {
  auto keys = content_keys_from_config(config);
  if (!keys.is_ok()) {
    std::cerr << "chatscale migrate: " << keys.status().message() << "\n";
    return cli::kExitBadInput;
  }
  auto cipher = ContentCipher::create(std::move(keys).value());
  if (!cipher.is_ok()) {
    std::cerr << "chatscale migrate: " << config << ": secrets.content_keys: " << cipher.status().message() << "\n";
    return cli::kExitBadInput;
  }
  auto report = rotate_content_keys(dsn, *cipher, static_cast<int>(batch));
  if (!report.is_ok()) {
    std::cerr << "chatscale migrate: " << report.status().message() << "\n";
    return cli::kExitFailure;
  }
  std::cout << "migrate: re-sealed " << report->messages << " message contents and " << report->conversations
            << " conversation titles under content key \"" << cipher->current_key_id() << "\"\n";
  return cli::kExitOk;
}

}  // namespace

int migrate_command(const std::vector<std::string>& args) {
  std::string dsn;
  std::string config;
  bool rotate_keys = false;
  std::int64_t batch = 500;
  cli::ArgParser parser("chatscale migrate",
                        "Applies the embedded schema migrations (prod/db/migrations/*.sql) that the PostgreSQL\n"
                        "primary lacks, each in its own transaction, under an advisory lock (safe to run from\n"
                        "several processes at once; a second run applies nothing). Give exactly one of --dsn\n"
                        "and --config.");
  parser.option("--dsn", "DSN", &dsn, "libpq connection string of the primary (\"host=... dbname=...\")");
  parser.option("--config", "FILE", &config, "serve.yaml: use database.primary.dsn (or dsn_env)");
  parser.flag("--rotate-content-keys", &rotate_keys,
              "after migrating, re-seal every message content and conversation title not sealed under the first\n"
              "      of secrets.content_keys (needs --config; the other keys must still be listed to open old rows)");
  parser.option("--batch", "N", &batch, "rows re-sealed per transaction with --rotate-content-keys (default 500)");
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
  if (rotate_keys && config.empty()) {
    std::cerr << "chatscale migrate: --rotate-content-keys needs --config FILE (the content keys are in it)\n";
    return cli::kExitBadInput;
  }
  if (batch < 1 || batch > 1000000) {
    std::cerr << "chatscale migrate: --batch: must be between 1 and 1000000\n";
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
  if (rotate_keys) return rotate(dsn, config, batch);
  return cli::kExitOk;
}

}  // namespace chatscale::db
