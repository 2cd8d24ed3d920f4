// CPU references for the CUDA kernels (accumulating in double), and the comparison used by their
// tests. Pure C++; thread-safe.
#pragma once

#include <span>
#include <vector>

namespace chatscale::gpu {

// y[r][c] = x[r][c] / sqrt(mean_c(x[r][c]^2) + eps) * weight[c]; x is rows x cols, row-major.
std::vector<float> rmsnorm_reference(std::span<const float> x, std::span<const float> weight, int rows,
                                     int cols, float eps);

// C = A * B, row-major: A is m x k, B is k x n, C is m x n.
std::vector<float> matmul_reference(std::span<const float> a, std::span<const float> b, int m, int k, int n);

// For each C element, sum over k of |A[i][k] * B[k][j]|: the scale of its rounding error bound.
std::vector<float> matmul_abs_reference(std::span<const float> a, std::span<const float> b, int m, int k,
                                        int n);

// Largest |got - want| / (abs_tol + rel_tol * |scale|) over the elements (scale defaults to want);
// <= 1 means within tolerance. Sizes must match (else +infinity).
double worst_error_ratio(std::span<const float> got, std::span<const float> want, double abs_tol,
                         double rel_tol, std::span<const float> scale = {});

}  // namespace chatscale::gpu
