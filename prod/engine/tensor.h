// Tensor vocabulary of the inference engine, shared by the GGUF reader, the CPU backend and the CUDA
// backend: element types (numbered as GGUF numbers them), a non-owning view of a tensor's bytes, and
// scalar conversions (f16, bf16) and Q8_0 block (de)quantisation.
//
// Layout follows GGUF/ggml: dims[0] is the fastest-varying (contiguous) dimension. A weight matrix of
// a linear layer y = W x with `in` inputs and `out` outputs has dims {in, out}: `out` rows of `in`
// elements, each row stored contiguously (for Q8_0, as in/32 blocks).
//
// Header-only, standard library only (the CUDA standalone build uses it). Values and views; no
// shared state. Views do not own their bytes: the mapping or buffer they point into must outlive them.
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace chatscale::engine {

// GGUF's ggml_type numbers for the types the engine reads.
enum class DType : std::uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ8_0 = 8,
  kBF16 = 30,
};

inline constexpr int kQ8BlockSize = 32;  // elements per Q8_0 block

// One Q8_0 block: 32 int8 values times one f16 scale (34 bytes, as ggml stores it).
struct BlockQ8_0 {
  std::uint16_t d;  // f16 bits of the scale
  std::int8_t qs[kQ8BlockSize];
};
static_assert(sizeof(BlockQ8_0) == 34);

inline bool dtype_known(std::uint32_t t) { return t == 0 || t == 1 || t == 8 || t == 30; }

inline std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kQ8_0: return "Q8_0";
    case DType::kBF16: return "BF16";
  }
  return "?";
}

// Elements per storage block, and bytes per block.
inline std::int64_t dtype_block_elems(DType t) { return t == DType::kQ8_0 ? kQ8BlockSize : 1; }
inline std::int64_t dtype_block_bytes(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kF16:
    case DType::kBF16: return 2;
    case DType::kQ8_0: return sizeof(BlockQ8_0);
  }
  return 0;
}
// Bytes of `n` elements (n must be a multiple of the block size).
inline std::int64_t dtype_bytes(DType t, std::int64_t n) { return n / dtype_block_elems(t) * dtype_block_bytes(t); }

// ---- scalar conversions (round to nearest even; NaN stays NaN) ----------------------------------

inline float bf16_to_f32(std::uint16_t h) { return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16); }

inline std::uint16_t f32_to_bf16(float f) {
  std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

inline float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  const std::uint32_t mant = h & 0x3ffu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24
    const float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));  // inf / NaN
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
}

inline std::uint16_t f32_to_f16(float f) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  const auto sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const std::uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u);  // NaN
  if (abs >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // overflow -> inf
  if (abs < 0x38800000u) {  // below the smallest normal f16: subnormal or zero, rounded to even
    const float a = std::bit_cast<float>(abs);
    return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(std::nearbyint(std::ldexp(a, 24))));
  }
  std::uint32_t v = abs - (112u << 23);  // rebias the exponent
  v += 0xfffu + ((v >> 13) & 1u);        // round to nearest even at bit 13
  return static_cast<std::uint16_t>(sign | (v >> 13));
}

// ---- Q8_0 -----------------------------------------------------------------------------------------

// Quantises 32 floats as ggml does: d = max|x| / 127, q = round(x / d).
inline BlockQ8_0 quantize_q8_0(const float* x) {
  float amax = 0;
  for (int i = 0; i < kQ8BlockSize; ++i) amax = std::fmax(amax, std::fabs(x[i]));
  const float d = amax / 127.0f;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  BlockQ8_0 b{};
  b.d = f32_to_f16(d);
  for (int i = 0; i < kQ8BlockSize; ++i) b.qs[i] = static_cast<std::int8_t>(std::lround(x[i] * id));
  return b;
}

// Converts `n` elements of type `t` at `src` to f32 (n a multiple of the block size for Q8_0).
inline void dequantize(DType t, const void* src, float* dst, std::int64_t n) {
  switch (t) {
    case DType::kF32: std::memcpy(dst, src, static_cast<std::size_t>(n) * 4); return;
    case DType::kF16:
    case DType::kBF16: {
      const auto* s = static_cast<const std::uint16_t*>(src);
      for (std::int64_t i = 0; i < n; ++i) dst[i] = t == DType::kF16 ? f16_to_f32(s[i]) : bf16_to_f32(s[i]);
      return;
    }
    case DType::kQ8_0: {
      const auto* b = static_cast<const BlockQ8_0*>(src);
      for (std::int64_t k = 0; k < n / kQ8BlockSize; ++k) {
        const float d = f16_to_f32(b[k].d);
        for (int i = 0; i < kQ8BlockSize; ++i) dst[k * kQ8BlockSize + i] = d * static_cast<float>(b[k].qs[i]);
      }
      return;
    }
  }
}

// ---- views ----------------------------------------------------------------------------------------

inline constexpr int kMaxDims = 4;

// A tensor's element type, dimensions (dims[0] fastest) and bytes; does not own them.
struct TensorView {
  DType dtype = DType::kF32;
  int n_dims = 0;
  std::array<std::int64_t, kMaxDims> dims{1, 1, 1, 1};
  const void* data = nullptr;

  std::int64_t elements() const { return dims[0] * dims[1] * dims[2] * dims[3]; }
  std::int64_t cols() const { return dims[0]; }                // elements per row
  std::int64_t rows() const { return dims[1] * dims[2] * dims[3]; }
  std::int64_t row_bytes() const { return dtype_bytes(dtype, dims[0]); }
  std::int64_t bytes() const { return row_bytes() * rows(); }
  const void* row(std::int64_t r) const { return static_cast<const std::uint8_t*>(data) + r * row_bytes(); }
};

}  // namespace chatscale::engine
