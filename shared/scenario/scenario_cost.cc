#include "scenario/scenario_cost.h"

#include <algorithm>

namespace chatscale {

double prompt_tokens_per_message(const Scenario& s) {
  const TrafficSpec& t = s.traffic;
  const double user_tokens = t.user_message.mean_bytes / t.bytes_per_token;
  const double exchange_tokens = (t.user_message.mean_bytes + t.assistant_response.mean_bytes) / t.bytes_per_token;
  const double history = (t.turns_per_conversation - 1.0) / 2.0 * exchange_tokens;
  const double room = std::max(0.0, static_cast<double>(s.gpu.model.max_context_tokens) - user_tokens);
  return user_tokens + std::min(history, room);
}

Result<CostInputs> scenario_cost_inputs(const Scenario& s) {
  CostInputs in;
  in.prices = s.costs;
  const double days = s.costs.hours_per_month / 24.0;
  const double messages_per_day = s.traffic.daily_messages(s.users);
  const double messages = messages_per_day * days;
  const double model_messages = messages * (1.0 - s.moderation.input_flag_rate);
  in.input_tokens_per_month = model_messages * prompt_tokens_per_message(s);
  in.output_tokens_per_month = model_messages * s.traffic.assistant_response.mean_bytes / s.traffic.bytes_per_token;

  for (const GpuClusterSpec& c : s.gpu.fleet.clusters) {
    const std::string& provider = c.provider.empty() ? s.costs.gpu_provider : c.provider;
    auto price = s.costs.gpu_usd_per_hour.find(provider);
    if (price == s.costs.gpu_usd_per_hour.end()) {
      return invalid_argument("gpu cluster " + c.name + ": no price for provider \"" + provider + "\"");
    }
    in.gpu_pools.push_back({c.name, static_cast<double>(s.gpu.fleet.gpus) * c.gpu_share, price->second});
  }

  const double replicas = static_cast<double>(s.total_read_replicas());
  in.database_servers = 1.0 + replicas;
  in.app_servers = static_cast<double>(s.total_service_hosts());
  in.storage_copies = 1.0 + replicas;
  const double message_bytes = s.traffic.user_message.mean_bytes + s.traffic.assistant_response.mean_bytes;
  in.stored_bytes_per_day = messages_per_day * message_bytes;
  const double users = static_cast<double>(s.users.weekly_active);
  in.stored_bytes_at_month_start = users * s.storage.profile_bytes +
                                   users * s.storage.conversations_per_user * s.storage.conversation_metadata_bytes +
                                   s.storage.history_months * days * in.stored_bytes_per_day;
  in.egress_bytes_per_month = messages * s.traffic.stream_bytes;
  return in;
}

}  // namespace chatscale
