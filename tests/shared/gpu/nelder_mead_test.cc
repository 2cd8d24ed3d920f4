#include "gpu/nelder_mead.h"

#include <gtest/gtest.h>

#include <cmath>

namespace chatscale {
namespace {

double rosenbrock(const std::vector<double>& x) {
  return 100 * std::pow(x[1] - x[0] * x[0], 2) + std::pow(1 - x[0], 2);
}

TEST(NelderMead, FindsTheRosenbrockMinimum) {
  const NelderMeadResult r = nelder_mead(rosenbrock, {-1.2, 1.0});
  EXPECT_NEAR(r.x[0], 1.0, 1e-3);
  EXPECT_NEAR(r.x[1], 1.0, 1e-3);
  EXPECT_LT(r.value, 1e-7);
  EXPECT_LE(r.evaluations, NelderMeadOptions{}.max_evaluations + 10);
}

TEST(NelderMead, IsDeterministic) {
  const NelderMeadResult a = nelder_mead(rosenbrock, {-1.2, 1.0});
  const NelderMeadResult b = nelder_mead(rosenbrock, {-1.2, 1.0});
  EXPECT_EQ(a.x, b.x);
  EXPECT_EQ(a.evaluations, b.evaluations);
}

TEST(NelderMead, QuadraticBowlInFiveDimensions) {
  auto bowl = [](const std::vector<double>& x) {
    double s = 0;
    for (std::size_t i = 0; i < x.size(); ++i) s += (i + 1.0) * std::pow(x[i] - static_cast<double>(i), 2);
    return s;
  };
  const NelderMeadResult r = nelder_mead(bowl, {5, 5, 5, 5, 5});
  for (std::size_t i = 0; i < r.x.size(); ++i) EXPECT_NEAR(r.x[i], static_cast<double>(i), 1e-3);
}

TEST(NelderMead, NonFiniteValuesAreAvoided) {
  auto f = [](const std::vector<double>& x) { return x[0] < 0 ? NAN : (x[0] - 2) * (x[0] - 2); };
  const NelderMeadResult r = nelder_mead(f, {0.5});
  EXPECT_NEAR(r.x[0], 2.0, 1e-4);
}

TEST(NelderMead, StopsAtTheEvaluationBudget) {
  NelderMeadOptions o;
  o.max_evaluations = 50;
  const NelderMeadResult r = nelder_mead(rosenbrock, {-1.2, 1.0}, o);
  EXPECT_LE(r.evaluations, 55);
  EXPECT_LT(r.value, rosenbrock({-1.2, 1.0}));
}

}  // namespace
}  // namespace chatscale
