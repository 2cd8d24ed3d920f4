#include "gpu/iteration_time_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "gpu/nelder_mead.h"

namespace chatscale {
namespace {

// Each fitted parameter lives in a physically plausible interval; the minimiser works on an
// unbounded variable z mapped into it by lo + (hi - lo) * (1 + tanh z) / 2, so it never leaves.
struct Bound {
  double FitParams::*field;
  double lo, hi;
};

constexpr Bound kBounds[] = {
    {&FitParams::memory_efficiency, 0.3, 1.2},  // reads alone may beat the copy figure a little
    {&FitParams::attention_memory_efficiency, 0.2, 1.2},
    {&FitParams::gemm_efficiency, 0.2, 1.1},
    {&FitParams::attention_compute_efficiency, 0.05, 1.1},
    {&FitParams::roofline_sharpness, 1.0, 16.0},
    {&FitParams::kernel_overhead_s, 0.0, 50e-6},
    {&FitParams::eager_launch_s, 0.0, 200e-6},
};
constexpr std::size_t kParams = std::size(kBounds);

std::vector<double> to_unbounded(const FitParams& p) {
  std::vector<double> z;
  for (const Bound& b : kBounds) {
    const double u = std::clamp((p.*b.field - b.lo) / (b.hi - b.lo), 1e-6, 1 - 1e-6);
    z.push_back(std::atanh(2 * u - 1));
  }
  return z;
}

FitParams from_unbounded(const std::vector<double>& z) {
  FitParams p;
  for (std::size_t i = 0; i < kParams; ++i) {
    const Bound& b = kBounds[i];
    p.*b.field = b.lo + (b.hi - b.lo) * (1 + std::tanh(z[i])) / 2;
  }
  return p;
}

double sum_squared_log_error(const IterationTimeModel& m, const ModelShape& shape,
                             const std::vector<CalibrationPoint>& points) {
  double sum = 0;
  for (const CalibrationPoint& p : points) {
    const double e = std::log(m.point_ms(shape, p) / p.measured_ms);
    sum += e * e;
  }
  return sum;
}

FitReport make_report(const IterationTimeModel& m, const ModelShape& shape,
                      const std::vector<CalibrationPoint>& points, int evaluations) {
  FitReport r;
  r.model_name = shape.name;
  r.params = m.params();
  r.evaluations = evaluations;
  r.rms_log_error = std::sqrt(sum_squared_log_error(m, shape, points) / static_cast<double>(points.size()));
  for (const CalibrationPoint& p : points) r.points.push_back({p.label(), p.measured_ms, m.point_ms(shape, p)});
  summarise_errors(r.points, r.median_abs_error_pct, r.max_abs_error_pct);
  return r;
}

}  // namespace

void summarise_errors(const std::vector<FitPoint>& points, double& median_abs_pct, double& max_abs_pct) {
  std::vector<double> errors;
  for (const FitPoint& p : points) errors.push_back(std::abs(p.error_pct()));
  std::sort(errors.begin(), errors.end());
  median_abs_pct = max_abs_pct = 0;
  if (errors.empty()) return;
  const std::size_t n = errors.size();
  median_abs_pct = n % 2 ? errors[n / 2] : (errors[n / 2 - 1] + errors[n / 2]) / 2;
  max_abs_pct = errors.back();
}

std::string format_fit_points(const std::vector<FitPoint>& points) {
  std::ostringstream out;
  char line[160];
  for (const FitPoint& p : points) {
    std::snprintf(line, sizeof line, "%-28s measured %8.4f ms  predicted %8.4f ms  %+6.1f%%\n", p.label.c_str(),
                  p.measured_ms, p.predicted_ms, p.error_pct());
    out << line;
  }
  return out.str();
}

IterationTimeModel::IterationTimeModel(GpuSpecs gpu, FitParams params) : gpu_(std::move(gpu)), params_(params) {
  report_.params = params_;
}

Result<IterationTimeModel> IterationTimeModel::calibrate(const GpuProfile& profile, const std::string& model_name) {
  const ProfiledModel* m = profile.find_model(model_name);
  if (m == nullptr) {
    std::string names;
    for (const std::string& n : profile.model_names()) names += (names.empty() ? "" : ", ") + n;
    return not_found(profile.source + ": models: no model \"" + model_name + "\" (the profile has: " + names + ")");
  }
  auto fitted = calibrate_points(profile.gpu, m->shape, m->points);
  if (!fitted.is_ok()) return invalid_argument(profile.source + ": models." + model_name + ": " +
                                               fitted.status().message());
  return fitted;
}

Result<IterationTimeModel> IterationTimeModel::calibrate_points(const GpuSpecs& gpu, const ModelShape& shape,
                                                                const std::vector<CalibrationPoint>& points) {
  CS_RETURN_IF_ERROR(validate_model_shape(shape));
  if (points.size() <= kParams) {
    return invalid_argument("need more than " + std::to_string(kParams) + " measured points to fit " +
                            std::to_string(kParams) + " parameters, got " + std::to_string(points.size()));
  }
  auto objective = [&](const std::vector<double>& z) {
    return sum_squared_log_error(IterationTimeModel(gpu, from_unbounded(z)), shape, points);
  };
  const NelderMeadResult best = nelder_mead(objective, to_unbounded(FitParams{}));
  IterationTimeModel model(gpu, from_unbounded(best.x));
  model.report_ = make_report(model, shape, points, best.evaluations);
  return model;
}

LaunchMode IterationTimeModel::launch_mode(const IterationShape& it) {
  return it.prefills.empty() ? LaunchMode::kCudaGraph : LaunchMode::kEager;
}

double IterationTimeModel::predict_ms(const ModelShape& shape, const IterationShape& it, int tp) const {
  return predict_ms(shape, it, tp, launch_mode(it));
}

double IterationTimeModel::predict_ms(const ModelShape& shape, const IterationShape& it, int tp,
                                      LaunchMode mode) const {
  if (it.empty()) return 0;
  const Roofline r(gpu_, params_, shape.dtype_bytes);
  const std::vector<KernelTime> layer = layer_kernels(r, shape, it, tp);
  // Layers run back to back: in eager mode a host that is ahead keeps launching into the next layer.
  KernelPipeline pipeline(mode == LaunchMode::kEager ? params_.eager_launch_s : 0);
  for (std::int64_t i = 0; i < shape.layers; ++i) pipeline.run_all(layer);
  pipeline.run_all(lm_head_kernels(r, shape, it, tp));
  return pipeline.elapsed_s() * 1e3;
}

double IterationTimeModel::layer_ms(const ModelShape& shape, const IterationShape& it, int tp) const {
  return layer_ms(shape, it, tp, launch_mode(it));
}

double IterationTimeModel::layer_ms(const ModelShape& shape, const IterationShape& it, int tp, LaunchMode mode) const {
  if (it.empty()) return 0;
  const Roofline r(gpu_, params_, shape.dtype_bytes);
  KernelPipeline pipeline(mode == LaunchMode::kEager ? params_.eager_launch_s : 0);
  pipeline.run_all(layer_kernels(r, shape, it, tp));
  return pipeline.elapsed_s() * 1e3;
}

double IterationTimeModel::point_ms(const ModelShape& shape, const CalibrationPoint& p) const {
  switch (p.kind) {
    case CalibrationKind::kPrefillLayer:
      return layer_ms(shape, IterationShape::prefill(1, p.length), 1, LaunchMode::kEager);
    case CalibrationKind::kDecodeLayer:
      return layer_ms(shape, IterationShape::decode(p.batch, p.length), 1, LaunchMode::kCudaGraph);
    case CalibrationKind::kLmHead: {
      // The profile times the projection alone: one GEMM of batch x hidden by hidden x vocab.
      const Roofline r(gpu_, params_, shape.dtype_bytes);
      const double s = r.gemm_s(static_cast<double>(p.batch), static_cast<double>(shape.vocab),
                                static_cast<double>(shape.hidden));
      return (s + params_.kernel_overhead_s) * 1e3;
    }
  }
  return 0;
}

Result<LeaveOneOutReport> leave_one_out(const GpuProfile& profile, const std::string& model_name) {
  const ProfiledModel* m = profile.find_model(model_name);
  if (m == nullptr) return not_found(profile.source + ": models: no model \"" + model_name + "\"");
  LeaveOneOutReport report;
  for (std::size_t i = 0; i < m->points.size(); ++i) {
    std::vector<CalibrationPoint> rest = m->points;
    rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(i));
    CS_ASSIGN_OR_RETURN(IterationTimeModel fitted, IterationTimeModel::calibrate_points(profile.gpu, m->shape, rest));
    const CalibrationPoint& held = m->points[i];
    report.points.push_back({held.label(), held.measured_ms, fitted.point_ms(m->shape, held)});
  }
  summarise_errors(report.points, report.median_abs_error_pct, report.max_abs_error_pct);
  return report;
}

}  // namespace chatscale
