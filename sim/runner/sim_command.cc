#include "sim/runner/sim_command.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "scenario/scenario.h"
#include "sim/runner/fleet_sizing.h"
#include "sim/runner/sim_runner.h"
#include "sim/runner/sim_output.h"

namespace chatscale::sim {

namespace {

int fleet_sizing_command(const Scenario& scenario, const SimOptions& options, std::string out_dir, bool quiet) {
  SizingOptions sizing;
  sizing.ttft_target_s = scenario.availability.ttft_target_s;
  if (!quiet) sizing.log = [](const std::string& line) { std::cerr << line << "\n"; };
  auto result = find_min_gpus(scenario, options, sizing);
  if (!result.is_ok()) {
    std::cerr << "chatscale sim --find-min-gpus: " << result.status().message() << "\n";
    return result.status().code() == StatusCode::kInvalidArgument ? cli::kExitBadInput : cli::kExitFailure;
  }
  if (out_dir.empty()) out_dir = "reports/" + scenario.name;
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  const std::string md = format_sizing_md(scenario, *result);
  std::ofstream(out_dir + "/fleet_sizing.md") << md;
  std::ofstream(out_dir + "/fleet_sizing.json") << format_sizing_json(*result);
  std::cout << md;
  for (const auto& m : *result)
    if (m.min_gpus == 0) return cli::kExitFailure;
  return cli::kExitOk;
}

}  // namespace

int sim_command(const std::vector<std::string>& args) {
  std::string path, out_dir;
  double sample = 0, duration = 0, start_hour = -1;
  bool find_min_gpus = false;
  std::int64_t seed = -1;
  bool quiet = false;
  cli::ArgParser parser(
      "chatscale sim",
      "Simulates a scenario on SimGrid and writes summary.json, report.md, SVG figures and metrics.om\n"
      "(OpenMetrics with simulated timestamps) to the output folder. Figures are at full scale.");
  parser.positional("SCENARIO", &path, "scenario file (YAML, see scenarios/README.md)");
  parser.option("--out", "DIR", &out_dir, "output folder (default reports/<scenario name>)");
  parser.option("--sample", "K", &sample, "simulate 1/K of the users (default: the scenario's sample_factor)");
  parser.option("--seed", "N", &seed, "random seed (default: the scenario's)");
  parser.option("--duration", "SECONDS", &duration, "simulated seconds (default: the scenario's)");
  parser.option("--start-hour", "H", &start_hour, "UTC hour of day at which the run starts");
  parser.flag("--quiet", &quiet, "no progress on stderr");
  parser.flag("--find-min-gpus", &find_min_gpus,
              "search the smallest fleet keeping TTFT p99 under availability.ttft_target_s (one simulation per "
              "candidate, for gpu.model and each of gpu.compare_models); writes fleet_sizing.md and .json");
  if (Status s = parser.parse(args); !s.is_ok()) return cli::report_bad_input("sim", s.message());
  if (parser.help_requested()) {
    std::cout << parser.usage();
    return cli::kExitOk;
  }
  if (!args.empty() && sample != 0 && !(sample >= 1)) return cli::report_bad_input("sim", "chatscale sim: --sample: K must be at least 1");
  if (duration < 0) return cli::report_bad_input("sim", "chatscale sim: --duration: must be positive");
  auto scenario = load_scenario_file(path);
  if (!scenario.is_ok()) return cli::report_bad_input("sim", scenario.status().message());
  SimOptions options;
  if (sample >= 1) options.sample_fraction = 1.0 / sample;
  if (seed >= 0) options.seed = static_cast<std::uint64_t>(seed);
  if (start_hour >= 0) options.start_hour = start_hour;
  options.duration_s = duration;
  options.progress = !quiet && isatty(STDERR_FILENO);
  if (find_min_gpus) return fleet_sizing_command(*scenario, options, out_dir, quiet);
  auto run = run_simulation(*scenario, options);
  if (!run.is_ok()) {
    std::cerr << path << ": " << run.status().message() << "\n";
    return run.status().code() == StatusCode::kInvalidArgument ? cli::kExitBadInput : cli::kExitFailure;
  }
  if (out_dir.empty()) out_dir = "reports/" + scenario->name;
  auto written = write_outputs(*scenario, *run, out_dir);
  if (!written.is_ok()) {
    std::cerr << "chatscale sim: " << written.status().message() << "\n";
    return cli::kExitFailure;
  }
  std::cout << *written;
  return cli::kExitOk;
}

}  // namespace chatscale::sim
