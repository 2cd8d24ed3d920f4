#include "replica/replica_router.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace chatscale {
namespace {

double non_negative(double v) { return std::isfinite(v) && v > 0 ? v : 0.0; }

ReplicaRouterOptions clamped(ReplicaRouterOptions o) {
  o.max_lag_seconds = non_negative(o.max_lag_seconds);
  o.token_ttl_seconds = non_negative(o.token_ttl_seconds);
  o.stale_report_seconds = non_negative(o.stale_report_seconds);
  double rejoin = o.rejoin_lag_seconds.value_or(o.max_lag_seconds);
  o.rejoin_lag_seconds = std::min(non_negative(rejoin), o.max_lag_seconds);
  return o;
}

bool bad_bound(double v) { return !std::isfinite(v) || v < 0; }

}  // namespace

Status validate(const ReplicaRouterOptions& o) {
  if (bad_bound(o.max_lag_seconds)) return invalid_argument("max_lag_seconds must be finite and >= 0");
  if (bad_bound(o.token_ttl_seconds)) return invalid_argument("token_ttl_seconds must be finite and >= 0");
  if (bad_bound(o.stale_report_seconds)) {
    return invalid_argument("stale_report_seconds must be finite and >= 0");
  }
  if (o.rejoin_lag_seconds) {
    if (bad_bound(*o.rejoin_lag_seconds)) {
      return invalid_argument("rejoin_lag_seconds must be finite and >= 0");
    }
    if (*o.rejoin_lag_seconds > o.max_lag_seconds) {
      return invalid_argument("rejoin_lag_seconds must not exceed max_lag_seconds");
    }
  }
  return Status::ok();
}

std::string_view fallback_reason_name(FallbackReason reason) {
  switch (reason) {
    case FallbackReason::kNone: return "none";
    case FallbackReason::kNoReplicas: return "no_replicas";
    case FallbackReason::kTokenNotReplayed: return "token_not_replayed";
    case FallbackReason::kAllLagging: return "all_lagging";
    case FallbackReason::kAllUnhealthy: return "all_unhealthy";
  }
  return "unknown";
}

std::string_view replica_state_name(ReplicaState state) {
  switch (state) {
    case ReplicaState::kInRotation: return "in_rotation";
    case ReplicaState::kLagging: return "lagging";
    case ReplicaState::kUnhealthy: return "unhealthy";
    case ReplicaState::kStale: return "stale";
    case ReplicaState::kUnreported: return "unreported";
  }
  return "unknown";
}

ReplicaRouter::ReplicaRouter(ReplicaRouterOptions options) : options_(clamped(std::move(options))) {}

Status ReplicaRouter::set_primary(std::string name, std::string region) {
  if (name.empty()) return invalid_argument("primary name must not be empty");
  std::lock_guard lock(mu_);
  if (name != primary_name_ && name_taken(name)) {
    return already_exists("database server '" + name + "' is already registered");
  }
  primary_name_ = std::move(name);
  primary_region_ = std::move(region);
  return Status::ok();
}

Status ReplicaRouter::add_replica(std::string name, std::string region) {
  if (name.empty()) return invalid_argument("replica name must not be empty");
  std::lock_guard lock(mu_);
  if (name_taken(name)) return already_exists("database server '" + name + "' is already registered");
  Replica r;
  r.name = std::move(name);
  r.region = std::move(region);
  replicas_.push_back(std::move(r));
  return Status::ok();
}

Status ReplicaRouter::remove_replica(std::string_view name) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(replicas_.begin(), replicas_.end(),
                         [&](const Replica& r) { return r.name == name; });
  if (it == replicas_.end()) return not_found("replica '" + std::string(name) + "' is not registered");
  replicas_.erase(it);
  for (auto& [region, cursor] : cursors_)
    if (cursor >= replicas_.size()) cursor = 0;
  return Status::ok();
}

Status ReplicaRouter::report_replica(std::string_view name, Lsn replayed_lsn, double lag_seconds,
                                     bool healthy, double now) {
  if (!std::isfinite(now)) return invalid_argument("report time must be finite");
  if (std::isnan(lag_seconds)) return invalid_argument("replica lag must be a number");
  std::lock_guard lock(mu_);
  Replica* r = find_replica(name);
  if (r == nullptr) return not_found("replica '" + std::string(name) + "' is not registered");
  if (r->reported && now < r->last_report_at) return Status::ok();  // an older probe answered late
  r->replayed_lsn = replayed_lsn;
  r->lag_seconds = effective_lag(replayed_lsn, std::max(lag_seconds, 0.0), now);
  r->healthy = healthy;
  r->reported = true;
  r->last_report_at = now;
  // Hysteresis: leave above max_lag, come back only at or below rejoin_lag.
  r->lag_ok = r->lag_ok ? r->lag_seconds <= options_.max_lag_seconds
                        : r->lag_seconds <= *options_.rejoin_lag_seconds;
  return Status::ok();
}

