#include "gpu/nelder_mead.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace chatscale {
namespace {

using Point = std::vector<double>;

class Simplex {
 public:
  Simplex(const std::function<double(const Point&)>& f, int& evaluations) : f_(f), evaluations_(evaluations) {}

  void init(const Point& x0, double step) {
    points_.assign(1, x0);
    for (std::size_t i = 0; i < x0.size(); ++i) {
      Point p = x0;
      p[i] += step;
      points_.push_back(p);
    }
    values_.clear();
    for (const Point& p : points_) values_.push_back(eval(p));
  }

  // One reflection / expansion / contraction / shrink step.
  void step() {
    sort();
    const std::size_t n = points_.size() - 1;
    const Point c = centroid();
    const Point r = along(c, points_[n], -1.0);
    const double fr = eval(r);
    if (fr < values_[0]) {
      const Point e = along(c, points_[n], -2.0);
      const double fe = eval(e);
      replace_worst(fe < fr ? e : r, std::min(fe, fr));
    } else if (fr < values_[n - 1]) {
      replace_worst(r, fr);
    } else {
      const Point k = along(c, points_[n], 0.5);
      const double fk = eval(k);
      if (fk < values_[n]) {
        replace_worst(k, fk);
      } else {
        shrink();
      }
    }
  }

  double spread() const {
    const auto [lo, hi] = std::minmax_element(values_.begin(), values_.end());
    return *hi - *lo;
  }
  std::size_t best() const {
    return static_cast<std::size_t>(std::min_element(values_.begin(), values_.end()) - values_.begin());
  }
  const Point& point(std::size_t i) const { return points_[i]; }
  double value(std::size_t i) const { return values_[i]; }

 private:
  double eval(const Point& p) {
    ++evaluations_;
    const double v = f_(p);
    return std::isfinite(v) ? v : std::numeric_limits<double>::infinity();
  }
  void sort() {
    std::vector<std::size_t> order(points_.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return values_[a] < values_[b]; });
    std::vector<Point> p;
    std::vector<double> v;
    for (std::size_t i : order) {
      p.push_back(points_[i]);
      v.push_back(values_[i]);
    }
    points_ = std::move(p);
    values_ = std::move(v);
  }
  Point centroid() const {
    const std::size_t n = points_.size() - 1;
    Point c(points_[0].size(), 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < c.size(); ++j) c[j] += points_[i][j] / static_cast<double>(n);
    }
    return c;
  }
  // c + t * (w - c): t = -1 reflects the worst point w through the centroid, 0.5 contracts toward it.
  static Point along(const Point& c, const Point& w, double t) {
    Point p(c.size());
    for (std::size_t j = 0; j < c.size(); ++j) p[j] = c[j] + t * (w[j] - c[j]);
    return p;
  }
  void replace_worst(const Point& p, double v) {
    points_.back() = p;
    values_.back() = v;
  }
  void shrink() {
    for (std::size_t i = 1; i < points_.size(); ++i) {
      points_[i] = along(points_[0], points_[i], 0.5);
      values_[i] = eval(points_[i]);
    }
  }

  const std::function<double(const Point&)>& f_;
  int& evaluations_;
  std::vector<Point> points_;
  std::vector<double> values_;
};

}  // namespace

NelderMeadResult nelder_mead(const std::function<double(const std::vector<double>&)>& f, std::vector<double> x0,
                             const NelderMeadOptions& options) {
  NelderMeadResult result;
  result.x = std::move(x0);
  result.value = f(result.x);
  result.evaluations = 1;
  Simplex simplex(f, result.evaluations);
  for (int restart = 0; restart <= options.max_restarts; ++restart) {
    simplex.init(result.x, options.initial_step);
    while (result.evaluations < options.max_evaluations && simplex.spread() > options.tolerance) simplex.step();
    const std::size_t b = simplex.best();
    const double improvement = result.value - simplex.value(b);
    if (simplex.value(b) < result.value) {
      result.x = simplex.point(b);
      result.value = simplex.value(b);
    }
    if (improvement < options.tolerance || result.evaluations >= options.max_evaluations) break;
  }
  return result;
}

}  // namespace chatscale
