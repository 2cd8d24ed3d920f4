// check_forward_batch: the one validation of a ForwardBatch against a model and a paged KV cache of
// `num_blocks` blocks of `block_size` positions, shared by every backend (CpuBackend, the CUDA
// backend) so they refuse the same batches with the same words: empty slices, a seq_id twice,
// negative or implausible positions, positions past the context length, a block table too short for
// the slice's positions, block ids outside the cache or used twice (in one table or by two slices),
// token ids outside the vocabulary, and (when logits_capacity >= 0) a logits buffer smaller than
// logits_rows(batch) x vocab floats.
//
// Thread-safety: a pure function. Failure behaviour: InvalidArgument naming the slice and the problem;
// nothing is written anywhere.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "prod/engine/llama.h"

namespace chatscale::engine {

Status check_forward_batch(const LlamaConfig& config, const ForwardBatch& batch, std::int64_t block_size,
                           std::int64_t num_blocks, std::int64_t logits_capacity);

}  // namespace chatscale::engine
