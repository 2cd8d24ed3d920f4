#include "moderation/categories.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace chatscale {
namespace {

TEST(ModerationCategories, ThirteenOpenAiWireNamesInOrder) {
  std::vector<std::string> names(moderation_categories().begin(), moderation_categories().end());
  std::vector<std::string> expected = {
      "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit",
      "illicit/violent", "self-harm", "self-harm/intent", "self-harm/instructions", "sexual",
      "sexual/minors", "violence", "violence/graphic"};
  EXPECT_EQ(names, expected);
  EXPECT_EQ(moderation_categories().size(), kModerationCategoryCount);
}

TEST(ModerationCategories, IndexMatchesEnumAndNames) {
  EXPECT_EQ(moderation_category_index("harassment"),
            static_cast<std::size_t>(ModerationCategory::kHarassment));
  EXPECT_EQ(moderation_category_index("self-harm/instructions"),
            static_cast<std::size_t>(ModerationCategory::kSelfHarmInstructions));
  EXPECT_EQ(moderation_category_index("violence/graphic"),
            static_cast<std::size_t>(ModerationCategory::kViolenceGraphic));
  for (std::size_t i = 0; i < kModerationCategoryCount; ++i) {
    EXPECT_EQ(moderation_category_index(moderation_categories()[i]), i);
  }
  EXPECT_FALSE(moderation_category_index("Violence").has_value());  // names are exact
  EXPECT_FALSE(moderation_category_index("self_harm").has_value());
  EXPECT_FALSE(moderation_category_index("").has_value());
}

TEST(ModerationCategories, RefinedCategoriesHaveTheirParent) {
  auto parent_name = [](std::string_view child) -> std::string {
    auto parent = moderation_category_parent(*moderation_category_index(child));
    return parent ? std::string(moderation_categories()[*parent]) : "";
  };
  EXPECT_EQ(parent_name("harassment/threatening"), "harassment");
  EXPECT_EQ(parent_name("hate/threatening"), "hate");
  EXPECT_EQ(parent_name("illicit/violent"), "illicit");
  EXPECT_EQ(parent_name("self-harm/intent"), "self-harm");
  EXPECT_EQ(parent_name("self-harm/instructions"), "self-harm");
  EXPECT_EQ(parent_name("sexual/minors"), "sexual");
  EXPECT_EQ(parent_name("violence/graphic"), "violence");
  EXPECT_EQ(parent_name("violence"), "");
  EXPECT_EQ(parent_name("sexual"), "");
  EXPECT_FALSE(moderation_category_parent(kModerationCategoryCount).has_value());
}

}  // namespace
}  // namespace chatscale
