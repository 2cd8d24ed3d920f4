#include "sim/fleet/calibration.h"

#include <string_view>

#include "gpu/gpu_profile.h"

namespace chatscale {
namespace embedded {
std::string_view default_gpu_profile();
}  // namespace embedded

namespace sim {

Result<IterationTimeModel> fleet_time_model(const Scenario& scenario) {
  const std::string path = scenario.calibration_profile_path();
  Result<GpuProfile> profile = path.empty()
      ? parse_gpu_profile(embedded::default_gpu_profile(), "scenarios/calibration/h100-llama3-8b.json (built in)")
      : load_gpu_profile(path);
  if (!profile.is_ok()) return profile.status();
  if (profile->models.empty()) return invalid_argument(profile->source + ": models: the profile measures no model");
  CS_ASSIGN_OR_RETURN(IterationTimeModel fitted, IterationTimeModel::calibrate(*profile, profile->models.front().name));
  GpuSpecs gpu = fitted.gpu();
  gpu.memory_bytes = scenario.gpu.memory_gib * 1024.0 * 1024.0 * 1024.0;
  return IterationTimeModel(gpu, fitted.params());
}

}  // namespace sim
}  // namespace chatscale
