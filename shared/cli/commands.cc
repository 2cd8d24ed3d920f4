#include "cli/commands.h"

#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "capacity/arithmetic.h"
#include "cli/args.h"
#include "moderation/evaluation.h"
#include "moderation/moderator.h"
#include "scenario/scenario.h"

namespace chatscale::cli {

int report_bad_input(const std::string& command, const std::string& message) {
  std::cerr << message << "\n";
  if (message.find(':') == std::string::npos) std::cerr << "(chatscale " << command << ")\n";
  return kExitBadInput;
}

int plan_command(const std::vector<std::string>& args) {
  std::string path;
  ArgParser parser("chatscale plan",
                   "Validates a scenario and prints its first-principles capacity plan: peak rates, storage,\n"
                   "streams, bandwidth, database and GPU load, monthly cost, each with its arithmetic and,\n"
                   "where the reference design states a figure, whether it holds.");
  parser.positional("SCENARIO", &path, "scenario file (YAML, see scenarios/README.md)");
  if (Status s = parser.parse(args); !s.is_ok()) return report_bad_input("plan", s.message());
  if (parser.help_requested()) {
    std::cout << parser.usage();
    return kExitOk;
  }
  auto scenario = load_scenario_file(path);
  if (!scenario.is_ok()) return report_bad_input("plan", scenario.status().message());
  std::cout << format_capacity_plan(*scenario);
  return kExitOk;
}

namespace {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalid_argument(path + ": cannot open the file");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void print_verdict(const std::string& text, const ModerationResult& r) {
  std::cout << (r.flagged ? "flagged" : "ok");
  for (std::size_t i = 0; i < r.categories.size(); ++i) std::cout << (i ? "," : " ") << r.categories[i];
  std::cout << "\t" << text << "\n";
}

int evaluate_labelled_set(const Moderator& moderator, const std::string& path, const std::string& split) {
  auto tsv = read_file(path);
  if (!tsv.is_ok()) return report_bad_input("moderate", tsv.status().message());
  auto eval = evaluate(moderator, *tsv, split);
  if (!eval.is_ok()) return report_bad_input("moderate", eval.status().message());
  std::cout << format_eval_table(*eval, path + (split.empty() ? "" : " (" + split + ")"));
  return kExitOk;
}

}  // namespace

int moderate_command(const std::vector<std::string>& args) {
  std::string lexicon, eval_path, split;
  std::vector<std::string> texts;
  ArgParser parser("chatscale moderate",
                   "Classifies each TEXT (or each line of standard input) into OpenAI's 13 moderation\n"
                   "categories with the rule-based moderator, or measures it on a labelled set.");
  parser.option("--lexicon", "FILE", &lexicon, "use this lexicon instead of the built-in one");
  parser.option("--eval", "FILE.tsv", &eval_path, "labelled sentences (LABELS<TAB>SPLIT<TAB>SENTENCE)");
  parser.option("--split", "NAME", &split, "with --eval: only sentences of this split (dev, heldout)");
  parser.rest("TEXT", &texts, "texts to classify; standard input when none");
  if (Status s = parser.parse(args); !s.is_ok()) return report_bad_input("moderate", s.message());
  if (parser.help_requested()) {
    std::cout << parser.usage();
    return kExitOk;
  }
  std::optional<Moderator> custom;
  if (!lexicon.empty()) {
    auto loaded = Moderator::from_file(lexicon);
    if (!loaded.is_ok()) return report_bad_input("moderate", loaded.status().message());
    custom = std::move(loaded).value();
  }
  const Moderator& moderator = custom ? *custom : Moderator::builtin();
  if (!eval_path.empty()) return evaluate_labelled_set(moderator, eval_path, split);
  if (texts.empty()) {
    for (std::string line; std::getline(std::cin, line);) print_verdict(line, moderator.classify(line));
  }
  for (const auto& t : texts) print_verdict(t, moderator.classify(t));
  return kExitOk;
}

}  // namespace chatscale::cli
