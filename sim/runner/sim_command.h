// `chatscale sim`: runs a scenario and writes its report folder. Returns the process exit code.
#pragma once

#include <string>
#include <vector>

namespace chatscale::sim {

int sim_command(const std::vector<std::string>& args);

}  // namespace chatscale::sim
