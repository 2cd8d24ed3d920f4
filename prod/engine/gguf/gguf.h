// GGUF (v2, v3) reader and writer: the model file format of llama.cpp.
//
// GgufFile maps a file read-only (POSIX mmap), parses and validates its header, metadata and tensor
// infos against the file size (overflow-safe), and hands out typed metadata and TensorViews that point
// into the mapping. A GgufFile is a cheap shared handle: copies share one mapping, which is unmapped
// when the last copy goes; views and string_views stay valid while any copy lives. Immutable after
// open, so safe to read from many threads.
//
// GgufWriter collects metadata and tensors (bytes, or a row producer that streams a large tensor in
// chunks) and writes a file with GGUF's alignment and padding to `path.tmp`, then renames it, so no
// half-written file is left under `path` on error. Not thread-safe; one writer per file.
//
// Failures are values: bad files give kInvalidArgument naming the file, the byte offset and what was
// expected; I/O failures give kInvalidArgument (open) or kInternal (write). Nothing throws.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "prod/engine/tensor.h"

namespace chatscale::engine {

enum class GgufType : std::uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};
std::string_view gguf_type_name(GgufType t);

// One metadata value. Scalars: unsigned integers and bool in u64, signed integers in i64, floats in
// f64 (exact for f32). Strings view the mapping. Arrays: elem_type and count; numeric and bool arrays
// keep `raw` (little-endian elements, unaligned); string arrays fill `strings`; arrays of arrays fill
// `items`.
struct GgufValue {
  GgufType type = GgufType::kU8;
  std::uint64_t u64 = 0;
  std::int64_t i64 = 0;
  double f64 = 0;
  std::string_view str;
  GgufType elem_type = GgufType::kU8;
  std::uint64_t count = 0;
  const std::uint8_t* raw = nullptr;
  std::vector<std::string_view> strings;
  std::vector<GgufValue> items;

  bool is_integer() const;
  bool is_array() const { return type == GgufType::kArray; }
};

struct GgufKv {
  std::string key;
  GgufValue value;
};

struct GgufTensorInfo {
  std::string name;
  std::uint64_t offset = 0;  // relative to the data section
  TensorView view;           // points into the mapping
};

class GgufFile {
 public:
  // Maps and validates `path`.
  static Result<GgufFile> open(const std::string& path);

  const std::string& path() const;
  std::uint32_t version() const;
  std::uint64_t alignment() const;
  std::uint64_t data_offset() const;  // byte offset of the tensor data section
  std::uint64_t file_size() const;
  const std::vector<GgufKv>& metadata() const;         // in file order
  const std::vector<GgufTensorInfo>& tensors() const;  // in file order

  // nullptr when absent.
  const GgufValue* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // Typed getters: missing keys and wrong types are kInvalidArgument naming the file and key. Integer
  // getters accept any integer type whose value fits; get_f32/get_f64 accept f32 and f64.
  Result<std::uint32_t> get_u32(std::string_view key) const;
  Result<std::int32_t> get_i32(std::string_view key) const;
  Result<std::uint64_t> get_u64(std::string_view key) const;
  Result<std::int64_t> get_i64(std::string_view key) const;
  Result<float> get_f32(std::string_view key) const;
  Result<double> get_f64(std::string_view key) const;
  Result<bool> get_bool(std::string_view key) const;
  Result<std::string_view> get_string(std::string_view key) const;
  // Arrays: string_array views the stored list; f32_array accepts f32/f64 arrays; i32_array any
  // integer array whose values fit in i32.
  Result<std::span<const std::string_view>> string_array(std::string_view key) const;
  Result<std::vector<float>> f32_array(std::string_view key) const;
  Result<std::vector<std::int32_t>> i32_array(std::string_view key) const;

  const GgufTensorInfo* find_tensor(std::string_view name) const;
  Result<TensorView> tensor(std::string_view name) const;

  struct State;

 private:
  explicit GgufFile(std::shared_ptr<const State> s) : s_(std::move(s)) {}
  Status key_error(std::string_view key, std::string_view what) const;
  std::shared_ptr<const State> s_;
};

// Writes GGUF v3 files. add_* never fail; problems (duplicate keys or names, bad dims) are reported by
// write().
class GgufWriter {
 public:
  // Fills rows [first_row, first_row + n_rows) of a tensor into `out` (n_rows * row_bytes bytes).
  using RowProducer = std::function<Status(std::int64_t first_row, std::int64_t n_rows, std::uint8_t* out)>;

  void set_alignment(std::uint32_t alignment);  // also written as general.alignment when not 32

  void add_u8(std::string key, std::uint8_t v);
  void add_i8(std::string key, std::int8_t v);
  void add_u16(std::string key, std::uint16_t v);
  void add_i16(std::string key, std::int16_t v);
  void add_u32(std::string key, std::uint32_t v);
  void add_i32(std::string key, std::int32_t v);
  void add_u64(std::string key, std::uint64_t v);
  void add_i64(std::string key, std::int64_t v);
  void add_f32(std::string key, float v);
  void add_f64(std::string key, double v);
  void add_bool(std::string key, bool v);
  void add_string(std::string key, std::string_view v);
  void add_string_array(std::string key, std::span<const std::string> v);
  void add_f32_array(std::string key, std::span<const float> v);
  void add_i32_array(std::string key, std::span<const std::int32_t> v);
  void add_u32_array(std::string key, std::span<const std::uint32_t> v);
  void add_i64_array(std::string key, std::span<const std::int64_t> v);
  // Copies a value read from another file (any type, nested arrays too).
  void add_value(std::string key, const GgufValue& v);
  // Nested array: each element an array of i32 (for tests of nested arrays).
  void add_i32_array_array(std::string key, const std::vector<std::vector<std::int32_t>>& v);

  // dims[0] fastest; bytes must be exactly the tensor's size.
  void add_tensor(std::string name, DType dtype, std::vector<std::int64_t> dims, std::vector<std::uint8_t> bytes);
  // Streams the tensor's rows from `producer` at write time, in chunks of about 8 MiB.
  void add_tensor(std::string name, DType dtype, std::vector<std::int64_t> dims, RowProducer producer);

  Status write(const std::string& path) const;

 private:
  struct PendingKv {
    std::string key;
    std::vector<std::uint8_t> bytes;  // type id and value, serialised
  };
  struct PendingTensor {
    std::string name;
    DType dtype;
    std::vector<std::int64_t> dims;
    std::vector<std::uint8_t> bytes;
    RowProducer producer;
  };
  void add_kv(std::string key, std::vector<std::uint8_t> bytes);
  Status validate() const;

  std::uint32_t alignment_ = 32;
  std::vector<PendingKv> kvs_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace chatscale::engine
