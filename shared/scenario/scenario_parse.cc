// Section readers: one function per YAML section, each a list of declarative getter calls. Ranges here
// are the per-field bounds documented in scenarios/README.md; relations between fields live in
// scenario_validate.cc.
#include "scenario/scenario_sections.h"

namespace chatscale::scenario_internal {
namespace {

// A range whose lower bound is excluded: (lo, hi].
Range above(double lo, double hi) { return {lo, hi, true}; }

void read_users(YamlMap& m, UsersSpec& u) {
  m.integer("weekly_active", u.weekly_active, Range::at_least(1));
  m.integer("daily_active", u.daily_active, Range::at_least(1));
  m.number("prompts_per_user_per_day", u.prompts_per_user_per_day, Range::at_least(0));
}

void read_size(YamlMap& m, SizeSpec& s) {
  m.number("mean_bytes", s.mean_bytes, Range::positive());
  m.choice("distribution", s.distribution,
           {{"fixed", SizeDistribution::kFixed},
            {"exponential", SizeDistribution::kExponential},
            {"lognormal", SizeDistribution::kLognormal}});
  m.number("sigma", s.sigma, Range::between(0, 5));
}

void read_traffic(YamlMap& m, TrafficSpec& t) {
  m.number("peak_share", t.peak_share, Range::fraction());
  m.number("peak_hours", t.peak_hours, above(0, 24));
  m.number("peak_start_hour", t.peak_start_hour, Range::between(0, 24));
  m.choice("clock", t.clock, {{"utc", DiurnalClock::kUtc}, {"local", DiurnalClock::kLocal}});
  m.numbers("hourly_weights", t.hourly_weights, Range::at_least(0), 24);
  m.choice("arrivals", t.arrivals, {{"poisson", ArrivalProcess::kPoisson}, {"uniform", ArrivalProcess::kUniform}});
  m.number("think_time_s", t.think_time_s, Range::at_least(0));
  m.number("turns_per_conversation", t.turns_per_conversation, Range::at_least(1));
  m.section("user_message", [&](YamlMap& s) { read_size(s, t.user_message); });
  m.section("assistant_response", [&](YamlMap& s) { read_size(s, t.assistant_response); });
  m.number("bytes_per_token", t.bytes_per_token, Range::positive());
  m.number("stream_bytes", t.stream_bytes, Range::at_least(0));
  m.number("stream_duration_s", t.stream_duration_s, Range::positive());
  m.integer("max_tokens", t.max_tokens, Range::at_least(1));
}

void read_region(YamlMap& m, RegionSpec& r) {
  m.require({"name", "user_share"});
  m.text("name", r.name);
  m.text("group", r.group);
  m.number("utc_offset_hours", r.utc_offset_hours, Range::between(-12, 14));
  m.number("user_share", r.user_share, Range::fraction());
  m.integer("service_hosts", r.service_hosts, Range::at_least(0));
  m.integer("read_replicas", r.read_replicas, Range::at_least(0));
}

void read_network(YamlMap& m, NetworkSpec& n) {
  m.number("same_region_latency_ms", n.same_region_latency_ms, Range::at_least(0));
  m.number("same_group_latency_ms", n.same_group_latency_ms, Range::at_least(0));
  m.number("cross_group_latency_ms", n.cross_group_latency_ms, Range::at_least(0));
  m.number("inter_region_bandwidth_gbps", n.inter_region_bandwidth_gbps, Range::positive());
  m.number("intra_region_bandwidth_gbps", n.intra_region_bandwidth_gbps, Range::positive());
  m.matrix("latency_ms", n.latency_ms, Range::at_least(0));
  m.matrix("bandwidth_gbps", n.bandwidth_gbps, Range::positive());
}

void read_database(YamlMap& m, DatabaseSpec& d) {
  m.text("primary_region", d.primary_region);
  m.number("primary_max_transactions_per_s", d.primary_max_transactions_per_s, Range::positive());
  m.number("wal_capacity_bytes_per_s", d.wal_capacity_bytes_per_s, Range::positive());
  m.number("wal_bytes_per_write", d.wal_bytes_per_write, Range::positive());
  m.number("replica_apply_bytes_per_s", d.replica_apply_bytes_per_s, Range::positive());
  m.number("replica_max_reads_per_s", d.replica_max_reads_per_s, Range::positive());
  m.number("read_ms", d.read_ms, Range::at_least(0));
  m.number("commit_ms", d.commit_ms, Range::at_least(0));
  m.number("replica_max_lag_s", d.replica_max_lag_s, Range::positive());
  m.number("read_your_writes_ttl_s", d.read_your_writes_ttl_s, Range::at_least(0));
  m.number("failover_s", d.failover_s, Range::at_least(0));
  m.number("statement_timeout_s", d.statement_timeout_s, Range::positive());
  m.section("reads_per_prompt", [&](YamlMap& s) {
    DatabaseReads& r = d.reads_per_prompt;
    s.number("account", r.account, Range::at_least(0));
    s.number("quota", r.quota, Range::at_least(0));
    s.number("conversation_metadata", r.conversation_metadata, Range::at_least(0));
    s.number("recent_messages", r.recent_messages, Range::at_least(0));
    s.number("rate_limit_state", r.rate_limit_state, Range::at_least(0));
    s.number("feature_flags", r.feature_flags, Range::at_least(0));
  });
  m.section("writes_per_prompt", [&](YamlMap& s) {
    DatabaseWrites& w = d.writes_per_prompt;
    s.number("messages", w.messages, Range::at_least(0));
    s.number("conversation_metadata", w.conversation_metadata, Range::at_least(0));
    s.number("usage_counters", w.usage_counters, Range::at_least(0));
    s.number("logs", w.logs, Range::at_least(0));
  });
}

void read_service(YamlMap& m, ServiceSpec& s) {
  m.integer("cores_per_host", s.cores_per_host, Range::at_least(1));
  m.number("cpu_ms_per_request", s.cpu_ms_per_request, Range::at_least(0));
  m.integer("max_streams_per_host", s.max_streams_per_host, Range::at_least(1));
}

void read_model(YamlMap& m, ModelSpec& s) {
  m.text("name", s.name);
  m.integer("hidden", s.hidden, Range::at_least(1));
  m.integer("heads", s.heads, Range::at_least(1));
  m.integer("kv_heads", s.kv_heads, Range::at_least(1));
  m.integer("head_dim", s.head_dim, Range::at_least(1));
  m.integer("ffn", s.ffn, Range::at_least(1));
  m.integer("layers", s.layers, Range::at_least(1));
  m.integer("vocab", s.vocab, Range::at_least(1));
  m.integer("dtype_bytes", s.dtype_bytes, Range::between(1, 8));
  m.integer("tensor_parallel", s.tensor_parallel, Range::at_least(1));
  m.integer("max_context_tokens", s.max_context_tokens, Range::at_least(1));
}

void read_engine(YamlMap& m, EngineSpec& e) {
  m.integer("max_batch_sequences", e.max_batch_sequences, Range::at_least(1));
  m.integer("kv_block_tokens", e.kv_block_tokens, Range::at_least(1));
  m.number("memory_utilization", e.memory_utilization, above(0, 1));
  m.integer("max_waiting", e.max_waiting, Range::at_least(1));
  m.integer("max_batched_tokens", e.max_batched_tokens, Range::at_least(1));
  m.integer("long_prefill_token_threshold", e.long_prefill_token_threshold, Range::at_least(0));
  m.integer("min_simulated_replicas", e.min_simulated_replicas, Range::between(1, 1000));
  m.number("stream_chunk_s", e.stream_chunk_s, Range::positive());
}

void read_cluster(YamlMap& m, GpuClusterSpec& c) {
  m.require({"name", "region", "gpu_share"});
  m.text("name", c.name);
  m.text("data_center", c.data_center);
  m.text("region", c.region);
  m.number("gpu_share", c.gpu_share, Range::fraction());
  m.text("provider", c.provider);
}

void read_gpu(YamlMap& m, GpuSpec& g) {
  m.text("calibration_profile", g.calibration_profile, true);
  m.number("memory_gib", g.memory_gib, Range::positive());
  m.section("model", [&](YamlMap& s) { read_model(s, g.model); });
  m.section("engine", [&](YamlMap& s) { read_engine(s, g.engine); });
  m.section("fleet", [&](YamlMap& s) {
    s.integer("gpus", g.fleet.gpus, Range::at_least(1));
    s.integer("gpus_per_server", g.fleet.gpus_per_server, Range::at_least(1));
    s.list("clusters", [&](YamlMap& item) {
      GpuClusterSpec cluster;
      read_cluster(item, cluster);
      g.fleet.clusters.push_back(std::move(cluster));
    });
  });
  // Alternative models for the fleet-sizing table: each a full model section (defaults as for `model`).
  m.list("compare_models", [&](YamlMap& item) {
    ModelSpec alt;
    item.require({"name"});
    read_model(item, alt);
    g.compare_models.push_back(std::move(alt));
  });
}

void read_tier(YamlMap& m, Tier& t) {
  m.require({"name", "requests_per_minute", "tokens_per_minute"});
  m.text("name", t.name);
  m.number("share", t.share, Range::fraction());
  m.number("requests_per_minute", t.requests_per_minute, Range::positive());
  m.number("tokens_per_minute", t.tokens_per_minute, Range::positive());
  m.integer("max_concurrent", t.max_concurrent, Range::at_least(0));
  m.integer("max_output_tokens", t.max_output_tokens, Range::at_least(0));
  m.integer("priority", t.priority, Range::any());
}

void read_moderation(YamlMap& m, ModerationSpec& s) {
  m.number("input_flag_rate", s.input_flag_rate, Range::fraction());
  m.number("output_flag_rate", s.output_flag_rate, Range::fraction());
  m.number("latency_ms", s.latency_ms, Range::at_least(0));
}

void read_costs(YamlMap& m, Prices& p) {
  m.number("hours_per_month", p.hours_per_month, Range::positive());
  m.number_map("gpu_usd_per_hour", p.gpu_usd_per_hour, Range::at_least(0));
  m.text("gpu_provider", p.gpu_provider);
  m.number("api_input_usd_per_million_tokens", p.api_input_usd_per_million_tokens, Range::at_least(0));
  m.number("api_output_usd_per_million_tokens", p.api_output_usd_per_million_tokens, Range::at_least(0));
  m.number("storage_usd_per_gb_month", p.storage_usd_per_gb_month, Range::at_least(0));
  m.number("egress_usd_per_gb", p.egress_usd_per_gb, Range::at_least(0));
  m.number("database_server_usd_per_hour", p.database_server_usd_per_hour, Range::at_least(0));
  m.number("app_server_usd_per_hour", p.app_server_usd_per_hour, Range::at_least(0));
  m.number("upfront_usd", p.upfront_usd, Range::at_least(0));
  m.number("upfront_amortization_months", p.upfront_amortization_months, Range::at_least(0));
}

void read_failure(YamlMap& m, FailureSpec& f) {
  m.require({"kind", "at_s", "duration_s"});
  m.choice("kind", f.kind,
           {{"region_down", FailureKind::kRegionDown},
            {"primary_down", FailureKind::kPrimaryDown},
            {"replica_down", FailureKind::kReplicaDown},
            {"gpu_cluster_down", FailureKind::kGpuClusterDown},
            {"service_hosts_down", FailureKind::kServiceHostsDown},
            {"link_down", FailureKind::kLinkDown}});
  m.text("target", f.target, true);
  m.number("at_s", f.at_s, Range::at_least(0));
  m.number("duration_s", f.duration_s, Range::positive());
  m.number("fraction", f.fraction, above(0, 1));
}

void read_availability(YamlMap& m, AvailabilitySpec& a) {
  m.number("target", a.target, Range::fraction());
  m.number("ttft_target_s", a.ttft_target_s, Range::positive());
  m.number("ttft_percentile", a.ttft_percentile, above(0, 1));
  m.integer("max_lost_messages", a.max_lost_messages, Range::at_least(0));
  m.list("failures", [&](YamlMap& item) {
    FailureSpec failure;
    read_failure(item, failure);
    a.failures.push_back(std::move(failure));
  });
}

void read_storage(YamlMap& m, StorageSpec& s) {
  m.number("profile_bytes", s.profile_bytes, Range::at_least(0));
  m.number("conversations_per_user", s.conversations_per_user, Range::at_least(0));
  m.number("conversation_metadata_bytes", s.conversation_metadata_bytes, Range::at_least(0));
  m.number("history_months", s.history_months, Range::at_least(0));
}

void read_simulation(YamlMap& m, SimulationSpec& s) {
  m.number("duration_s", s.duration_s, Range::positive());
  m.number("sample_factor", s.sample_factor, above(0, 1));
  std::int64_t seed = static_cast<std::int64_t>(s.seed);
  m.integer("seed", seed, Range::at_least(0));
  s.seed = static_cast<std::uint64_t>(seed);
  m.number("start_hour", s.start_hour, Range::between(0, 24));
  m.number("warmup_s", s.warmup_s, Range::at_least(0));
  m.number("metrics_interval_s", s.metrics_interval_s, Range::positive());
}

}  // namespace

void read_rate_limits(YamlMap& section, std::vector<Tier>& tiers) {
  section.require({"tiers"});
  section.list("tiers", [&](YamlMap& item) {
    Tier tier;
    read_tier(item, tier);
    tiers.push_back(std::move(tier));
  });
}

void read_scenario(YamlMap& root, Scenario& s) {
  root.require({"name", "regions"});
  root.text("name", s.name);
  root.text("description", s.description, true);
  root.section("users", [&](YamlMap& m) { read_users(m, s.users); });
  root.section("traffic", [&](YamlMap& m) { read_traffic(m, s.traffic); });
  root.list("regions", [&](YamlMap& item) {
    RegionSpec region;
    read_region(item, region);
    s.regions.push_back(std::move(region));
  });
  root.section("network", [&](YamlMap& m) { read_network(m, s.network); });
  root.section("database", [&](YamlMap& m) { read_database(m, s.database); });
  root.section("service", [&](YamlMap& m) { read_service(m, s.service); });
  root.section("gpu", [&](YamlMap& m) { read_gpu(m, s.gpu); });
  root.section("rate_limits", [&](YamlMap& m) { read_rate_limits(m, s.tiers); });
  root.section("moderation", [&](YamlMap& m) { read_moderation(m, s.moderation); });
  root.section("costs", [&](YamlMap& m) { read_costs(m, s.costs); });
  root.section("availability", [&](YamlMap& m) { read_availability(m, s.availability); });
  root.section("storage", [&](YamlMap& m) { read_storage(m, s.storage); });
  root.section("simulation", [&](YamlMap& m) { read_simulation(m, s.simulation); });
}

}  // namespace chatscale::scenario_internal
