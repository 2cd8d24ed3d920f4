// Test helper: reads a file of the source tree (tests run with the source directory as cwd).
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace chatscale::moderation_test {

inline std::string read_source_file(const std::string& relative) {
  std::ifstream in(std::string(CHATSCALE_SOURCE_DIR) + "/" + relative, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline const std::string& labelled_set() {
  static const std::string text = read_source_file("tests/shared/moderation/data/labelled.tsv");
  return text;
}

}  // namespace chatscale::moderation_test
