// A capacity-planning scenario: users, traffic shape, regions and network, database, GPU fleet, rate
// limit tiers, moderation, prices, availability targets and failures, and simulation settings. Plain
// data; every member's unit is in its name or comment, and every default is documented (with its source:
// shared/MISSION.md figures, or "assumption") in scenarios/README.md, which a test keeps in step with
// the parser.
//
// Loading: load_scenario_file / parse_scenario return the Scenario or kInvalidArgument listing every
// problem of the file as "file:line: field.path: problem". Thread-safety: values; the loaders are
// reentrant. Ownership: the Scenario owns all of its data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gpu/shapes.h"
#include "cost/cost_model.h"
#include "ratelimit/tier.h"

namespace chatscale {

struct UsersSpec {
  std::int64_t weekly_active = 1'000'000'000;  // MISSION: 1 billion
  std::int64_t daily_active = 200'000'000;     // MISSION: ~200 million
  double prompts_per_user_per_day = 12.5;      // MISSION: 2.5B prompts / 200M users
};

enum class SizeDistribution { kFixed, kExponential, kLognormal };
std::string_view size_distribution_name(SizeDistribution d);

// A message size: its mean in bytes and the shape of its distribution.
struct SizeSpec {
  double mean_bytes = 0;
  SizeDistribution distribution = SizeDistribution::kLognormal;
  double sigma = 1.0;  // lognormal shape (standard deviation of ln size); unused otherwise
};

enum class ArrivalProcess { kPoisson, kUniform };
enum class DiurnalClock { kUtc, kLocal };

struct TrafficSpec {
  double peak_share = 0.20;         // MISSION: 20% of a day's messages fall in the peak window
  double peak_hours = 2.0;          // MISSION: the peak window lasts 2 hours
  double peak_start_hour = 18.0;    // assumption: the window starts at 18:00
  DiurnalClock clock = DiurnalClock::kUtc;  // whose clock the daily shape follows: UTC or each region's
  // 24 relative weights, one per hour of the day; when set they replace the peak shape above.
  std::vector<double> hourly_weights;
  ArrivalProcess arrivals = ArrivalProcess::kPoisson;
  double think_time_s = 30.0;             // assumption: mean pause before the next message in a conversation
  double turns_per_conversation = 5.0;    // assumption: mean user messages per conversation
  SizeSpec user_message{100, SizeDistribution::kLognormal, 1.0};        // MISSION: 100 bytes
  SizeSpec assistant_response{500, SizeDistribution::kLognormal, 1.0};  // MISSION: 500 bytes
  double bytes_per_token = 4.0;           // the usual ~4 bytes of English text per token
  double stream_bytes = 750.0;            // MISSION: ~750 bytes on the wire per streamed answer
  double stream_duration_s = 20.0;        // MISSION: ~20 s per stream (10-30 s)
  std::int64_t max_tokens = 1024;         // assumption: completion cap a request asks for

