// What the profiler measures of a CPU: its model name (/proc/cpuinfo "model name"), physical memory
// (/proc/meminfo MemTotal), the copy bandwidth of `threads` threads (each copies its share of a buffer
// far larger than the caches with memcpy; bytes read plus written per second, best of several runs) and
// the peak f32 FLOP/s of `threads` threads (each runs 8 independent chains of vector fused multiply-adds
// on registers: AVX2+FMA 8-lane FMAs when the CPU has them, else plain 8-lane multiply-adds the compiler
// vectorises as it can; 2 FLOPs per lane per FMA, best of several runs). The FMA figure is a peak, like a
// datasheet's; the backend's own matmuls reach a fraction of it (the calibration fit absorbs that).
//
// Plain functions; no shared state; safe to call from any thread (the benchmarks start their own).
// Failure: a missing /proc file gives "unknown CPU" / 0 bytes; the benchmarks cannot fail.
#pragma once

#include <cstdint>
#include <string>

namespace chatscale::engine {

std::string cpu_model_name();        // "unknown CPU" when /proc/cpuinfo has none
double physical_memory_bytes();      // 0 when unknown
// buffer_bytes: the source buffer (the destination is as large); repeats: best of.
double measure_copy_bytes_per_s(int threads, std::int64_t buffer_bytes, int repeats);
// iterations: FMA rounds per thread per run.
double measure_peak_f32_flops(int threads, std::int64_t iterations, int repeats);
// How measure_peak_f32_flops runs on this CPU ("AVX2+FMA ..." or "plain ...").
std::string peak_flops_method();

}  // namespace chatscale::engine
