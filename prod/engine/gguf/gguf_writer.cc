// GGUF writer. See gguf.h.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unordered_set>

#include "prod/engine/gguf/gguf.h"

namespace chatscale::engine {

namespace {

class Bytes {
 public:
  std::vector<std::uint8_t> out;
  template <typename T>
  void put(T v) {
    const auto at = out.size();
    out.resize(at + sizeof(T));
    std::memcpy(out.data() + at, &v, sizeof(T));
  }
  void put_type(GgufType t) { put(static_cast<std::uint32_t>(t)); }
  void put_string(std::string_view s) {
    put(static_cast<std::uint64_t>(s.size()));
    out.insert(out.end(), s.begin(), s.end());
  }
  void put_raw(const std::uint8_t* p, std::size_t n) { out.insert(out.end(), p, p + n); }
};

std::uint64_t elem_size(GgufType t) {
  switch (t) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kBool: return 1;
    case GgufType::kU16: case GgufType::kI16: return 2;
    case GgufType::kU32: case GgufType::kI32: case GgufType::kF32: return 4;
    case GgufType::kU64: case GgufType::kI64: case GgufType::kF64: return 8;
    default: return 0;
  }
}

// Serialises a value read by GgufFile (without its type id when `with_type` is false: array items).
void put_value(Bytes& b, const GgufValue& v, bool with_type) {
  if (with_type) b.put_type(v.type);
  switch (v.type) {
    case GgufType::kU8: b.put(static_cast<std::uint8_t>(v.u64)); return;
    case GgufType::kI8: b.put(static_cast<std::int8_t>(v.i64)); return;
    case GgufType::kU16: b.put(static_cast<std::uint16_t>(v.u64)); return;
    case GgufType::kI16: b.put(static_cast<std::int16_t>(v.i64)); return;
    case GgufType::kU32: b.put(static_cast<std::uint32_t>(v.u64)); return;
    case GgufType::kI32: b.put(static_cast<std::int32_t>(v.i64)); return;
    case GgufType::kU64: b.put(v.u64); return;
    case GgufType::kI64: b.put(v.i64); return;
    case GgufType::kF32: b.put(static_cast<float>(v.f64)); return;
    case GgufType::kF64: b.put(v.f64); return;
    case GgufType::kBool: b.put(static_cast<std::uint8_t>(v.u64 != 0)); return;
    case GgufType::kString: b.put_string(v.str); return;
    case GgufType::kArray:
      b.put_type(v.elem_type);
      b.put(v.count);
      if (v.elem_type == GgufType::kString) {
        for (std::string_view s : v.strings) b.put_string(s);
      } else if (v.elem_type == GgufType::kArray) {
        for (const GgufValue& item : v.items) put_value(b, item, false);
      } else {
        b.put_raw(v.raw, v.count * elem_size(v.elem_type));
      }
      return;
  }
}

template <typename T>
std::vector<std::uint8_t> scalar(GgufType t, T v) {
  Bytes b;
  b.put_type(t);
  b.put(v);
  return std::move(b.out);
}

template <typename T>
std::vector<std::uint8_t> array(GgufType et, std::span<const T> v) {
  Bytes b;
  b.put_type(GgufType::kArray);
  b.put_type(et);
  b.put(static_cast<std::uint64_t>(v.size()));
  for (const T& x : v) b.put(x);
  return std::move(b.out);
}

std::uint64_t align_up(std::uint64_t x, std::uint64_t a) { return (x + a - 1) / a * a; }

// Writes all bytes, or returns an error.
Status write_all(std::FILE* f, const void* p, std::size_t n, const std::string& path) {
  if (n != 0 && std::fwrite(p, 1, n, f) != n) return internal_error(path + ": write failed: " + std::strerror(errno));
  return Status::ok();
}

Status write_zeros(std::FILE* f, std::uint64_t n, const std::string& path) {
  static const std::uint8_t zeros[256] = {};
  while (n > 0) {
    const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(n, sizeof(zeros)));
    CS_RETURN_IF_ERROR(write_all(f, zeros, k, path));
    n -= k;
  }
  return Status::ok();
}

}  // namespace

void GgufWriter::set_alignment(std::uint32_t alignment) { alignment_ = alignment; }

