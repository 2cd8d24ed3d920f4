// Tokenizer port: counts (and, for engines, produces) tokens. The approximate tokenizer is the
// default where no model vocabulary is at hand (sim, gateways in front of remote models).
#pragma once

#include <cstdint>
#include <string_view>

namespace chatscale {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::int64_t count_tokens(std::string_view text) const = 0;
};

// About 4 bytes of English per token (OpenAI's rule of thumb), at least one token for non-empty text.
class ApproximateTokenizer : public Tokenizer {
 public:
  explicit ApproximateTokenizer(double bytes_per_token = 4.0) : bytes_per_token_(bytes_per_token) {}
  std::int64_t count_tokens(std::string_view text) const override {
    if (text.empty()) return 0;
    auto n = static_cast<std::int64_t>(static_cast<double>(text.size()) / bytes_per_token_ + 0.5);
    return n < 1 ? 1 : n;
  }

 private:
  double bytes_per_token_;
};

}  // namespace chatscale
