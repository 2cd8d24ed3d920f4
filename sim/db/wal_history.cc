#include "sim/db/wal_history.h"

#include <algorithm>

namespace chatscale::sim {
namespace {

// Records this close in time are merged into one (the later LSN wins).
constexpr double kCoalesceSeconds = 1e-5;

}  // namespace

WalHistory::WalHistory(std::size_t max_records, double start_time)
    : max_records_(std::max<std::size_t>(max_records, 8)) {
  records_.push_back({start_time, 0});
}

void WalHistory::append(double t, Lsn lsn) {
  Record& last = records_.back();
  if (lsn < last.lsn) return;
  if (t <= last.t + kCoalesceSeconds) {
    last.lsn = lsn;
    return;
  }
  records_.push_back({t, lsn});
  if (records_.size() > max_records_) thin();
}

Lsn WalHistory::position_at(double t) const {
  auto after = std::upper_bound(records_.begin(), records_.end(), t,
                                [](double time, const Record& r) { return time < r.t; });
  if (after == records_.end()) return records_.back().lsn;
  if (after == records_.begin()) return records_.front().lsn;
  const Record& a = *(after - 1);
  const Record& b = *after;
  double share = (t - a.t) / (b.t - a.t);
  return a.lsn + static_cast<Lsn>(share * static_cast<double>(b.lsn - a.lsn));
}

double WalHistory::time_of(Lsn lsn, double now) const {
  if (position_at(now) <= lsn) return now;
  auto after = std::upper_bound(records_.begin(), records_.end(), lsn,
                                [](Lsn l, const Record& r) { return l < r.lsn; });
  if (after == records_.end()) return now;  // unreachable: P(now) > lsn implies a record above it
  if (after == records_.begin()) return std::min(after->t, now);
  const Record& a = *(after - 1);
  const Record& b = *after;
  double share = static_cast<double>(lsn - a.lsn) / static_cast<double>(b.lsn - a.lsn);
  return std::min(a.t + share * (b.t - a.t), now);
}

void WalHistory::prune_below(Lsn lsn) {
  while (records_.size() > 1 && records_[1].lsn <= lsn) records_.pop_front();
}

void WalHistory::thin() {
  std::deque<Record> kept;
  for (std::size_t i = 0; i < records_.size(); i += 2) kept.push_back(records_[i]);
  if (kept.back().t != records_.back().t) kept.push_back(records_.back());
  records_.swap(kept);
}

}  // namespace chatscale::sim
