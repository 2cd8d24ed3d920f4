#include "sim/db/database_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace chatscale::sim {
namespace {

constexpr std::string_view kPrimaryRole = "primary";
constexpr std::string_view kReplicaRole = "replica";
// Keeps the database's random stream apart from other components seeded with the same scenario seed.
constexpr std::uint64_t kSeedSalt = 0x6462'6d6f'6465'6c31ULL;  // "dbmodel1"

bool positive(double v) { return std::isfinite(v) && v > 0; }

Status validate_spec(const DatabaseSpec& db) {
  const std::pair<std::string_view, double> checks[] = {
      {"primary_max_transactions_per_s", db.primary_max_transactions_per_s},
      {"wal_capacity_bytes_per_s", db.wal_capacity_bytes_per_s},
      {"replica_apply_bytes_per_s", db.replica_apply_bytes_per_s},
      {"replica_max_reads_per_s", db.replica_max_reads_per_s},
      {"read_ms", db.read_ms},
      {"commit_ms", db.commit_ms},
  };
  for (const auto& [name, value] : checks) {
    if (!positive(value)) return invalid_argument("database." + std::string(name) + " must be positive");
  }
  if (!(std::isfinite(db.wal_bytes_per_write) && db.wal_bytes_per_write >= 0)) {
    return invalid_argument("database.wal_bytes_per_write must be >= 0");
  }
  return Status::ok();
}

ReplicaRouterOptions router_options(const DatabaseSpec& db, double stale_report_s) {
  ReplicaRouterOptions o;
  o.max_lag_seconds = db.replica_max_lag_s;
  o.token_ttl_seconds = db.read_your_writes_ttl_s;
  o.stale_report_seconds = stale_report_s;
  return o;
}

std::size_t reason_index(FallbackReason reason) { return static_cast<std::size_t>(reason); }

}  // namespace

Result<std::unique_ptr<DatabaseModel>> DatabaseModel::create(const Scenario& scenario, double sample_fraction,
                                                             MetricsSink& metrics, DatabaseModelOptions options) {
  if (!(sample_fraction > 0 && sample_fraction <= 1)) return invalid_argument("sample fraction must be in (0, 1]");
  if (scenario.regions.empty()) return invalid_argument("the scenario has no regions");
  CS_RETURN_IF_ERROR(validate_spec(scenario.database));
  const RateWindow& w = options.rate_window;
  if (!positive(w.min_s) || !(w.max_s >= w.min_s) || !positive(w.samples) || !std::isfinite(w.max_s)) {
    return invalid_argument("rate window: need 0 < min_s <= max_s and samples > 0");
  }
  if (!(options.overload_sigmas >= 0 && std::isfinite(options.overload_sigmas))) {
    return invalid_argument("overload_sigmas must be >= 0");
  }
  if (!(options.service_time_cv >= 0 && std::isfinite(options.service_time_cv))) {
    return invalid_argument("service_time_cv must be >= 0");
  }
  CS_RETURN_IF_ERROR(validate(router_options(scenario.database, options.stale_report_s)));
  int primary = 0;
  if (!scenario.database.primary_region.empty()) {
    primary = scenario.region_index(scenario.database.primary_region);
    if (primary < 0) return invalid_argument("unknown primary region " + scenario.database.primary_region);
  }
  std::unique_ptr<DatabaseModel> model(new DatabaseModel(scenario, sample_fraction, metrics, options, primary));
  CS_RETURN_IF_ERROR(model->router_.set_primary(model->primary_.name, model->region_names_[primary]));
  for (const Replica& r : model->replicas_) CS_RETURN_IF_ERROR(model->router_.add_replica(r.name, model->region_names_[r.region]));
  return model;
}

DatabaseModel::DatabaseModel(const Scenario& scenario, double sample_fraction, MetricsSink& metrics,
                             DatabaseModelOptions options, int primary_region)
    : spec_(scenario.database),
      f_(sample_fraction),
      options_(options),
      metrics_(metrics),
      router_(router_options(scenario.database, options.stale_report_s)),
      primary_{"primary-" + scenario.regions[static_cast<std::size_t>(primary_region)].name, primary_region,
               MultiServerQueue(spec_.primary_max_transactions_per_s * spec_.commit_ms / 1000,
                                options.rate_window.min_s, options.overload_sigmas),
               FluidQueue(spec_.wal_capacity_bytes_per_s, options.rate_window.min_s, options.overload_sigmas),
               false},
      wal_(options.max_wal_records, 0),
      rng_(scenario.simulation.seed ^ kSeedSalt) {
  primary_.queue.set_patience(spec_.statement_timeout_s);
  const std::size_t n = scenario.regions.size();
  for (std::size_t a = 0; a < n; ++a) {
    region_names_.push_back(scenario.regions[a].name);
    latency_s_.emplace_back();
    for (std::size_t b = 0; b < n; ++b) latency_s_[a].push_back(scenario.latency_ms(a, b) / 1000);
  }
  add_replicas(scenario);
}

