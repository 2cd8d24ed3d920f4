// First-principles capacity arithmetic of a scenario: the closed-form figures a planner checks before
// simulating (peak rate, storage, streams, bandwidth, database load, GPU token rate, cost), each with
// the arithmetic as text and, where the reference design states one, its claimed value and a verdict.
// `chatscale plan` prints it; the simulator's report sets each simulated figure beside it.
// Pure functions of the Scenario; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cost/cost_model.h"
#include "scenario/scenario.h"

namespace chatscale {

struct CapacityFigure {
  std::string key;         // stable id, e.g. "peak_messages_per_s" (summary.json names)
  std::string label;       // "Peak messages per second"
  std::string unit;        // "messages/s", "bytes/day", "Gbps", ...
  double value = 0;        // what the scenario's inputs give
  std::string arithmetic;  // "2,500,000,000 x 0.20 / 7,200 s"
  std::optional<double> claimed;  // the reference design's figure (shared/MISSION.md), if it states one
  std::string claim_note;         // where the claim comes from or why it differs
};

// How a computed figure compares with a claim: "holds" within the tolerance, else "breaks (x2.3)".
std::string verdict(double value, double claimed, double relative_tolerance = 0.1);

std::vector<CapacityFigure> capacity_figures(const Scenario& scenario);

// A plain-text report of the figures and the cost breakdown, for the terminal.
std::string format_capacity_plan(const Scenario& scenario);

// Number formatting shared by reports: "69,444", "1.50 TB", "6.00 Gbps".
std::string format_number(double value, int decimals = 0);
std::string format_bytes(double bytes);

}  // namespace chatscale
