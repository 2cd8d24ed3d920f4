// Mutates the reference scenario at random (fixed seed) and checks the parser never crashes and always
// answers with a Scenario or with errors that each start "file:line: ".
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <regex>
#include <sstream>

#include "scenario/scenario.h"

namespace chatscale {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

// One random edit: delete, duplicate or swap lines; swap, replace or insert characters.
std::string mutate(std::string text, std::mt19937& rng) {
  auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  std::vector<std::string> lines = split_lines(text);
  const int op = static_cast<int>(pick(6));
  if (op < 3 && lines.size() > 1) {
    const std::size_t i = pick(lines.size());
    if (op == 0) lines.erase(lines.begin() + static_cast<long>(i));
    if (op == 1) lines.insert(lines.begin() + static_cast<long>(i), lines[i]);
    if (op == 2) std::swap(lines[i], lines[pick(lines.size())]);
    return join_lines(lines);
  }
  if (text.size() < 2) return text;
  const std::size_t at = pick(text.size() - 1);
  const char byte = static_cast<char>(pick(256));
  if (op == 3) std::swap(text[at], text[at + 1]);
  if (op == 4) text[at] = byte;
  if (op == 5) text.insert(text.begin() + static_cast<long>(at), byte);
  return text;
}

TEST(ScenarioFuzz, MutatedReferenceNeverCrashesAndErrorsCarryFileAndLine) {
  const std::string original = read_file(std::string(CHATSCALE_SOURCE_DIR) + "/scenarios/chatgpt-2026.yaml");
  ASSERT_FALSE(original.empty());
  const std::regex error_line(R"(^fuzz\.yaml:[0-9]+: .+)");
  const std::regex more_line(R"(^\.\.\. and [0-9]+ more errors$)");
  std::mt19937 rng(20260101);
  int accepted = 0;
  int rejected = 0;
  for (int iteration = 0; iteration < 2000; ++iteration) {
    std::string text = original;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) text = mutate(text, rng);
    Result<Scenario> r = parse_scenario(text, "fuzz.yaml");
    if (r.is_ok()) {
      ++accepted;
      continue;
    }
    ++rejected;
    ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    for (const std::string& line : split_lines(r.status().message())) {
      ASSERT_TRUE(std::regex_match(line, error_line) || std::regex_match(line, more_line))
          << "iteration " << iteration << ": " << line;
    }
  }
  // Both outcomes occur: the mutations are neither all harmless nor all fatal.
  EXPECT_GT(accepted, 100);
  EXPECT_GT(rejected, 100);
}

}  // namespace
}  // namespace chatscale
