// `chatscale profile`: times prefill and decode iterations of a GGUF model on the engine's CPU backend
// (or, --device cuda in a build with the CUDA engine, its CUDA backend) over a grid and writes a
// chatscale-gpu-profile/1 file (the simulator's calibration format), which it reads back with the
// shared loader before reporting success.
//   chatscale profile --model FILE.gguf --out PROFILE.json [--device cpu|cuda] [--threads N]
//                     [--batches 1,2,4] [--contexts 128,512] [--prefill-lengths 128,512]
//                     [--prefill-batches 1] [--repeats N] [--warmup N] [--block-size N] [--kv-gib X]
//                     [--name NAME] [--quick]
// Exit codes: 0 success, 1 failure (I/O, a backend error), 2 bad input (message on stderr naming the
// flag, the file or the grid point). Part of chatscale_prod (links the shared JSON profile loader).
#pragma once

#include <string>
#include <vector>

namespace chatscale::engine {

int profile_command(const std::vector<std::string>& args);

}  // namespace chatscale::engine
