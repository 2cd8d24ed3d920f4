// A deterministic Nelder-Mead minimiser for small unconstrained problems (the model fit has a handful
// of parameters), restarted from its best point until a restart no longer improves it.
//
// Ownership: values. Thread-safety: pure; `f` is called from the calling thread only. Failure: none;
// a non-finite objective value counts as +infinity.
#pragma once

#include <functional>
#include <vector>

namespace chatscale {

struct NelderMeadOptions {
  double initial_step = 0.5;    // simplex edge along each coordinate
  int max_evaluations = 20000;  // across all restarts
  int max_restarts = 6;
  double tolerance = 1e-12;     // stop when the simplex's objective spread falls below it
};

struct NelderMeadResult {
  std::vector<double> x;
  double value = 0;
  int evaluations = 0;
};

NelderMeadResult nelder_mead(const std::function<double(const std::vector<double>&)>& f, std::vector<double> x0,
                             const NelderMeadOptions& options = {});

}  // namespace chatscale