Status ReplicaRouter::report_primary_lsn(Lsn lsn, double now) {
  if (!std::isfinite(now)) return invalid_argument("report time must be finite");
  std::lock_guard lock(mu_);
  if (primary_reported_ && now < primary_reported_at_) return Status::ok();
  primary_lsn_ = lsn;
  primary_reported_at_ = now;
  primary_reported_ = true;
  return Status::ok();
}

RouteDecision ReplicaRouter::pick_replica(const ReadToken& token, std::string_view caller_region,
                                          double now) {
  std::lock_guard lock(mu_);
  // A NaN issued_at fails the comparison and counts as expired.
  bool token_live = token.lsn > 0 && std::abs(now - token.issued_at) <= options_.token_ttl_seconds;
  if (replicas_.empty()) return fall_back(FallbackReason::kNoReplicas, token_live);

  int in_rotation = 0;
  int lagging = 0;
  Replica* best = nullptr;
  std::size_t best_index = 0;
  const std::size_t n = replicas_.size();
  // Scan from the caller region's round-robin cursor: among equals, the first one met wins.
  auto cursor = cursors_.find(caller_region);
  if (cursor == cursors_.end()) cursor = cursors_.emplace(std::string(caller_region), 0).first;
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t i = (cursor->second + k) % n;
    Replica& r = replicas_[i];
    ReplicaState state = state_of(r, now);
    if (state == ReplicaState::kLagging) ++lagging;
    if (state != ReplicaState::kInRotation) continue;
    ++in_rotation;
    if (token_live && r.replayed_lsn < token.lsn) continue;
    if (best == nullptr || is_better(r, *best, caller_region)) {
      best = &r;
      best_index = i;
    }
  }
  if (best == nullptr) {
    FallbackReason reason = in_rotation > 0 ? FallbackReason::kTokenNotReplayed
                            : lagging > 0   ? FallbackReason::kAllLagging
                                            : FallbackReason::kAllUnhealthy;
    return fall_back(reason, token_live);
  }
  ++best->outstanding;
  cursor->second = (best_index + 1) % n;
  return RouteDecision{false, best->name, FallbackReason::kNone, token_live};
}

Status ReplicaRouter::end_read(std::string_view target) {
  std::lock_guard lock(mu_);
  std::int64_t* count = nullptr;
  if (!primary_name_.empty() && target == primary_name_) {
    count = &primary_outstanding_;
  } else if (Replica* r = find_replica(target)) {
    count = &r->outstanding;
  }
  if (count == nullptr) return not_found("database server '" + std::string(target) + "' is not registered");
  if (*count <= 0) {
    return failed_precondition("no outstanding read on '" + std::string(target) + "'");
  }
  --*count;
  return Status::ok();
}

std::vector<ReplicaView> ReplicaRouter::replicas(double now) const {
  std::lock_guard lock(mu_);
  std::vector<ReplicaView> out;
  out.reserve(replicas_.size());
  for (const Replica& r : replicas_) {
    out.push_back(ReplicaView{r.name, r.region, r.replayed_lsn, r.lag_seconds, r.last_report_at,
                              state_of(r, now), r.outstanding});
  }
  return out;
}

Lsn ReplicaRouter::primary_lsn() const {
  std::lock_guard lock(mu_);
  return primary_lsn_;
}

std::int64_t ReplicaRouter::primary_outstanding_reads() const {
  std::lock_guard lock(mu_);
  return primary_outstanding_;
}

ReplicaState ReplicaRouter::state_of(const Replica& r, double now) const {
  if (!r.reported) return ReplicaState::kUnreported;
  if (now - r.last_report_at > options_.stale_report_seconds) return ReplicaState::kStale;
  if (!r.healthy) return ReplicaState::kUnhealthy;
  if (!r.lag_ok) return ReplicaState::kLagging;
  return ReplicaState::kInRotation;
}

double ReplicaRouter::effective_lag(Lsn replayed_lsn, double lag_seconds, double now) const {
  // Having replayed everything the primary had written at primary_reported_at_, the replica is at most
  // (now - primary_reported_at_) behind, whatever the replay timestamp says.
  if (!primary_reported_ || replayed_lsn < primary_lsn_) return lag_seconds;
  return std::min(lag_seconds, std::max(0.0, now - primary_reported_at_));
}

bool ReplicaRouter::is_better(const Replica& candidate, const Replica& best,
                              std::string_view region) const {
  bool candidate_local = !region.empty() && candidate.region == region;
  bool best_local = !region.empty() && best.region == region;
  if (candidate_local != best_local) return candidate_local;
  return candidate.outstanding < best.outstanding;
}

RouteDecision ReplicaRouter::fall_back(FallbackReason reason, bool token_live) {
  ++primary_outstanding_;
  return RouteDecision{true, primary_name_, reason, token_live};
}

ReplicaRouter::Replica* ReplicaRouter::find_replica(std::string_view name) {
  for (Replica& r : replicas_) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

bool ReplicaRouter::name_taken(std::string_view name) const {
  if (name == primary_name_) return true;
  return std::any_of(replicas_.begin(), replicas_.end(), [&](const Replica& r) { return r.name == name; });
}

}  // namespace chatscale