  double daily_messages(const UsersSpec& users) const { return users.daily_active * users.prompts_per_user_per_day; }
  // Mean messages per second inside the peak window of the peak model (MISSION: 69,444/s).
  double peak_messages_per_s(const UsersSpec& users) const {
    return daily_messages(users) * peak_share / (peak_hours * 3600.0);
  }
  // The daily shape: 24 fractions of the day's messages, one per hour of `clock`'s day, summing to 1.
  // From hourly_weights when set; else the peak model: peak_share spread over the window
  // [peak_start_hour, + peak_hours) (wrapping past midnight, partial hours pro rata) and the rest
  // spread evenly over the other hours.
  std::vector<double> hour_shares() const;
};

struct RegionSpec {
  std::string name;
  std::string group;             // distance group for the latency model (e.g. americas, europe, apac)
  double utc_offset_hours = 0;   // local time = UTC + offset
  double user_share = 0;         // fraction of users homed here; shares sum to 1
  std::int64_t service_hosts = 1;  // API hosts running `chatscale serve`
  std::int64_t read_replicas = 0;  // PostgreSQL streaming replicas in this region
};

// Inter-region links. The group model: latency by whether two regions are the same, share a distance
// group, or not; one bandwidth for every inter-region link. An explicit NxN matrix (regions in file
// order) replaces the group model for latency and/or bandwidth.
struct NetworkSpec {
  double same_region_latency_ms = 1.0;    // assumption: one-way, within a region
  double same_group_latency_ms = 30.0;    // assumption: one-way, e.g. us-east <-> us-west
  double cross_group_latency_ms = 70.0;   // assumption: one-way, e.g. us-east <-> eu-central
  double inter_region_bandwidth_gbps = 100.0;  // assumption: per inter-region link
  double intra_region_bandwidth_gbps = 400.0;  // assumption: within a region
  std::vector<std::vector<double>> latency_ms;      // optional NxN, one-way
  std::vector<std::vector<double>> bandwidth_gbps;  // optional NxN
};

struct DatabaseReads {  // queries per prompt, MISSION's list
  double account = 1, quota = 1, conversation_metadata = 1, recent_messages = 1, rate_limit_state = 1,
         feature_flags = 1;
  double total() const {
    return account + quota + conversation_metadata + recent_messages + rate_limit_state + feature_flags;
  }
};

struct DatabaseWrites {  // row writes per prompt, MISSION's list
  double messages = 2, conversation_metadata = 1, usage_counters = 1, logs = 1;
  double total() const { return messages + conversation_metadata + usage_counters + logs; }
};

struct DatabaseSpec {
  std::string primary_region;                  // default: the first region
  double primary_max_transactions_per_s = 50'000;  // assumption (see README)
  double wal_capacity_bytes_per_s = 500e6;     // assumption: WAL the primary can write and ship
  double wal_bytes_per_write = 1'000;          // assumption: row + index entries + record headers
  double replica_apply_bytes_per_s = 200e6;    // assumption: single-threaded WAL replay
  double replica_max_reads_per_s = 50'000;     // assumption: per replica
  double read_ms = 1.0;                        // assumption: one indexed read, service time
  double commit_ms = 2.0;                      // assumption: one durable commit (fsync), service time
  double replica_max_lag_s = 2.0;              // assumption: a replica lagging more is rotated out
  double read_your_writes_ttl_s = 10.0;        // assumption: life of a read-your-writes LSN token
  double failover_s = 30.0;                    // assumption: time to promote a replica
  double statement_timeout_s = 30.0;           // assumption: a query waiting longer is cancelled (pool/statement timeout)
  DatabaseReads reads_per_prompt;
  DatabaseWrites writes_per_prompt;
};

struct ServiceSpec {  // one API host
  std::int64_t cores_per_host = 32;            // assumption
  double cpu_ms_per_request = 2.0;             // assumption: gateway + auth + flow, excluding waits
  std::int64_t max_streams_per_host = 50'000;  // assumption: open SSE connections a host holds
};

struct ModelSpec {  // transformer shape, as the calibration profile names it
  std::string name = "llama3-8b";
  std::int64_t hidden = 4096, heads = 32, kv_heads = 8, head_dim = 128, ffn = 14336, layers = 32;
  std::int64_t vocab = 128256;
  std::int64_t dtype_bytes = 2;        // bf16
  std::int64_t tensor_parallel = 1;    // GPUs per model replica
  std::int64_t max_context_tokens = 8192;

