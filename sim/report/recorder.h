// Recorder: the simulator's store of every catalogue metric over simulated time, plus exact samples
// for percentiles.
//
// Two MetricsSink views write into the same series. sampled() is for values produced by sampled tasks
// (the simulator runs a fraction f of the messages): counter amounts and gauge values and deltas are
// multiplied by 1/f, and a histogram observation keeps its value but counts 1/f times. full_scale() is
// for values already at full scale (the database model, fleet gauges). snapshot(t) appends the current
// value of every series at simulated time t; the report writers read those snapshots.
//
// Ownership: the Recorder owns its series; the views are members and live as long as it does.
// Thread-safety: every method takes one internal mutex (SimGrid runs one OS thread, so it is
// uncontended). The read accessors return references into the store: read them only once writers
// have stopped (after the run).
// Failure behaviour: a call whose label count differs from the catalogue, or whose kind does not fit
// the metric's type (add on a gauge, observe on a counter ...), or whose value is not finite, is
// dropped and counted in rejected_calls(); the first one is described by first_rejection().
// Cost: add/set/change/observe are O(1) amortised and do not allocate once a series exists (the key
// is hashed from the label views; nothing is copied to look it up). snapshot() is O(series).
#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "ports/metrics_sink.h"

namespace chatscale::sim {

// Quantities whose exact values are kept for percentiles (histogram buckets are too coarse for a
// headline p99).
enum class SampleKind : int {
  kTimeToFirstToken,
  kE2eLatency,
  kTimePerOutputToken,
  kReplicaLag,
  kDbReadLatency,
  kDbWriteLatency,
  kQueueWait,
  kCount_,  // number of kinds; not a kind
};
std::string_view sample_kind_name(SampleKind kind);

// Quantile q of `values` (reordered in place) by linear interpolation between order statistics, as
// numpy's default: q = 0.5 of {1, 2, 3, 4} is 2.5. NaN when empty; q is clamped to [0, 1].
double quantile_in_place(std::vector<double>& values, double q);

// One series: a catalogue metric with one set of label values.
struct Series {
  MetricId id{};
  std::vector<std::string> labels;  // in the catalogue's label order
  // Live state.
  double value = 0;                 // counter or gauge
  std::vector<double> buckets;      // histogram: per catalogue bucket, non-cumulative, plus +Inf
  double sum = 0;                   // histogram
  double count = 0;                 // histogram
  // Snapshots: entry k belongs to snapshot_times()[first_snapshot + k].
  size_t first_snapshot = 0;
  std::vector<double> values;       // counter/gauge value; for a histogram its count
  std::vector<double> cumulative;   // histogram: buckets.size() cumulative counts per snapshot
  std::vector<double> sums;         // histogram: sum per snapshot

  size_t snapshot_count() const { return values.size(); }
  // The cumulative bucket counts of snapshot entry k (size buckets + 1, the last being +Inf).
  const double* cumulative_at(size_t k) const;
};

class Recorder {
 public:
  // sample_fraction: f in (0, 1]; anything else is taken as 1 (no scaling).
  explicit Recorder(double sample_fraction = 1.0);
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  MetricsSink& sampled() { return sampled_; }
  MetricsSink& full_scale() { return full_scale_; }
  double sample_fraction() const { return fraction_; }

  // Appends every series' current value at time t. A t not after the last snapshot replaces the
  // last snapshot's values (its time stays, so snapshot times strictly increase).
  void snapshot(double t);
  // Keeps one exact value of `kind` observed at simulated time t (stored as floats).
  void sample(SampleKind kind, double value, double t);

  // --- Reading (after the run) ---
  const std::vector<double>& snapshot_times() const { return times_; }
  // Every series of `id`, sorted by label values.
  std::vector<const Series*> series(MetricId id) const;
  const Series* find(MetricId id, LabelValues labels) const;
  // Live value of a counter or gauge (0 when never written).
  double value(MetricId id, LabelValues labels = {}) const;

  size_t sample_count(SampleKind kind) const;
  // Quantile q in [0, 1] of the samples with t0 <= t < t1, by linear interpolation between order
  // statistics; NaN when there are none.
  double sample_quantile(SampleKind kind, double q, double t0 = -kInf, double t1 = kInf) const;
  double sample_max(SampleKind kind, double t0 = -kInf, double t1 = kInf) const;
  const std::vector<float>& sample_values(SampleKind kind) const;
  const std::vector<float>& sample_times(SampleKind kind) const;

  std::uint64_t rejected_calls() const;
  std::string first_rejection() const;

 private:
  static constexpr double kInf = std::numeric_limits<double>::infinity();
  enum class Op { kAdd, kSet, kChange, kObserve };

  // A view that forwards to the recorder with a weight (1/f or 1).
  class View : public MetricsSink {
   public:
    View(Recorder* owner, bool sampled) : owner_(owner), sampled_(sampled) {}
    void add(MetricId id, LabelValues labels, double amount) override;
    void set(MetricId id, LabelValues labels, double value) override;
    void change(MetricId id, LabelValues labels, double delta) override;
    void observe(MetricId id, LabelValues labels, double value) override;

   private:
    Recorder* owner_;
    bool sampled_;
  };

  // Series are found by (id, label values) without building a key: the set holds pointers into
  // series_, and transparent hash/equality compare a stored series with a LabelValues probe.
  struct Probe {
    MetricId id;
    LabelValues labels;
  };
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(const Series* s) const;
    size_t operator()(const Probe& p) const;
  };
  struct KeyEq {
    using is_transparent = void;
    bool operator()(const Series* a, const Series* b) const { return a == b; }
    bool operator()(const Probe& p, const Series* s) const;
    bool operator()(const Series* s, const Probe& p) const { return (*this)(p, s); }
  };
  struct Samples {
    std::vector<float> values;
    std::vector<float> times;
  };

  void apply(Op op, MetricId id, LabelValues labels, double v, double weight);
  bool check(Op op, MetricId id, LabelValues labels, double v);  // requires mu_
  Series& series_for(MetricId id, LabelValues labels);           // requires mu_
  void reject(std::string why);                                  // requires mu_
  void append_snapshot(Series& s) const;                         // requires mu_
  void drop_last_snapshot(Series& s) const;                      // requires mu_
  std::vector<double> window(SampleKind kind, double t0, double t1) const;  // requires mu_

  const double fraction_;
  const double weight_;  // 1 / fraction_
  View sampled_{this, true};
  View full_scale_{this, false};

  mutable std::mutex mu_;
  std::deque<Series> series_;                                          // guarded by mu_
  std::unordered_set<Series*, KeyHash, KeyEq> index_;                  // guarded by mu_
  std::vector<double> times_;                                          // guarded by mu_
  std::vector<Samples> samples_;                                       // guarded by mu_
  std::uint64_t rejected_ = 0;                                         // guarded by mu_
  std::string first_rejection_;                                        // guarded by mu_
};

}  // namespace chatscale::sim
