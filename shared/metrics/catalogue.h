// The one metrics catalogue of chatscale: every metric either runtime publishes, with its name, type,
// help, label names and (for histograms) bucket boundaries. Prometheus conventions: `chatscale_`
// prefix, base units, `_total` counters, `_seconds` and `_bytes` units. Latency buckets are vLLM's, so
// dashboards compare with serving engines. The runtime adds a constant `mode` label (sim or prod).
#pragma once

#include <span>
#include <string_view>
#include <vector>

namespace chatscale {

enum class MetricType { kCounter, kGauge, kHistogram };
std::string_view metric_type_name(MetricType type);

// Identifiers in catalogue order; metric_def(id) describes each.
enum class MetricId : int {
  kMessages,                // counter {tier, outcome}
  kTimeToFirstToken,        // histogram {tier}
  kE2eLatency,              // histogram {tier}
  kTimePerOutputToken,      // histogram {tier}
  kPromptTokens,            // counter {tier}
  kGenerationTokens,        // counter {tier}
  kRateLimited,             // counter {tier, limit}
  kModerationFlagged,       // counter {stage, category}
  kActiveStreams,           // gauge
  kStreamEgressBytes,       // counter
  kInferenceAttempts,       // counter {backend, result}
  kDbQueries,               // counter {role, op}
  kDbQueryDuration,         // histogram {role, op}
  kDbPrimaryFallbacks,      // counter {reason}
  kDbReplicaLag,            // gauge {replica}
  kMessagesLost,            // counter
  kHttpRequests,            // counter {route, code}
  kHttpRequestDuration,     // histogram {route}
  kGpuKvCacheUsage,         // gauge {cluster}
  kGpuRunningSequences,     // gauge {cluster}
  kGpuWaitingSequences,     // gauge {cluster}
  kGpuBatchSize,            // histogram {cluster}
  kGpuIterationDuration,    // histogram {cluster}
  kGpuUtilization,          // gauge {cluster}
  kGpus,                    // gauge {cluster}
  kCostDollars,             // counter {component}
  kCount_,                  // number of metrics; not a metric
};

struct MetricDef {
  MetricId id;
  std::string_view name;
  MetricType type;
  std::string_view help;
  std::vector<std::string_view> labels;
  std::vector<double> buckets;  // histograms only, ascending, without +Inf
};

std::span<const MetricDef> metric_catalogue();
const MetricDef& metric_def(MetricId id);

// Bucket sets, exposed for tests and for runtimes that summarise histograms.
const std::vector<double>& ttft_buckets();        // vLLM time_to_first_token_seconds
const std::vector<double>& e2e_latency_buckets();  // vLLM e2e_request_latency_seconds
const std::vector<double>& tpot_buckets();        // vLLM time_per_output_token_seconds

}  // namespace chatscale
