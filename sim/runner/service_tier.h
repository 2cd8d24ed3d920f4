// The API tier of each region: `service_hosts` hosts running `chatscale serve`, each with
// `cores_per_host` cores and a cap of `max_streams_per_host` open SSE streams. Each request costs
// `cpu_ms_per_request` of CPU (gateway, auth, the flow's own work) and waits for a core: an M/M/c queue
// over all the region's cores at full-scale load (sampled load / f), with the statement-timeout style
// abandonment of sim/db/queueing.h when overloaded. A region whose streams are at the cap, or whose
// hosts are all down, refuses the request (503). No SimGrid: the runner sleeps the returned time.
// Thread-safety: one simulation thread.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "core/status.h"
#include "scenario/scenario.h"
#include "sim/db/queueing.h"

namespace chatscale::sim {

class ServiceTier {
 public:
  ServiceTier(const Scenario& scenario, double sample_fraction, std::uint64_t seed);

  // Admission of one request from `region` at `now`: the gateway's time (queueing + CPU), or
  // Unavailable when the region cannot take it.
  Result<double> admit(int region, double now);
  // Open streams of a region, as the runner counts them (sampled).
  void stream_opened(int region) { ++streams_[static_cast<std::size_t>(region)]; }
  void stream_closed(int region) { --streams_[static_cast<std::size_t>(region)]; }
  // service_hosts_down: a share of the region's hosts fails (their streams are lost to reconnects).
  void set_hosts_down(int region, double fraction);

  double utilisation(int region, double now) const;
  double refused() const { return refused_; }  // sampled requests refused

 private:
  struct Region {
    double hosts = 1;
    double down_fraction = 0;
    MultiServerQueue cores;
  };
  double cpu_s_;
  double max_streams_per_host_;
  double f_;
  std::vector<Region> regions_;
  std::vector<std::int64_t> streams_;
  std::mt19937_64 rng_;
  double refused_ = 0;
  RateWindow window_;
};

}  // namespace chatscale::sim
