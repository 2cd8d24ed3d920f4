// The primary's WAL position over time, P(t): how far the write-ahead log had got (in bytes, the LSN)
// at simulated time t. Built from one record (commit time, LSN reached) per sampled transaction and
// linear between records: the sampled commits stand for a continuous full-scale stream, so the bytes a
// record adds are taken to have been produced evenly since the previous one. This keeps replication lag
// independent of the sampling factor (a replica that has what the primary had at now - d is d behind,
// however sparse the sampled records are).
//
// Lag: time_of(lsn, now) is the latest time tau <= now at which P(tau) <= lsn, i.e. the replica holding
// `lsn` has exactly what the primary had at tau and is (now - tau) behind; 0 behind when it holds
// everything committed by now.
//
// Memory: records older than every replica's replayed position are pruned (prune_below); if a stuck
// replica keeps them alive (like a replication slot retaining WAL), the history is thinned, dropping
// every other record once it reaches max_records, so lag resolution coarsens instead of memory growing.
//
// Ownership: plain value. Thread-safety: none (one model, one thread). Failure behaviour: a record
// dated before the last one is moved to the last one's time; one whose LSN is below the last is
// ignored, so P stays non-decreasing in both time and LSN.
#pragma once

#include <cstddef>
#include <deque>

#include "ports/types.h"

namespace chatscale::sim {

class WalHistory {
 public:
  explicit WalHistory(std::size_t max_records = std::size_t{1} << 18, double start_time = 0);

  // The primary reached `lsn` at time `t` (a commit became durable).
  void append(double t, Lsn lsn);
  // P(t), interpolated; the first record's LSN before it, the last one's after it.
  Lsn position_at(double t) const;
  // Latest tau <= now with P(tau) <= lsn (now when P(now) <= lsn).
  double time_of(Lsn lsn, double now) const;
  // Drops records that no position >= lsn needs (keeps the newest record at or below lsn).
  void prune_below(Lsn lsn);

  std::size_t size() const { return records_.size(); }
  Lsn last_lsn() const { return records_.back().lsn; }
  double last_time() const { return records_.back().t; }

 private:
  struct Record {
    double t;
    Lsn lsn;
  };
  void thin();

  std::deque<Record> records_;  // never empty; t and lsn non-decreasing
  std::size_t max_records_;
};

}  // namespace chatscale::sim
