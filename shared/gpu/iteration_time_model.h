// The GPU iteration-time model: predicts how long one engine iteration (a batch of prefill chunks and
// decode sequences) takes on a GPU, from the model's shape, the tensor-parallel degree and a few
// physical parameters fitted to a calibration profile (gpu/roofline.h has the physics). Because it
// reasons from bytes and FLOPs rather than looking measured points up, it extends to other shapes,
// batch compositions, models and TP degrees than the profile measured.
//
// Launch mode: an iteration with prefill tokens runs eagerly (kernel by kernel, as the profile measured
// prefill and as engines run mixed batches); a decode-only iteration replays as one CUDA graph.
//
// Ownership: values; an IterationTimeModel is immutable after calibrate(). Thread-safety: const methods
// are safe to call concurrently. Failure: calibrate() returns kInvalidArgument / kNotFound as values;
// predictions never fail (sizes are clamped, TP splits round up; check_tensor_parallel() checks them).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "gpu/gpu_profile.h"
#include "gpu/roofline.h"
#include "gpu/shapes.h"

namespace chatscale {

struct FitPoint {
  std::string label;  // the profile's name of the measured point
  double measured_ms = 0;
  double predicted_ms = 0;
  double error_pct() const { return 100.0 * (predicted_ms / measured_ms - 1.0); }
};

// How well the fitted model reproduces the points it was fitted on.
struct FitReport {
  std::string model_name;
  FitParams params;
  std::vector<FitPoint> points;
  double rms_log_error = 0;  // sqrt(mean(ln(predicted / measured)^2))
  double median_abs_error_pct = 0;
  double max_abs_error_pct = 0;
  int evaluations = 0;  // objective evaluations the fit took
};

// Median and max |error| in percent over `points`.
void summarise_errors(const std::vector<FitPoint>& points, double& median_abs_pct, double& max_abs_pct);
std::string format_fit_points(const std::vector<FitPoint>& points);

class IterationTimeModel {
 public:
  // Fits the parameters to the profile's measurements of `model_name` (least squares on log-error).
  static Result<IterationTimeModel> calibrate(const GpuProfile& profile, const std::string& model_name);
  // Fits to an explicit set of points (leave-one-out validation uses this).
  static Result<IterationTimeModel> calibrate_points(const GpuSpecs& gpu, const ModelShape& shape,
                                                     const std::vector<CalibrationPoint>& points);
  // A model with known parameters (no fit).
  IterationTimeModel(GpuSpecs gpu, FitParams params);

  // One whole iteration on each GPU of a tensor-parallel group of `tp`: every layer, then the LM head.
  double predict_ms(const ModelShape& shape, const IterationShape& it, int tp) const;
  double predict_ms(const ModelShape& shape, const IterationShape& it, int tp, LaunchMode mode) const;
  // One decoder layer alone (as the profile measures it), without the LM head.
  double layer_ms(const ModelShape& shape, const IterationShape& it, int tp) const;
  double layer_ms(const ModelShape& shape, const IterationShape& it, int tp, LaunchMode mode) const;
  // What the profile measured at `point`, predicted.
  double point_ms(const ModelShape& shape, const CalibrationPoint& point) const;

  // Decode-only iterations replay as a CUDA graph; anything with prefill runs eagerly.
  static LaunchMode launch_mode(const IterationShape& it);

  const GpuSpecs& gpu() const { return gpu_; }
  const FitParams& params() const { return params_; }
  const FitReport& fit_report() const { return report_; }

 private:
  GpuSpecs gpu_;
  FitParams params_;
  FitReport report_;
};

struct LeaveOneOutReport {
  std::vector<FitPoint> points;  // each predicted by a model fitted without it
  double median_abs_error_pct = 0;
  double max_abs_error_pct = 0;
};

// Refits the model once per measured point with that point left out, and predicts it.
Result<LeaveOneOutReport> leave_one_out(const GpuProfile& profile, const std::string& model_name);

}  // namespace chatscale
