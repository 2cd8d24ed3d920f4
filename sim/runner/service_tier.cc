#include "sim/runner/service_tier.h"

#include <algorithm>
#include <cmath>

namespace chatscale::sim {

ServiceTier::ServiceTier(const Scenario& s, double sample_fraction, std::uint64_t seed)
    : cpu_s_(s.service.cpu_ms_per_request / 1000),
      max_streams_per_host_(static_cast<double>(s.service.max_streams_per_host)),
      f_(sample_fraction),
      streams_(s.regions.size(), 0),
      rng_(seed) {
  for (const auto& r : s.regions) {
    double hosts = static_cast<double>(std::max<std::int64_t>(1, r.service_hosts));
    double cores = hosts * static_cast<double>(std::max<std::int64_t>(1, s.service.cores_per_host));
    Region region{hosts, 0, MultiServerQueue(cores, window_.min_s)};
    region.cores.set_patience(s.database.statement_timeout_s);
    regions_.push_back(std::move(region));
  }
}

Result<double> ServiceTier::admit(int index, double now) {
  Region& r = regions_[static_cast<std::size_t>(index)];
  double up = r.hosts * (1 - r.down_fraction);
  double open = static_cast<double>(streams_[static_cast<std::size_t>(index)]) / f_;
  if (up <= 0 || open >= up * max_streams_per_host_) {
    ++refused_;
    return unavailable(up <= 0 ? "every API host of the region is down" : "the region's hosts hold their maximum of streams");
  }
  r.cores.adapt_window(window_, now);
  // With a share of the hosts down, the same work loads the rest: offered busy time scales by 1/up.
  r.cores.offer(cpu_s_ / f_ / (1 - r.down_fraction), 1 / f_, now);
  double wait = r.cores.draw_wait(now, cpu_s_, rng_);
  if (!std::isfinite(wait)) {
    ++refused_;
    return unavailable("the region's API hosts are overloaded");
  }
  return wait + cpu_s_;
}

void ServiceTier::set_hosts_down(int index, double fraction) {
  Region& r = regions_[static_cast<std::size_t>(index)];
  r.down_fraction = std::clamp(fraction, 0.0, 1.0);
}

double ServiceTier::utilisation(int index, double now) const {
  return regions_[static_cast<std::size_t>(index)].cores.utilisation(now);
}

}  // namespace chatscale::sim