void GgufWriter::add_kv(std::string key, std::vector<std::uint8_t> bytes) { kvs_.push_back({std::move(key), std::move(bytes)}); }
void GgufWriter::add_u8(std::string key, std::uint8_t v) { add_kv(std::move(key), scalar(GgufType::kU8, v)); }
void GgufWriter::add_i8(std::string key, std::int8_t v) { add_kv(std::move(key), scalar(GgufType::kI8, v)); }
void GgufWriter::add_u16(std::string key, std::uint16_t v) { add_kv(std::move(key), scalar(GgufType::kU16, v)); }
void GgufWriter::add_i16(std::string key, std::int16_t v) { add_kv(std::move(key), scalar(GgufType::kI16, v)); }
void GgufWriter::add_u32(std::string key, std::uint32_t v) { add_kv(std::move(key), scalar(GgufType::kU32, v)); }
void GgufWriter::add_i32(std::string key, std::int32_t v) { add_kv(std::move(key), scalar(GgufType::kI32, v)); }
void GgufWriter::add_u64(std::string key, std::uint64_t v) { add_kv(std::move(key), scalar(GgufType::kU64, v)); }
void GgufWriter::add_i64(std::string key, std::int64_t v) { add_kv(std::move(key), scalar(GgufType::kI64, v)); }
void GgufWriter::add_f32(std::string key, float v) { add_kv(std::move(key), scalar(GgufType::kF32, v)); }
void GgufWriter::add_f64(std::string key, double v) { add_kv(std::move(key), scalar(GgufType::kF64, v)); }
void GgufWriter::add_bool(std::string key, bool v) {
  add_kv(std::move(key), scalar(GgufType::kBool, static_cast<std::uint8_t>(v)));
}
void GgufWriter::add_string(std::string key, std::string_view v) {
  Bytes b;
  b.put_type(GgufType::kString);
  b.put_string(v);
  add_kv(std::move(key), std::move(b.out));
}
void GgufWriter::add_string_array(std::string key, std::span<const std::string> v) {
  Bytes b;
  b.put_type(GgufType::kArray);
  b.put_type(GgufType::kString);
  b.put(static_cast<std::uint64_t>(v.size()));
  for (const std::string& s : v) b.put_string(s);
  add_kv(std::move(key), std::move(b.out));
}
void GgufWriter::add_f32_array(std::string key, std::span<const float> v) { add_kv(std::move(key), array(GgufType::kF32, v)); }
void GgufWriter::add_i32_array(std::string key, std::span<const std::int32_t> v) { add_kv(std::move(key), array(GgufType::kI32, v)); }
void GgufWriter::add_u32_array(std::string key, std::span<const std::uint32_t> v) { add_kv(std::move(key), array(GgufType::kU32, v)); }
void GgufWriter::add_i64_array(std::string key, std::span<const std::int64_t> v) { add_kv(std::move(key), array(GgufType::kI64, v)); }
void GgufWriter::add_value(std::string key, const GgufValue& v) {
  Bytes b;
  put_value(b, v, true);
  add_kv(std::move(key), std::move(b.out));
}
void GgufWriter::add_i32_array_array(std::string key, const std::vector<std::vector<std::int32_t>>& v) {
  Bytes b;
  b.put_type(GgufType::kArray);
  b.put_type(GgufType::kArray);
  b.put(static_cast<std::uint64_t>(v.size()));
  for (const auto& inner : v) {
    b.put_type(GgufType::kI32);
    b.put(static_cast<std::uint64_t>(inner.size()));
    for (std::int32_t x : inner) b.put(x);
  }
  add_kv(std::move(key), std::move(b.out));
}

void GgufWriter::add_tensor(std::string name, DType dtype, std::vector<std::int64_t> dims, std::vector<std::uint8_t> bytes) {
  tensors_.push_back({std::move(name), dtype, std::move(dims), std::move(bytes), nullptr});
}
void GgufWriter::add_tensor(std::string name, DType dtype, std::vector<std::int64_t> dims, RowProducer producer) {
  tensors_.push_back({std::move(name), dtype, std::move(dims), {}, std::move(producer)});
}

namespace {
TensorView shape_of(DType dtype, const std::vector<std::int64_t>& dims) {
  TensorView v;
  v.dtype = dtype;
  v.n_dims = static_cast<int>(dims.size());
  for (std::size_t i = 0; i < dims.size() && i < kMaxDims; ++i) v.dims[i] = dims[i];
  return v;
}
}  // namespace

