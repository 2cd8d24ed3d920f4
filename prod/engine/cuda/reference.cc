#include "prod/engine/cuda/reference.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace chatscale::gpu {

std::vector<float> rmsnorm_reference(std::span<const float> x, std::span<const float> weight, int rows,
                                     int cols, float eps) {
  std::vector<float> y(x.size());
  for (int r = 0; r < rows; ++r) {
    auto row = x.subspan(static_cast<size_t>(r) * cols, cols);
    double sum_sq = 0;
    for (float v : row) sum_sq += static_cast<double>(v) * v;
    double inv = 1.0 / std::sqrt(sum_sq / cols + eps);
    for (int c = 0; c < cols; ++c)
      y[static_cast<size_t>(r) * cols + c] = static_cast<float>(row[c] * inv * weight[c]);
  }
  return y;
}

namespace {

template <typename Term>
std::vector<float> matmul_sum(std::span<const float> a, std::span<const float> b, int m, int k, int n,
                              Term term) {
  std::vector<float> c(static_cast<size_t>(m) * n);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double sum = 0;
      for (int p = 0; p < k; ++p)
        sum +=
            term(static_cast<double>(a[static_cast<size_t>(i) * k + p]) * b[static_cast<size_t>(p) * n + j]);
      c[static_cast<size_t>(i) * n + j] = static_cast<float>(sum);
    }
  }
  return c;
}

}  // namespace

std::vector<float> matmul_reference(std::span<const float> a, std::span<const float> b, int m, int k, int n) {
  return matmul_sum(a, b, m, k, n, [](double v) { return v; });
}

std::vector<float> matmul_abs_reference(std::span<const float> a, std::span<const float> b, int m, int k,
                                        int n) {
  return matmul_sum(a, b, m, k, n, [](double v) { return std::abs(v); });
}

double worst_error_ratio(std::span<const float> got, std::span<const float> want, double abs_tol,
                         double rel_tol, std::span<const float> scale) {
  if (got.size() != want.size() || (!scale.empty() && scale.size() != want.size()))
    return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double s = scale.empty() ? want[i] : scale[i];
    double err = std::abs(static_cast<double>(got[i]) - want[i]);
    if (std::isnan(err)) return std::numeric_limits<double>::infinity();
    worst = std::max(worst, err / (abs_tol + rel_tol * std::abs(s)));
  }
  return worst;
}

}  // namespace chatscale::gpu
