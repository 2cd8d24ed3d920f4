// Shape checks of a LlamaConfig and its LlamaWeights before a backend uses them: every tensor present,
// of a known dtype, with the dims llama.h states ({in, out} for linear weights), Q8_0 rows a whole
// number of blocks, heads a multiple of kv_heads. Shared by CpuBackend and the reference.
//
// Free function; thread-safe. Failure: InvalidArgument naming the tensor and the expected dims.
#pragma once

#include "core/status.h"
#include "prod/engine/llama.h"

namespace chatscale::engine::cpu {

Status check_llama_weights(const LlamaConfig& config, const LlamaWeights& weights);

}  // namespace chatscale::engine::cpu
