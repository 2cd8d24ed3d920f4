// The GPU time model the simulator's fleet runs on: the IterationTimeModel fitted to the scenario's
// calibration profile (gpu.calibration_profile), or to the profile compiled into the binary
// (scenarios/calibration/h100-llama3-8b.json) when the scenario names none. The fit is made on the
// profile's first model and predicts the scenario's model shape (shared/gpu generalises by shape).
// The GPU's memory is the scenario's gpu.memory_gib. Failure: profile or fit errors as values.
#pragma once

#include "core/status.h"
#include "gpu/iteration_time_model.h"
#include "scenario/scenario.h"

namespace chatscale::sim {

Result<IterationTimeModel> fleet_time_model(const Scenario& scenario);

}  // namespace chatscale::sim
