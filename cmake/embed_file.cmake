# Writes a C++ source that holds the bytes of IN as a string_view named SYMBOL (included by
# chatscale_embed; also usable with cmake -P). Rewrites OUT only when its text changes.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
set(text
  "// Generated from ${IN}; do not edit.\n#include <string_view>\n"
  "namespace chatscale::embedded {\n"
  "static const char k_${SYMBOL}[] = {${bytes} '\\0'};\n"
  "std::string_view ${SYMBOL}() { return {k_${SYMBOL}, ${size}}; }\n"
  "}  // namespace chatscale::embedded\n")
set(old "")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT old STREQUAL text)
  file(WRITE ${OUT} "${text}")
endif()
