#include "prod/engine/cpu/sampler.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace chatscale::engine {
namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

using Cand = Sampler::Candidate;

// Higher logit first, lower id on ties.
bool before(const Cand& a, const Cand& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); }

}  // namespace

Rng64::Rng64(std::uint64_t seed) {
  for (auto& w : s_) w = splitmix64(seed);
}

std::uint64_t Rng64::next() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng64::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

std::int32_t argmax(std::span<const float> logits) {
  if (logits.empty()) return -1;
  std::size_t best = 0;
  for (std::size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return static_cast<std::int32_t>(best);
}

Result<Sampler> Sampler::create(const SamplingParams& p) {
  if (!(p.temperature >= 0) || !std::isfinite(p.temperature)) {
    return invalid_argument("temperature " + std::to_string(p.temperature) + " must be finite and >= 0");
  }
  if (p.top_k < 0) return invalid_argument("top_k " + std::to_string(p.top_k) + " must be >= 0");
  if (!(p.top_p > 0 && p.top_p <= 1)) return invalid_argument("top_p " + std::to_string(p.top_p) + " must be in (0, 1]");
  if (!(p.min_p >= 0 && p.min_p <= 1)) return invalid_argument("min_p " + std::to_string(p.min_p) + " must be in [0, 1]");
  if (!(p.repetition_penalty > 0) || !std::isfinite(p.repetition_penalty)) {
    return invalid_argument("repetition_penalty " + std::to_string(p.repetition_penalty) + " must be > 0");
  }
  return Sampler(p);
}

// Number of candidates top-p and min-p keep, sorting c only as far as needed: prefixes of 64, 512, ...
// candidates are partially sorted until the cut falls inside one (a full sort of a 128k vocabulary per
// token would cost milliseconds). c[0, result) is sorted on return.
std::size_t Sampler::nucleus(std::vector<Cand>& c, bool sorted, double total, double mx, double inv_t) const {
  std::size_t m = sorted ? c.size() : std::min<std::size_t>(c.size(), 64);
  for (;;) {
    if (!sorted) std::partial_sort(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(m), c.end(), before);
    double cum = 0;
    const double p0 = std::exp((c[0].logit - mx) * inv_t);
    for (std::size_t k = 0; k < m; ++k) {
      const double pk = std::exp((c[k].logit - mx) * inv_t);
      if (k > 0 && params_.top_p < 1.0f && cum >= params_.top_p * total) return k;
      if (k > 0 && params_.min_p > 0.0f && pk < params_.min_p * p0) return k;
      cum += pk;
    }
    if (m == c.size()) return m;
    m = std::min(c.size(), m * 8);
  }
}

std::int32_t Sampler::sample(std::span<const float> logits, std::span<const std::int32_t> recent) {
  if (logits.empty()) return -1;
  const auto n = static_cast<std::int32_t>(logits.size());
  std::vector<Cand> c(logits.size());
  for (std::int32_t i = 0; i < n; ++i) c[static_cast<std::size_t>(i)] = {logits[static_cast<std::size_t>(i)], i};
  if (params_.repetition_penalty != 1.0f) {
    std::vector<bool> done(logits.size(), false);
    for (std::int32_t t : recent) {
      if (t < 0 || t >= n || done[static_cast<std::size_t>(t)]) continue;
      done[static_cast<std::size_t>(t)] = true;
      float& l = c[static_cast<std::size_t>(t)].logit;
      l = l > 0 ? l / params_.repetition_penalty : l * params_.repetition_penalty;
    }
  }
  if (params_.temperature == 0.0f) return std::min_element(c.begin(), c.end(), before)->id;
  bool sorted = false;
  if (params_.top_k > 0 && static_cast<std::size_t>(params_.top_k) < c.size()) {
    std::partial_sort(c.begin(), c.begin() + params_.top_k, c.end(), before);
    c.resize(static_cast<std::size_t>(params_.top_k));
    sorted = true;
  }
  // Softmax of logit / temperature over the candidates, in double.
  const double inv_t = 1.0 / params_.temperature;
  const double mx = std::min_element(c.begin(), c.end(), before)->logit;
  double total = 0;
  for (const Cand& x : c) total += std::exp((x.logit - mx) * inv_t);
  std::size_t keep = c.size();
  if (params_.top_p < 1.0f || params_.min_p > 0.0f) keep = nucleus(c, sorted, total, mx, inv_t);
  double sum = total;
  if (keep < c.size()) {
    sum = 0;
    for (std::size_t i = 0; i < keep; ++i) sum += std::exp((c[i].logit - mx) * inv_t);
  }
  const double u = rng_.uniform() * sum;
  double cum = 0;
  for (std::size_t i = 0; i < keep; ++i) {
    cum += std::exp((c[i].logit - mx) * inv_t);
    if (u < cum) return c[i].id;
  }
  return c[keep - 1].id;
}

}  // namespace chatscale::engine