// Replicas are registered interleaved across regions (the first of every region, then the second ...):
// the router breaks ties with one round-robin cursor over its registration order, which the picks of
// every region move, so a region's replicas must be spread evenly around that order for its reads to
// spread evenly over them (in region blocks, the first replica of a region took most of its reads).
void DatabaseModel::add_replicas(const Scenario& scenario) {
  const auto p = static_cast<std::size_t>(primary_.region);
  const double workers = spec_.replica_max_reads_per_s * spec_.read_ms / 1000;
  region_replicas_.assign(scenario.regions.size(), {});
  std::int64_t most = 0;
  for (const RegionSpec& region : scenario.regions) most = std::max(most, region.read_replicas);
  for (std::int64_t k = 1; k <= most; ++k) {
    for (std::size_t r = 0; r < scenario.regions.size(); ++r) {
      const RegionSpec& region = scenario.regions[r];
      if (region.read_replicas < k) continue;
      // One walsender stream per replica over the primary -> region link, sharing its bandwidth evenly.
      double share = scenario.bandwidth_gbps(p, r) * 1e9 / 8 / static_cast<double>(region.read_replicas);
      Replica replica{"replica-" + region.name + "-" + std::to_string(k), static_cast<int>(r),
                      latency_s_[p][r], share,
                      MultiServerQueue(workers, options_.rate_window.min_s, options_.overload_sigmas),
                      0, 0, 0, false, {}};
      replica.queue.set_patience(spec_.statement_timeout_s);
      replica_index_.emplace(replica.name, replicas_.size());
      region_replicas_[r].push_back(replicas_.size());
      replicas_.push_back(std::move(replica));
    }
  }
}

double DatabaseModel::round_trip_s(int a, int b) const {
  if (!valid_region(a) || !valid_region(b)) return 0;
  return latency_s_[static_cast<std::size_t>(a)][static_cast<std::size_t>(b)] +
         latency_s_[static_cast<std::size_t>(b)][static_cast<std::size_t>(a)];
}

double DatabaseModel::draw_service(double statements, double mean_s) {
  const double cv = options_.service_time_cv;
  if (cv <= 0) return statements * mean_s;
  // A sum of `statements` Gamma(k, mean/k) draws with k = 1/cv^2 is Gamma(statements x k, mean/k).
  const double k = 1 / (cv * cv);
  std::gamma_distribution<double> gamma(statements * k, mean_s / k);
  return gamma(rng_);
}

Result<WriteResult> DatabaseModel::write(int region, double rows, double now) {
  if (!valid_region(region)) return invalid_argument("unknown region index " + std::to_string(region));
  if (!(std::isfinite(rows) && rows >= 0)) return invalid_argument("rows must be >= 0");
  const double scale = 1 / f_;
  if (primary_.down) {
    totals_.failed_writes += scale;
    return unavailable("database primary " + primary_.name + " is down");
  }
  const double commit_s = spec_.commit_ms / 1000;
  const double bytes = rows * scale * spec_.wal_bytes_per_write;
  primary_.queue.offer(commit_s * scale, scale, now);
  primary_.wal.offer(bytes, now);
  wal_produced_ += bytes;
  lsn_ = std::max(lsn_, static_cast<Lsn>(wal_produced_));
  double wait = primary_.queue.draw_wait(now, commit_s, rng_) + primary_.wal.drain_s();
  double latency = round_trip_s(region, primary_.region) + wait + draw_service(1, commit_s);
  wal_.append(now + latency, lsn_);

  totals_.transactions += scale;
  totals_.write_rows += rows * scale;
  totals_.wal_bytes += bytes;
  window_.transactions += scale;
  window_.wal_bytes += bytes;
  metrics_.add(MetricId::kDbQueries, {kPrimaryRole, "write"}, rows * scale);
  metrics_.observe(MetricId::kDbQueryDuration, {kPrimaryRole, "write"}, latency);
  return WriteResult{latency, lsn_};
}

Result<ReadResult> DatabaseModel::read(int region, const ReadToken& token, double now, double statements,
                                       bool from_primary) {
  if (!valid_region(region)) return invalid_argument("unknown region index " + std::to_string(region));
  if (!(std::isfinite(statements) && statements > 0)) return invalid_argument("statements must be positive");
  RouteDecision decision;
  if (from_primary) {
    decision.use_primary = true;
    decision.target = primary_.name;
  } else {
    decision = router_.pick_replica(token, region_names_[static_cast<std::size_t>(region)], now);
    // The read's load is carried by the full-scale rates; the router's outstanding count is not used.
    (void)router_.end_read(decision.target);
  }
  if (decision.use_primary) return read_on_primary(std::move(decision), region, statements, now);
  return read_on_replica(std::move(decision), token, region, statements, now);
}

