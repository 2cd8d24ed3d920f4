// `chatscale gpu`: the GPU iteration-time model from the command line.
//
//   chatscale gpu predict --calibration FILE --model MODEL.yaml --phase prefill|decode --batch B
//                         --context C [--tp N] [--per-layer] [--profile-model NAME]
//
// fits the model to the calibration profile (chatscale-gpu-profile/1) and prints ONE number on stdout:
// the predicted milliseconds of one iteration on each GPU of a tensor-parallel group of N. decode: B
// sequences of one new token each over a KV cache of C tokens (a CUDA graph); prefill: B whole prompts
// of C tokens each (eager). --per-layer prints one decoder layer without the LM head.
// Exit codes: 0 ok, 2 bad input (arguments, unreadable or invalid files), messages on stderr.
#pragma once

#include <string>
#include <vector>

namespace chatscale::cli {

int gpu_command(const std::vector<std::string>& args);

}  // namespace chatscale::cli
