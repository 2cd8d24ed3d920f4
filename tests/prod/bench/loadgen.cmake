# chatscale_loadgen: the HTTP load generator behind scripts/bench-serve (not a unit test). A client
# only: Boost.Asio/Beast and nlohmann-json, no link to the service's own code, so it measures the
# server from outside exactly as a client sees it. Included by this folder's CMakeLists.txt.
find_package(Boost 1.74 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(Threads REQUIRED)
set(_loadgen_dir ${CMAKE_CURRENT_LIST_DIR})
add_executable(chatscale_loadgen
  ${_loadgen_dir}/loadgen.cc ${_loadgen_dir}/bench_client.cc ${_loadgen_dir}/bench_setup.cc
  ${_loadgen_dir}/bench_stats.cc ${_loadgen_dir}/bench_rate.cc ${_loadgen_dir}/bench_streams.cc)
target_link_libraries(chatscale_loadgen PRIVATE Boost::boost nlohmann_json::nlohmann_json Threads::Threads)
# Boost 1.74's asio/awaitable.hpp uses std::exchange without <utility> under C++20 (PITFALLS.md).
target_compile_options(chatscale_loadgen PRIVATE -include utility)
target_compile_definitions(chatscale_loadgen PRIVATE BOOST_ALLOW_DEPRECATED_HEADERS)
# GCC 12 with -fsanitize=address reports -Wmismatched-new-delete inside Asio's C++20 coroutine frames
# (awaitable_frame_base's operator new/delete pair, through its recycling allocator): a false positive.
target_compile_options(chatscale_loadgen PRIVATE $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>)
chatscale_warnings(chatscale_loadgen)
set_target_properties(chatscale_loadgen PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