double DatabaseModel::serve_read(MultiServerQueue& queue, int from, int to, double statements, double now) {
  const double read_s = spec_.read_ms / 1000;
  queue.offer(statements * read_s / f_, statements / f_, now);
  double wait = queue.draw_wait(now, read_s, rng_);
  return round_trip_s(from, to) + wait + draw_service(statements, read_s);
}

Result<ReadResult> DatabaseModel::read_on_primary(RouteDecision decision, int region, double statements,
                                                  double now) {
  const double full = statements / f_;
  if (decision.reason != FallbackReason::kNone) {
    totals_.fallbacks[reason_index(decision.reason)] += full;
    metrics_.add(MetricId::kDbPrimaryFallbacks, {fallback_reason_name(decision.reason)}, full);
  }
  if (primary_.down) {
    totals_.failed_reads += full;
    return unavailable("database primary " + primary_.name + " is down");
  }
  double latency = serve_read(primary_.queue, region, primary_.region, statements, now);
  totals_.primary_reads += full;
  window_.primary_reads += full;
  metrics_.add(MetricId::kDbQueries, {kPrimaryRole, "read"}, full);
  metrics_.observe(MetricId::kDbQueryDuration, {kPrimaryRole, "read"}, latency);
  return ReadResult{latency, std::move(decision.target), true, decision.reason};
}

// The router's pick, or the least utilised replica of the same region that certainly qualifies too:
// healthy, reported lag within the bound, and replayed past the token while the router holds it live. A conservative subset of
// the router's rule that always contains its pick; see the header for why the model balances here.
DatabaseModel::Replica* DatabaseModel::balance(Replica* pick, Lsn token_lsn, double now) {
  Replica* best = pick;
  double best_load = pick->queue.utilisation(now);
  for (std::size_t i : region_replicas_[static_cast<std::size_t>(pick->region)]) {
    Replica& r = replicas_[i];
    if (&r == pick || r.down || r.lag_s > spec_.replica_max_lag_s) continue;
    if (static_cast<Lsn>(r.replayed) < token_lsn) continue;
    double load = r.queue.utilisation(now);
    if (load < best_load) {
      best = &r;
      best_load = load;
    }
  }
  return best;
}

Result<ReadResult> DatabaseModel::read_on_replica(RouteDecision decision, const ReadToken& token, int region,
                                                  double statements, double now) {
  const double full = statements / f_;
  Replica* replica = find_replica(decision.target);
  if (replica == nullptr) return internal_error("router picked unknown replica " + decision.target);
  replica = balance(replica, decision.token_live ? token.lsn : 0, now);
  if (replica->down) {  // reported unhealthy at once, so only reachable if a report raced; fail the read
    totals_.failed_reads += full;
    return unavailable("replica " + replica->name + " is down");
  }
  double latency = serve_read(replica->queue, region, replica->region, statements, now);
  totals_.replica_reads += full;
  window_.replica_reads += full;
  metrics_.add(MetricId::kDbQueries, {kReplicaRole, "read"}, full);
  metrics_.observe(MetricId::kDbQueryDuration, {kReplicaRole, "read"}, latency);
  return ReadResult{latency, replica->name, false, FallbackReason::kNone};
}

void DatabaseModel::tick(double now) {
  const double dt = std::max(0.0, now - last_tick_);
  primary_.queue.advance(now);
  primary_.wal.advance(now);
  primary_.queue.adapt_window(options_.rate_window, now);
  primary_.wal.adapt_window(options_.rate_window, now);
  (void)router_.report_primary_lsn(wal_.position_at(now), now);
  double min_replayed = std::numeric_limits<double>::infinity();
  double max_lag = 0;
  for (Replica& r : replicas_) {
    replicate(r, now, dt);
    r.queue.advance(now);
    r.queue.adapt_window(options_.rate_window, now);
    min_replayed = std::min(min_replayed, r.replayed);
    max_lag = std::max(max_lag, r.lag_s);
    (void)router_.report_replica(r.name, static_cast<Lsn>(r.replayed), r.lag_s, !r.down, now);
    metrics_.set(MetricId::kDbReplicaLag, {r.name}, r.lag_s);
    r.lag_history.push_back(static_cast<float>(r.lag_s));
  }
  if (std::isfinite(min_replayed)) wal_.prune_below(static_cast<Lsn>(min_replayed));
  else wal_.prune_below(wal_.position_at(now));

  DbTickSample s;
  s.t = now;
  s.dt = dt;
  if (dt > 0) {
    s.primary_tps = window_.transactions / dt;
    s.primary_reads_per_s = window_.primary_reads / dt;
    s.replica_reads_per_s = window_.replica_reads / dt;
    s.wal_bytes_per_s = window_.wal_bytes / dt;
  }
  s.primary_utilisation = primary_.queue.utilisation(now);
  s.primary_wait_s = primary_.queue.mean_wait(now, spec_.commit_ms / 1000) + primary_.wal.drain_s();
  s.max_replica_lag_s = max_lag;
  samples_.push_back(s);
  window_ = Window{};
  last_tick_ = std::max(last_tick_, now);
}

