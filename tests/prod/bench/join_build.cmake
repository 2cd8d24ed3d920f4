# Passed as -DCMAKE_PROJECT_chatscale_INCLUDE=<this file> by scripts/bench-serve while
# tests/prod/CMakeLists.txt does not list `bench`: defines chatscale_loadgen once the top-level
# CMakeLists.txt has been read (chatscale_warnings and the packages exist by then). Deferred calls may
# not add subdirectories, so this includes the target's definition directly. (A deferred call's
# arguments are expanded when it runs, hence the variable.)
set(CHATSCALE_LOADGEN_CMAKE ${CMAKE_CURRENT_LIST_DIR}/loadgen.cmake)
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL include ${CHATSCALE_LOADGEN_CMAKE})
