# Script mode: writes a C++ source that holds the bytes of IN as a string_view named SYMBOL.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
file(WRITE ${OUT}
  "// Generated from ${IN}; do not edit.\n#include <string_view>\n"
  "namespace chatscale::embedded {\n"
  "static const char k_${SYMBOL}[] = {${bytes} '\\0'};\n"
  "std::string_view ${SYMBOL}() { return {k_${SYMBOL}, ${size}}; }\n"
  "}  // namespace chatscale::embedded\n")
