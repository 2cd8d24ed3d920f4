// Read-replica router: decides, per read, which PostgreSQL replica serves it or whether it goes to the
// primary, and says why. Used by the simulator's database model and the production store adapters.
//
// Rules (the decision for one read, pick_replica):
// - Rotation. A replica is in rotation when its last report is healthy, no older than
//   stale_report_seconds, and its lag is within bounds. Lag uses hysteresis: a replica leaves when its
//   lag exceeds max_lag_seconds and re-enters only once it is at or below rejoin_lag_seconds (by
//   default the same bound, i.e. no hysteresis). Health has none: the next healthy, fresh report brings
//   a replica back. A registered replica that never reported is out (counted as unhealthy).
// - Lag. The reported lag is capped by what the LSNs prove: a replica that has replayed the primary's
//   last reported LSN is at most (its report time - the primary's report time) behind, so an idle
//   primary (where PostgreSQL's replay-timestamp lag keeps growing) does not evict caught-up replicas.
// - Read-your-writes. While a token is live (lsn > 0 and |now - issued_at| <= token_ttl_seconds), only
//   replicas whose replayed LSN >= token.lsn qualify. After the TTL any replica in rotation qualifies:
//   replicas in rotation are within max_lag_seconds, which token_ttl_seconds must exceed. A token dated
//   in the future stays live at most 2 x TTL, so a forged token can pin one caller's reads to the
//   primary for a bounded time only.
// - Choice. Among qualifying replicas: the caller's region first, then the fewest outstanding reads,
//   then round robin (a cursor that moves past each pick), so equal replicas share the load.
// - Fallback. With no qualifying replica the read goes to the primary with a reason, for
//   chatscale_db_primary_fallbacks_total{reason}: no_replicas (none registered), token_not_replayed
//   (some in rotation but none has replayed the token), all_lagging (none in rotation and at least one
//   out only for lag), all_unhealthy (every replica unhealthy, stale or unreported).
//
// Load: pick_replica counts the read as outstanding on the target it returns (replica or primary);
// the caller must call end_read(decision.target) when the read finishes (or fails).
//
// Ownership: owns its replica table (copies of names and regions). No clock reads, no I/O.
// Thread-safety: internally synchronised by one mutex; every call is O(replicas) under it with no
// allocation on the pick path beyond the returned name. Safe from many threads (prod) or one (sim).
// Failure behaviour: bad arguments (unknown or duplicate names, non-finite numbers) are returned as
// Status and leave the state unchanged; a negative reported lag (replica clock ahead) counts as 0;
// reports older than the last one for the same server are ignored.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "ports/types.h"
#include "replica/read_token.h"

namespace chatscale {

struct ReplicaRouterOptions {
  double max_lag_seconds = 5.0;       // a replica leaves rotation when its lag exceeds this
  std::optional<double> rejoin_lag_seconds;  // re-enters at or below this; default max_lag_seconds
  double token_ttl_seconds = 30.0;    // a read token is honoured this long after issue
  double stale_report_seconds = 10.0; // a replica whose last report is older leaves rotation
};

// InvalidArgument when a bound is negative or non-finite, or rejoin_lag_seconds > max_lag_seconds.
Status validate(const ReplicaRouterOptions& options);

enum class FallbackReason { kNone, kNoReplicas, kTokenNotReplayed, kAllLagging, kAllUnhealthy };
// Metric label values: "none", "no_replicas", "token_not_replayed", "all_lagging", "all_unhealthy".
std::string_view fallback_reason_name(FallbackReason reason);

// Why a replica is (not) in rotation at a given time.
enum class ReplicaState { kInRotation, kLagging, kUnhealthy, kStale, kUnreported };
std::string_view replica_state_name(ReplicaState state);

struct RouteDecision {
  bool use_primary = false;
  std::string target;  // the replica's name, or the primary's name ("" if no primary was set)
  FallbackReason reason = FallbackReason::kNone;  // kNone when a replica was picked
  bool token_live = false;  // the read-your-writes constraint applied to this read
};

// One replica as the router sees it (for the chatscale_db_replica_lag_seconds gauge and operators).
struct ReplicaView {
  std::string name;
  std::string region;
  Lsn replayed_lsn = 0;
  double lag_seconds = 0;       // effective lag (reported, capped by the LSN evidence)
  double last_report_at = 0;
  ReplicaState state = ReplicaState::kUnreported;
  std::int64_t outstanding_reads = 0;
};

class ReplicaRouter {
 public:
  // Options are clamped to validity (negative bounds to 0, rejoin to max_lag); call validate() first
  // to report bad configuration.
  explicit ReplicaRouter(ReplicaRouterOptions options = {});
  ReplicaRouter(const ReplicaRouter&) = delete;
  ReplicaRouter& operator=(const ReplicaRouter&) = delete;

  // Registration. Names are unique across replicas and the primary; empty names are InvalidArgument.
  Status set_primary(std::string name, std::string region);
  Status add_replica(std::string name, std::string region);
  Status remove_replica(std::string_view name);

  // State updates from health probes (prod) or the WAL model (sim). NotFound for an unknown replica.
  Status report_replica(std::string_view name, Lsn replayed_lsn, double lag_seconds, bool healthy,
                        double now);
  Status report_primary_lsn(Lsn lsn, double now);

  // The decision for one read; counts it as outstanding on the returned target.
  RouteDecision pick_replica(const ReadToken& token, std::string_view caller_region, double now);
  // Ends a read counted by pick_replica. NotFound for an unknown name; FailedPrecondition when the
  // target has no outstanding read (the count never goes negative).
  Status end_read(std::string_view target);

  std::vector<ReplicaView> replicas(double now) const;
  Lsn primary_lsn() const;
  std::int64_t primary_outstanding_reads() const;
  const ReplicaRouterOptions& options() const { return options_; }

 private:
  struct Replica {
    std::string name;
    std::string region;
    Lsn replayed_lsn = 0;
    double lag_seconds = 0;  // effective, computed at report time
    bool healthy = false;
    bool reported = false;
    bool lag_ok = true;      // hysteresis state
    double last_report_at = 0;
    std::int64_t outstanding = 0;
  };
  ReplicaState state_of(const Replica& r, double now) const;
  double effective_lag(Lsn replayed_lsn, double lag_seconds, double now) const;
  bool is_better(const Replica& candidate, const Replica& best, std::string_view region) const;
  RouteDecision fall_back(FallbackReason reason, bool token_live);
  Replica* find_replica(std::string_view name);
  bool name_taken(std::string_view name) const;

  const ReplicaRouterOptions options_;

  mutable std::mutex mu_;  // guards everything below
  std::vector<Replica> replicas_;
  // Round-robin start of the next pick, per caller region: one shared cursor would keep landing on
  // the first replica of each region whenever picks from other regions move it in between.
  std::map<std::string, std::size_t, std::less<>> cursors_;
  std::string primary_name_;
  std::string primary_region_;
  Lsn primary_lsn_ = 0;
  double primary_reported_at_ = 0;
  bool primary_reported_ = false;
  std::int64_t primary_outstanding_ = 0;
};

}  // namespace chatscale