void DatabaseModel::replicate(Replica& r, double now, double dt) {
  if (!r.down) {
    double target = static_cast<double>(wal_.position_at(now - r.delay_s));
    r.received = std::max(r.received, std::min(target, r.received + r.bandwidth_Bps * dt));
    r.replayed = std::max(r.replayed, std::min(r.received, r.replayed + spec_.replica_apply_bytes_per_s * dt));
  }
  // A replica that has replayed everything the primary wrote has no lag, however long the primary
  // has been idle (PostgreSQL's replay-timestamp lag keeps growing then; the router caps it the same way).
  const double head = static_cast<double>(wal_.position_at(now));
  r.lag_s = r.replayed >= head ? 0.0 : now - wal_.time_of(static_cast<Lsn>(r.replayed), now);
}

Status DatabaseModel::set_replica_down(std::string_view name, bool down, double now) {
  Replica* r = find_replica(name);
  if (r == nullptr) return not_found("replica " + std::string(name) + " does not exist");
  r->down = down;
  // The router ignores a report older than the replica's last one (the last tick's).
  return router_.report_replica(r->name, static_cast<Lsn>(r->replayed), r->lag_s, !down,
                                std::max(now, last_tick_));
}

DatabaseModel::Replica* DatabaseModel::find_replica(std::string_view name) {
  auto it = replica_index_.find(std::string(name));
  return it == replica_index_.end() ? nullptr : &replicas_[it->second];
}

double DatabaseModel::peak_primary_tps(double window_s, double since) const {
  double best = 0;
  double sum = 0;      // transactions in the window
  double span = 0;     // seconds in the window
  std::size_t first = 0;
  for (std::size_t i = 0; i < samples_.size(); ++i) {
    const DbTickSample& s = samples_[i];
    if (s.t - s.dt < since) {
      first = i + 1;
      continue;
    }
    sum += s.primary_tps * s.dt;
    span += s.dt;
    while (first < i && span - samples_[first].dt >= window_s) {
      sum -= samples_[first].primary_tps * samples_[first].dt;
      span -= samples_[first].dt;
      ++first;
    }
    if (span >= window_s && span > 0) best = std::max(best, sum / span);
  }
  if (best == 0 && span > 0) best = sum / span;  // shorter than one window: the mean of what there is
  return best;
}

double DatabaseModel::read_fraction() const {
  double reads = totals_.primary_reads + totals_.replica_reads;
  double all = reads + totals_.write_rows;
  return all > 0 ? reads / all : 0;
}

double DatabaseModel::replica_lag_percentile(double q, double since) const {
  std::vector<float> pooled;
  for (const Replica& r : replicas_) {
    for (std::size_t i = 0; i < r.lag_history.size() && i < samples_.size(); ++i) {
      if (samples_[i].t >= since) pooled.push_back(r.lag_history[i]);
    }
  }
  if (pooled.empty()) return 0;
  q = std::clamp(q, 0.0, 1.0);
  auto k = static_cast<std::size_t>(std::ceil(q * static_cast<double>(pooled.size())));
  k = std::clamp<std::size_t>(k, 1, pooled.size()) - 1;
  std::nth_element(pooled.begin(), pooled.begin() + static_cast<std::ptrdiff_t>(k), pooled.end());
  return pooled[k];
}

std::vector<float> DatabaseModel::replica_lag_history(std::string_view name) const {
  auto it = replica_index_.find(std::string(name));
  return it == replica_index_.end() ? std::vector<float>{} : replicas_[it->second].lag_history;
}

std::vector<ReplicaStatus> DatabaseModel::replicas() const {
  std::vector<ReplicaStatus> out;
  out.reserve(replicas_.size());
  for (const Replica& r : replicas_) {
    out.push_back({r.name, r.region, static_cast<Lsn>(r.received), static_cast<Lsn>(r.replayed), r.lag_s,
                   r.queue.utilisation(last_tick_), r.down});
  }
  return out;
}

}  // namespace chatscale::sim
