// Subcommands of `chatscale` that need no runtime: each takes its arguments (after the command name)
// and returns the process exit code (cli::kExitOk, kExitFailure, kExitBadInput). They write results to
// stdout and diagnostics to stderr.
#pragma once

#include <string>
#include <vector>

namespace chatscale::cli {

// chatscale plan SCENARIO.yaml: validates the scenario and prints its first-principles capacity plan.
int plan_command(const std::vector<std::string>& args);

// chatscale moderate [--lexicon FILE] [--eval FILE.tsv] [TEXT...]: classifies texts (or stdin lines)
// with the moderation component, or evaluates it on a labelled set and prints precision and recall.
int moderate_command(const std::vector<std::string>& args);

// Prints a Status from a parser: the message as is (it already reads "file:line: field: problem").
int report_bad_input(const std::string& command, const std::string& message);

}  // namespace chatscale::cli
