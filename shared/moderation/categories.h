// The moderation taxonomy: OpenAI's 13 categories with their wire names, in the order of the
// `scores` array of a ModerationResult. A category named "parent/child" is a refinement of
// "parent": a child's score lifts its parent's score.
// Thread-safety: constant data; free functions are pure.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace chatscale {

inline constexpr std::size_t kModerationCategoryCount = 13;

// Index of each category in moderation_categories() and in score arrays.
enum class ModerationCategory : std::size_t {
  kHarassment = 0,
  kHarassmentThreatening,
  kHate,
  kHateThreatening,
  kIllicit,
  kIllicitViolent,
  kSelfHarm,
  kSelfHarmIntent,
  kSelfHarmInstructions,
  kSexual,
  kSexualMinors,
  kViolence,
  kViolenceGraphic,
};

// The 13 wire names ("harassment", "harassment/threatening", ... "violence/graphic"), in enum order.
std::span<const std::string_view> moderation_categories();

// The index of a wire name; nullopt for an unknown name (names are exact, lowercase).
std::optional<std::size_t> moderation_category_index(std::string_view name);

// The index of the parent of a refined category ("self-harm/intent" -> "self-harm"); nullopt for a
// top-level category or an index out of range.
std::optional<std::size_t> moderation_category_parent(std::size_t index);

}  // namespace chatscale