  // Parameters of a dense decoder (attention, gated MLP, embeddings and LM head; norms ignored).
  double parameters() const;
  // Weight bytes each GPU of a tensor-parallel group holds.
  double weight_bytes_per_gpu() const;
  // KV-cache bytes one token takes on each GPU (K and V, every layer; KV heads split across the group,
  // replicated when there are fewer KV heads than GPUs).
  double kv_bytes_per_token_per_gpu() const;
  // The shape the GPU iteration-time model reasons about (shared/gpu/shapes.h).
  ModelShape shape() const;
};

struct EngineSpec {  // continuous-batching engine settings (vLLM's defaults)
  std::int64_t max_batch_sequences = 256;
  std::int64_t kv_block_tokens = 16;
  double memory_utilization = 0.9;     // fraction of GPU memory for weights + KV cache
  std::int64_t max_waiting = 1024;     // queued requests per engine before the gateway sheds
  std::int64_t max_batched_tokens = 8192;  // token budget of one iteration (vLLM max_num_batched_tokens)
  std::int64_t long_prefill_token_threshold = 0;  // prefill chunk cap per request per iteration; 0: none
  std::int64_t min_simulated_replicas = 1;  // engines the simulator runs per cluster at least
  double stream_chunk_s = 10;          // the simulator aggregates a stream's tokens into deltas this long
};

struct GpuClusterSpec {
  std::string name;
  std::string data_center;
  std::string region;        // a region name; where its latency is measured from
  double gpu_share = 0;      // fraction of the fleet; shares sum to 1
  std::string provider;      // price key in costs.gpu_usd_per_hour; default costs.gpu_provider
};

struct FleetSpec {
  std::int64_t gpus = 17'500;        // MISSION: 17,500 H100s
  std::int64_t gpus_per_server = 8;  // DGX/HGX H100
  std::vector<GpuClusterSpec> clusters;  // default: one cluster "default" in the primary region
};

struct GpuSpec {
  std::string calibration_profile;  // chatscale-gpu-profile/1 JSON, relative to the scenario file
  double memory_gib = 80;           // per GPU (H100 80GB)
  ModelSpec model;
  EngineSpec engine;
  FleetSpec fleet;
  std::vector<ModelSpec> compare_models;  // other models the fleet-sizing search is run for
};

struct ModerationSpec {
  double input_flag_rate = 0.005;   // assumption: share of user messages refused
  double output_flag_rate = 0.002;  // assumption: share of answers cut by output moderation
  double latency_ms = 15;           // assumption: one classifier call
};

enum class FailureKind { kRegionDown, kPrimaryDown, kReplicaDown, kGpuClusterDown, kServiceHostsDown, kLinkDown };
std::string_view failure_kind_name(FailureKind kind);

struct FailureSpec {
  FailureKind kind = FailureKind::kRegionDown;
  // region_down, replica_down, service_hosts_down: a region; gpu_cluster_down: a cluster;
  // link_down: "regionA-regionB"; primary_down: empty.
  std::string target;
  double at_s = 0;         // simulated seconds after the start
  double duration_s = 0;
  double fraction = 1.0;   // share of the target that fails (hosts, replicas, GPUs)
};

struct AvailabilitySpec {
  double target = 0.999;          // MISSION: 99.9% (43 min a month)
  double ttft_target_s = 2.0;     // MISSION: first token in under 2 s
  double ttft_percentile = 0.99;  // assumption: the percentile held to ttft_target_s
  std::int64_t max_lost_messages = 0;  // MISSION: zero message loss
  std::vector<FailureSpec> failures;
};

struct StorageSpec {
  double profile_bytes = 1'000;                 // MISSION: 1 KB per user profile
  double conversations_per_user = 10;           // MISSION: 10B conversations / 1B users
  double conversation_metadata_bytes = 500;     // MISSION: 500 B per conversation
  double history_months = 0;                    // months of messages already stored
};

struct SimulationSpec {
  double duration_s = 3600;
  double sample_factor = 0.001;  // fraction of messages simulated as tasks; shared singletons see all
  std::uint64_t seed = 1;
  double start_hour = 17.0;      // UTC hour of day the run starts
  double warmup_s = 0;           // seconds excluded from the report
  double metrics_interval_s = 15;
};

struct Scenario {
  std::string name;
  std::string description;
  std::string source_path;  // the file it came from (relative paths inside resolve against it)
  UsersSpec users;
  TrafficSpec traffic;
  std::vector<RegionSpec> regions;
  NetworkSpec network;
  DatabaseSpec database;
  ServiceSpec service;
  GpuSpec gpu;
  std::vector<Tier> tiers;
  ModerationSpec moderation;
  Prices costs;
  AvailabilitySpec availability;
  StorageSpec storage;
  SimulationSpec simulation;

  int region_index(std::string_view name) const;  // -1 when absent
  // One-way latency and bandwidth between regions a and b (indices), from the matrix or groups.
  double latency_ms(std::size_t a, std::size_t b) const;
  double bandwidth_gbps(std::size_t a, std::size_t b) const;
  std::int64_t total_read_replicas() const;
  std::int64_t total_service_hosts() const;
  // The calibration profile path resolved against the scenario file's folder ("" when unset).
  std::string calibration_profile_path() const;
};

Result<Scenario> parse_scenario(std::string_view yaml, const std::string& filename);
Result<Scenario> load_scenario_file(const std::string& path);

// The rate-limit tiers of a standalone tiers file (top level `tiers:`, as the scenario's rate_limits
// section), read by the same code as the scenario's.
Result<std::vector<Tier>> parse_tiers(std::string_view yaml, const std::string& filename);
Result<std::vector<Tier>> load_tiers_file(const std::string& path);

// Every key path the scenario (or tiers file) parser accepts, lists as "[]": "regions[].user_share".
std::vector<std::string> scenario_key_paths();
std::vector<std::string> tiers_key_paths();

}  // namespace chatscale
