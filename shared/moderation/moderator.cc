#include "moderation/moderator.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

namespace chatscale {
namespace embedded {
std::string_view moderation_lexicon();
}  // namespace embedded

using moderation_detail::MatchEngine;
using moderation_detail::TextNormalizer;
using moderation_detail::Token;

namespace {

void run(TextNormalizer& normalizer, MatchEngine& engine, std::string_view text) {
  for (Token& token : normalizer.feed(text)) engine.push(std::move(token));
  for (Token& token : normalizer.finish()) engine.push(std::move(token));
  engine.finish();
}

}  // namespace

std::string_view builtin_moderation_lexicon() { return embedded::moderation_lexicon(); }

Moderator::Moderator(std::shared_ptr<const moderation_detail::CompiledLexicon> lexicon)
    : lexicon_(std::move(lexicon)) {}

Result<Moderator> Moderator::from_lexicon(std::string_view text) {
  CS_ASSIGN_OR_RETURN(moderation_detail::Lexicon lexicon, moderation_detail::parse_lexicon(text));
  return Moderator(moderation_detail::compile_lexicon(std::move(lexicon)));
}

Result<Moderator> Moderator::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot read moderation lexicon " + path);
  std::ostringstream text;
  text << in.rdbuf();
  Result<Moderator> moderator = from_lexicon(text.str());
  if (!moderator.is_ok()) return invalid_argument(path + ": " + moderator.status().message());
  return moderator;
}

const Moderator& Moderator::builtin() {
  static const Moderator instance = [] {
    Result<Moderator> parsed = from_lexicon(builtin_moderation_lexicon());
    if (!parsed.is_ok()) {  // a build defect, caught by the tests: nothing sensible to fall back to
      std::fprintf(stderr, "built-in moderation lexicon: %s\n", parsed.status().message().c_str());
      std::abort();
    }
    return std::move(parsed).value();
  }();
  return instance;
}

ModerationResult Moderator::classify(std::string_view text) const {
  TextNormalizer normalizer;
  MatchEngine engine(lexicon_);
  run(normalizer, engine, text);
  return result_from(engine);
}

std::vector<int> Moderator::matched_rule_lines(std::string_view text) const {
  TextNormalizer normalizer;
  MatchEngine engine(lexicon_);
  run(normalizer, engine, text);
  return engine.matched_lines();
}

const std::array<double, kModerationCategoryCount>& Moderator::thresholds() const {
  return lexicon_->lexicon.thresholds;
}

ModerationResult Moderator::result_from(const MatchEngine& engine) const {
  ModerationResult result;
  result.scores = engine.scores();
  auto names = moderation_categories();
  for (std::size_t c = 0; c < kModerationCategoryCount; ++c) {
    if (result.scores[c] > 0 && result.scores[c] >= thresholds()[c]) {
      result.categories.emplace_back(names[c]);
    }
  }
  result.flagged = !result.categories.empty();
  return result;
}

StreamModerator::StreamModerator(const Moderator& moderator)
    : moderator_(moderator), engine_(moderator.lexicon_) {}

const ModerationResult& StreamModerator::append(std::string_view delta) {
  if (finished_) return result_;
  for (Token& token : normalizer_.feed(delta)) engine_.push(std::move(token));
  if (normalizer_.clause_closed()) engine_.close_clause();
  refresh();
  return result_;
}

const ModerationResult& StreamModerator::finish() {
  if (finished_) return result_;
  finished_ = true;
  for (Token& token : normalizer_.finish()) engine_.push(std::move(token));
  engine_.finish();
  refresh();
  return result_;
}

void StreamModerator::refresh() {
  if (engine_.matched_lines().size() == hits_seen_) return;  // scores change only on a new hit
  hits_seen_ = engine_.matched_lines().size();
  result_ = moderator_.result_from(engine_);
}

}  // namespace chatscale
