// What a scenario consumes in a month, as inputs for the cost model (shared/cost). The arithmetic:
//   messages/month   = daily_active x prompts_per_user_per_day x hours_per_month / 24
//   model messages   = messages/month x (1 - moderation.input_flag_rate)   (refused ones never reach it)
//   input tokens     = model messages x (user message + earlier turns in context) / bytes_per_token,
//                      earlier turns = (turns_per_conversation - 1) / 2 exchanges on average, capped at
//                      the model's context; turns_per_conversation 1 counts the new message only
//   output tokens    = model messages x assistant_response.mean_bytes / bytes_per_token
//   GPUs             = per cluster: fleet.gpus x gpu_share at its provider's price
//   database servers = 1 primary + all read replicas; app servers = all service hosts
//   storage per copy = profiles + conversation metadata + history_months of messages at the start,
//                      growing by daily messages x (user + assistant bytes); copies = 1 + replicas
//   egress           = messages/month x stream_bytes
// Thread-safety: pure. Failure: kInvalidArgument when a cluster's provider has no price.
#pragma once

#include "core/status.h"
#include "cost/cost_model.h"
#include "scenario/scenario.h"

namespace chatscale {

Result<CostInputs> scenario_cost_inputs(const Scenario& scenario);

// Mean prompt tokens one request sends to the model (new message plus context), per the rule above.
double prompt_tokens_per_message(const Scenario& scenario);

}  // namespace chatscale
