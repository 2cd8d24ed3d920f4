#include "moderation/categories.h"

#include <array>

namespace chatscale {
namespace {

constexpr std::array<std::string_view, kModerationCategoryCount> kNames = {
    "harassment", "harassment/threatening", "hate",     "hate/threatening", "illicit",
    "illicit/violent", "self-harm", "self-harm/intent", "self-harm/instructions", "sexual",
    "sexual/minors", "violence", "violence/graphic",
};

}  // namespace

std::span<const std::string_view> moderation_categories() { return kNames; }

std::optional<std::size_t> moderation_category_index(std::string_view name) {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return i;
  }
  return std::nullopt;
}

std::optional<std::size_t> moderation_category_parent(std::size_t index) {
  if (index >= kNames.size()) return std::nullopt;
  std::string_view name = kNames[index];
  std::size_t slash = name.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  return moderation_category_index(name.substr(0, slash));
}

}  // namespace chatscale