Status GgufWriter::validate() const {
  if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0) return invalid_argument("gguf writer: alignment must be a power of two");
  std::unordered_set<std::string_view> keys;
  for (const PendingKv& kv : kvs_) {
    if (kv.key.empty()) return invalid_argument("gguf writer: empty metadata key");
    if (!keys.insert(kv.key).second) return invalid_argument("gguf writer: duplicate metadata key \"" + kv.key + "\"");
  }
  std::unordered_set<std::string_view> names;
  for (const PendingTensor& t : tensors_) {
    if (!names.insert(t.name).second) return invalid_argument("gguf writer: duplicate tensor name \"" + t.name + "\"");
    if (t.dims.empty() || t.dims.size() > kMaxDims) return invalid_argument("gguf writer: tensor \"" + t.name + "\": 1 to 4 dimensions expected");
    for (std::int64_t d : t.dims) {
      if (d <= 0) return invalid_argument("gguf writer: tensor \"" + t.name + "\": dimensions must be positive");
    }
    if (t.dims[0] % dtype_block_elems(t.dtype) != 0) {
      return invalid_argument("gguf writer: tensor \"" + t.name + "\": first dimension not a multiple of the block size");
    }
    const TensorView v = shape_of(t.dtype, t.dims);
    if (!t.producer && static_cast<std::int64_t>(t.bytes.size()) != v.bytes()) {
      return invalid_argument("gguf writer: tensor \"" + t.name + "\": " + std::to_string(t.bytes.size()) + " bytes given, " +
                              std::to_string(v.bytes()) + " expected");
    }
  }
  return Status::ok();
}

Status GgufWriter::write(const std::string& path) const {
  CS_RETURN_IF_ERROR(validate());
  const bool custom_alignment = alignment_ != 32;
  Bytes head;
  head.put(static_cast<std::uint32_t>(0x46554747u));
  head.put(static_cast<std::uint32_t>(3));
  head.put(static_cast<std::uint64_t>(tensors_.size()));
  head.put(static_cast<std::uint64_t>(kvs_.size() + (custom_alignment ? 1 : 0)));
  for (const PendingKv& kv : kvs_) {
    head.put_string(kv.key);
    head.put_raw(kv.bytes.data(), kv.bytes.size());
  }
  if (custom_alignment) {
    head.put_string("general.alignment");
    head.put_type(GgufType::kU32);
    head.put(alignment_);
  }
  std::uint64_t offset = 0;
  for (const PendingTensor& t : tensors_) {
    head.put_string(t.name);
    head.put(static_cast<std::uint32_t>(t.dims.size()));
    for (std::int64_t d : t.dims) head.put(static_cast<std::uint64_t>(d));
    head.put(static_cast<std::uint32_t>(t.dtype));
    head.put(offset);
    offset = align_up(offset + static_cast<std::uint64_t>(shape_of(t.dtype, t.dims).bytes()), alignment_);
  }
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return internal_error(tmp + ": cannot create: " + std::strerror(errno));
  Status st = [&]() -> Status {
    CS_RETURN_IF_ERROR(write_all(f, head.out.data(), head.out.size(), tmp));
    CS_RETURN_IF_ERROR(write_zeros(f, align_up(head.out.size(), alignment_) - head.out.size(), tmp));
    std::vector<std::uint8_t> chunk;
    for (const PendingTensor& t : tensors_) {
      const TensorView v = shape_of(t.dtype, t.dims);
      if (!t.producer) {
        CS_RETURN_IF_ERROR(write_all(f, t.bytes.data(), t.bytes.size(), tmp));
      } else {
        const std::int64_t rows_per_chunk = std::max<std::int64_t>(1, (std::int64_t{8} << 20) / v.row_bytes());
        for (std::int64_t r = 0; r < v.rows(); r += rows_per_chunk) {
          const std::int64_t n = std::min(rows_per_chunk, v.rows() - r);
          chunk.assign(static_cast<std::size_t>(n * v.row_bytes()), 0);
          CS_RETURN_IF_ERROR(t.producer(r, n, chunk.data()));
          CS_RETURN_IF_ERROR(write_all(f, chunk.data(), chunk.size(), tmp));
        }
      }
      const auto b = static_cast<std::uint64_t>(v.bytes());
      CS_RETURN_IF_ERROR(write_zeros(f, align_up(b, alignment_) - b, tmp));
    }
    return Status::ok();
  }();
  if (std::fclose(f) != 0 && st.is_ok()) st = internal_error(tmp + ": close failed: " + std::strerror(errno));
  if (st.is_ok() && std::rename(tmp.c_str(), path.c_str()) != 0) {
    st = internal_error(path + ": cannot rename " + tmp + ": " + std::strerror(errno));
  }
  if (!st.is_ok()) std::remove(tmp.c_str());
  return st;
}

}  // namespace chatscale::engine
