// `chatscale model`: random-weight model files and model file summaries.
//   chatscale model random --shape SHAPE.yaml --out FILE.gguf [--dtype f32|f16|bf16|q8_0] [--seed N]
//                          [--vocab VOCAB.gguf] [--untied] [--threads N]
//   chatscale model info FILE.gguf
// Exit codes: 0 success, 1 failure (I/O), 2 bad input (message on stderr). Standard library only.
#pragma once

#include <string>
#include <vector>

namespace chatscale::engine {

int model_command(const std::vector<std::string>& args);

}  // namespace chatscale::engine
