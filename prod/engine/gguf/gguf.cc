// GGUF reader (mmap + validation) and writer. See gguf.h.
#include "prod/engine/gguf/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <limits>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

namespace chatscale::engine {

struct GgufFile::State {
  std::string path;
  const std::uint8_t* base = nullptr;
  std::uint64_t size = 0;
  std::uint32_t version = 0;
  std::uint64_t alignment = 32;
  std::uint64_t data_offset = 0;
  std::vector<GgufKv> kvs;
  std::unordered_map<std::string_view, std::size_t> kv_index;
  std::vector<GgufTensorInfo> tensors;
  std::unordered_map<std::string_view, std::size_t> tensor_index;

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    if (base != nullptr) ::munmap(const_cast<std::uint8_t*>(base), size);
  }
};

namespace {

constexpr int kMaxArrayDepth = 8;
// Reservations follow the claimed counts only this far; beyond, vectors grow with what is really read.
constexpr std::uint64_t kMaxReserve = 1 << 16;

std::string_view type_name_or(std::uint32_t t) {
  return t <= 12 ? gguf_type_name(static_cast<GgufType>(t)) : std::string_view("unknown");
}

// Fixed element size of a scalar type, 0 for string/array.
std::uint64_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kBool: return 1;
    case GgufType::kU16: case GgufType::kI16: return 2;
    case GgufType::kU32: case GgufType::kI32: case GgufType::kF32: return 4;
    case GgufType::kU64: case GgufType::kI64: case GgufType::kF64: return 8;
    default: return 0;
  }
}

template <typename T>
T load(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Overflow-safe multiplication; false on overflow past `limit`.
bool mul_within(std::uint64_t a, std::uint64_t b, std::uint64_t limit, std::uint64_t* out) {
  if (a != 0 && b > limit / a) return false;
  *out = a * b;
  return true;
}

// Sequential reader over the mapping; every read is bounds-checked.
class Cursor {
 public:
  Cursor(const GgufFile::State& s) : s_(s) {}
  std::uint64_t pos() const { return pos_; }
  std::uint64_t remaining() const { return s_.size - pos_; }

  Status error_at(std::uint64_t at, const std::string& what) const {
    return invalid_argument(s_.path + ": offset " + std::to_string(at) + ": " + what);
  }
  Status need(std::uint64_t n, std::string_view what) const {
    if (n > remaining()) {
      return error_at(pos_, std::string(what) + " (" + std::to_string(n) + " bytes) runs past the end of the file (size " +
                                std::to_string(s_.size) + ")");
    }
    return Status::ok();
  }
  template <typename T>
  Result<T> read(std::string_view what) {
    CS_RETURN_IF_ERROR(need(sizeof(T), what));
    T v = load<T>(s_.base + pos_);
    pos_ += sizeof(T);
    return v;
  }
  Result<std::string_view> read_string(std::string_view what) {
    const std::uint64_t at = pos_;
    CS_ASSIGN_OR_RETURN(std::uint64_t len, read<std::uint64_t>(std::string(what) + " length"));
    if (len > remaining()) {
      pos_ = at;
      return error_at(at, std::string(what) + " length " + std::to_string(len) +
                              " runs past the end of the file (size " + std::to_string(s_.size) + ")");
    }
    std::string_view v(reinterpret_cast<const char*>(s_.base + pos_), len);
    pos_ += len;
    return v;
  }
  const std::uint8_t* here() const { return s_.base + pos_; }
  void skip(std::uint64_t n) { pos_ += n; }

 private:
  const GgufFile::State& s_;
  std::uint64_t pos_ = 0;
};

Status read_value(Cursor& c, GgufType type, GgufValue& out, int depth);

Status read_array(Cursor& c, GgufValue& out, int depth) {
  const std::uint64_t at = c.pos();
  if (depth >= kMaxArrayDepth) return c.error_at(at, "arrays nested deeper than " + std::to_string(kMaxArrayDepth));
  CS_ASSIGN_OR_RETURN(std::uint32_t et, c.read<std::uint32_t>("array element type"));
  if (et > 12) return c.error_at(at, "unknown array element type " + std::to_string(et));
  out.elem_type = static_cast<GgufType>(et);
  CS_ASSIGN_OR_RETURN(std::uint64_t n, c.read<std::uint64_t>("array length"));
  out.count = n;
  const std::uint64_t es = scalar_size(out.elem_type);
  // Each element needs at least this many bytes: bounds the length before anything is reserved.
  const std::uint64_t min_size = es != 0 ? es : (out.elem_type == GgufType::kString ? 8 : 12);
  std::uint64_t total = 0;
  if (!mul_within(n, min_size, c.remaining(), &total)) {
    return c.error_at(at, "array length " + std::to_string(n) + " of " + std::string(type_name_or(et)) +
                              " runs past the end of the file");
  }
  if (es != 0) {
    out.raw = c.here();
    c.skip(total);
    return Status::ok();
  }
  if (out.elem_type == GgufType::kString) {
    out.strings.reserve(std::min<std::uint64_t>(n, kMaxReserve));
    for (std::uint64_t i = 0; i < n; ++i) {
      CS_ASSIGN_OR_RETURN(std::string_view s, c.read_string("array string"));
      out.strings.push_back(s);
    }
    return Status::ok();
  }
  out.items.reserve(std::min<std::uint64_t>(n, kMaxReserve));
  for (std::uint64_t i = 0; i < n; ++i) {
    GgufValue item;
    item.type = GgufType::kArray;
    CS_RETURN_IF_ERROR(read_array(c, item, depth + 1));
    out.items.push_back(std::move(item));
  }
  return Status::ok();
}

Status read_value(Cursor& c, GgufType type, GgufValue& out, int depth) {
  out.type = type;
  switch (type) {
    case GgufType::kU8: { CS_ASSIGN_OR_RETURN(auto v, c.read<std::uint8_t>("u8 value")); out.u64 = v; return Status::ok(); }
    case GgufType::kI8: { CS_ASSIGN_OR_RETURN(auto v, c.read<std::int8_t>("i8 value")); out.i64 = v; return Status::ok(); }
    case GgufType::kU16: { CS_ASSIGN_OR_RETURN(auto v, c.read<std::uint16_t>("u16 value")); out.u64 = v; return Status::ok(); }
    case GgufType::kI16: { CS_ASSIGN_OR_RETURN(auto v, c.read<std::int16_t>("i16 value")); out.i64 = v; return Status::ok(); }
    case GgufType::kU32: { CS_ASSIGN_OR_RETURN(auto v, c.read<std::uint32_t>("u32 value")); out.u64 = v; return Status::ok(); }
    case GgufType::kI32: { CS_ASSIGN_OR_RETURN(auto v, c.read<std::int32_t>("i32 value")); out.i64 = v; return Status::ok(); }
    case GgufType::kU64: { CS_ASSIGN_OR_RETURN(auto v, c.read<std::uint64_t>("u64 value")); out.u64 = v; return Status::ok(); }
    case GgufType::kI64: { CS_ASSIGN_OR_RETURN(auto v, c.read<std::int64_t>("i64 value")); out.i64 = v; return Status::ok(); }
    case GgufType::kF32: { CS_ASSIGN_OR_RETURN(auto v, c.read<float>("f32 value")); out.f64 = v; return Status::ok(); }
    case GgufType::kF64: { CS_ASSIGN_OR_RETURN(auto v, c.read<double>("f64 value")); out.f64 = v; return Status::ok(); }
    case GgufType::kBool: {
      const std::uint64_t at = c.pos();
      CS_ASSIGN_OR_RETURN(auto v, c.read<std::uint8_t>("bool value"));
      if (v > 1) return c.error_at(at, "bool value " + std::to_string(v) + " is neither 0 nor 1");
      out.u64 = v;
      return Status::ok();
    }
    case GgufType::kString: { CS_ASSIGN_OR_RETURN(out.str, c.read_string("string")); return Status::ok(); }
    case GgufType::kArray: return read_array(c, out, depth);
  }
  return c.error_at(c.pos(), "unknown value type");
}

Status read_metadata(Cursor& c, GgufFile::State& s, std::uint64_t n_kv) {
  std::uint64_t tmp = 0;
  if (!mul_within(n_kv, 13, c.remaining(), &tmp)) {  // key length, key >= 1 byte, type, value >= 1 byte
    return c.error_at(16, "metadata count " + std::to_string(n_kv) + " cannot fit in the file (size " +
                              std::to_string(s.size) + ")");
  }
  s.kvs.reserve(std::min<std::uint64_t>(n_kv, kMaxReserve));
  for (std::uint64_t i = 0; i < n_kv; ++i) {
    const std::uint64_t at = c.pos();
    CS_ASSIGN_OR_RETURN(std::string_view key, c.read_string("metadata key"));
    if (key.empty()) return c.error_at(at, "empty metadata key");
    if (s.kv_index.count(key) != 0) return c.error_at(at, "duplicate metadata key \"" + std::string(key) + "\"");
    const std::uint64_t type_at = c.pos();
    CS_ASSIGN_OR_RETURN(std::uint32_t type, c.read<std::uint32_t>("metadata value type"));
    if (type > 12) {
      return c.error_at(type_at, "metadata key \"" + std::string(key) + "\": unknown value type " + std::to_string(type));
    }
    GgufKv kv;
    kv.key = std::string(key);
    CS_RETURN_IF_ERROR(read_value(c, static_cast<GgufType>(type), kv.value, 0));
    s.kvs.push_back(std::move(kv));
    s.kv_index.emplace(std::string_view(key), s.kvs.size() - 1);  // key views the mapping
  }
  return Status::ok();
}

Status read_tensor_info(Cursor& c, GgufFile::State& s, GgufTensorInfo& t) {
  const std::uint64_t at = c.pos();
  CS_ASSIGN_OR_RETURN(std::string_view name, c.read_string("tensor name"));
  t.name = std::string(name);
  if (s.tensor_index.count(name) != 0) return c.error_at(at, "duplicate tensor name \"" + t.name + "\"");
  const std::uint64_t dims_at = c.pos();
  CS_ASSIGN_OR_RETURN(std::uint32_t n_dims, c.read<std::uint32_t>("tensor dimension count"));
  if (n_dims < 1 || n_dims > kMaxDims) {
    return c.error_at(dims_at, "tensor \"" + t.name + "\": " + std::to_string(n_dims) + " dimensions (expected 1 to 4)");
  }
  t.view.n_dims = static_cast<int>(n_dims);
  std::uint64_t elems = 1;
  for (std::uint32_t d = 0; d < n_dims; ++d) {
    const std::uint64_t d_at = c.pos();
    CS_ASSIGN_OR_RETURN(std::uint64_t dim, c.read<std::uint64_t>("tensor dimension"));
    if (dim == 0 || !mul_within(elems, dim, std::uint64_t{1} << 56, &elems)) {
      return c.error_at(d_at, "tensor \"" + t.name + "\": dimension " + std::to_string(d) + " = " + std::to_string(dim) +
                                  (dim == 0 ? " (expected > 0)" : " makes the element count overflow"));
    }
    t.view.dims[d] = static_cast<std::int64_t>(dim);
  }
  const std::uint64_t type_at = c.pos();
  CS_ASSIGN_OR_RETURN(std::uint32_t type, c.read<std::uint32_t>("tensor type"));
  if (!dtype_known(type)) {
    return c.error_at(type_at, "tensor \"" + t.name + "\": unsupported tensor type " + std::to_string(type) +
                                   " (expected F32=0, F16=1, Q8_0=8 or BF16=30)");
  }
  t.view.dtype = static_cast<DType>(type);
  if (t.view.dims[0] % dtype_block_elems(t.view.dtype) != 0) {
    return c.error_at(dims_at, "tensor \"" + t.name + "\": first dimension " + std::to_string(t.view.dims[0]) +
                                   " is not a multiple of the " + std::string(dtype_name(t.view.dtype)) +
                                   " block size " + std::to_string(dtype_block_elems(t.view.dtype)));
  }
  const std::uint64_t off_at = c.pos();
  CS_ASSIGN_OR_RETURN(t.offset, c.read<std::uint64_t>("tensor offset"));
  (void)off_at;
  s.tensor_index.emplace(name, 0);  // duplicate detection; re-keyed with indices after parsing
  return Status::ok();
}

Status place_tensors(GgufFile::State& s, Cursor& c) {
  for (std::size_t i = 0; i < s.tensors.size(); ++i) {
    GgufTensorInfo& t = s.tensors[i];
    const auto bytes = static_cast<std::uint64_t>(t.view.bytes());
    const std::string where = "tensor \"" + t.name + "\"";
    if (t.offset % s.alignment != 0) {
      return c.error_at(s.data_offset, where + ": data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                                           std::to_string(s.alignment));
    }
    const std::uint64_t room = s.size - s.data_offset;
    if (t.offset > room || bytes > room - t.offset) {
      return c.error_at(s.data_offset, where + ": data [" + std::to_string(t.offset) + ", +" + std::to_string(bytes) +
                                           ") runs past the end of the file (size " + std::to_string(s.size) + ")");
    }
    t.view.data = s.base + s.data_offset + t.offset;
  }
  return Status::ok();
}

Status parse(GgufFile::State& s) {
  Cursor c(s);
  CS_ASSIGN_OR_RETURN(std::uint32_t magic, c.read<std::uint32_t>("GGUF magic"));
  if (magic != 0x46554747u) return c.error_at(0, "not a GGUF file (expected magic \"GGUF\")");
  CS_ASSIGN_OR_RETURN(s.version, c.read<std::uint32_t>("GGUF version"));
  if (s.version != 2 && s.version != 3) {
    return c.error_at(4, "GGUF version " + std::to_string(s.version) + " is not supported (expected 2 or 3)");
  }
  CS_ASSIGN_OR_RETURN(std::uint64_t n_tensors, c.read<std::uint64_t>("tensor count"));
  CS_ASSIGN_OR_RETURN(std::uint64_t n_kv, c.read<std::uint64_t>("metadata count"));
  std::uint64_t tmp = 0;
  if (!mul_within(n_tensors, 29, s.size, &tmp)) {  // each info: name >= 9, n_dims 4, dim 8, type 4, offset 8
    return c.error_at(8, "tensor count " + std::to_string(n_tensors) + " cannot fit in the file (size " + std::to_string(s.size) + ")");
  }
  CS_RETURN_IF_ERROR(read_metadata(c, s, n_kv));
  if (const auto it = s.kv_index.find("general.alignment"); it != s.kv_index.end()) {
    const GgufValue& v = s.kvs[it->second].value;
    if (v.type != GgufType::kU32 || v.u64 == 0 || (v.u64 & (v.u64 - 1)) != 0) {
      return invalid_argument(s.path + ": general.alignment must be a u32 power of two");
    }
    s.alignment = v.u64;
  }
  s.tensors.reserve(std::min<std::uint64_t>(n_tensors, kMaxReserve));
  for (std::uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    CS_RETURN_IF_ERROR(read_tensor_info(c, s, t));
    s.tensors.push_back(std::move(t));  // read_tensor_info keyed the name (a view of the mapping)
  }
  // Re-key the tensor index onto the stored names (stable: the vector no longer grows).
  s.tensor_index.clear();
  for (std::size_t i = 0; i < s.tensors.size(); ++i) s.tensor_index.emplace(s.tensors[i].name, i);
  const std::uint64_t end = c.pos();
  s.data_offset = (end + s.alignment - 1) / s.alignment * s.alignment;
  if (s.tensors.empty()) {
    s.data_offset = std::min(s.data_offset, s.size);
    return Status::ok();
  }
  if (s.data_offset > s.size) return c.error_at(end, "data section starts past the end of the file (size " + std::to_string(s.size) + ")");
  return place_tensors(s, c);
}

}  // namespace

std::string_view gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::kU8: return "u8";
    case GgufType::kI8: return "i8";
    case GgufType::kU16: return "u16";
    case GgufType::kI16: return "i16";
    case GgufType::kU32: return "u32";
    case GgufType::kI32: return "i32";
    case GgufType::kF32: return "f32";
    case GgufType::kBool: return "bool";
    case GgufType::kString: return "string";
    case GgufType::kArray: return "array";
    case GgufType::kU64: return "u64";
    case GgufType::kI64: return "i64";
    case GgufType::kF64: return "f64";
  }
  return "unknown";
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kU16: case GgufType::kI16:
    case GgufType::kU32: case GgufType::kI32: case GgufType::kU64: case GgufType::kI64: return true;
    default: return false;
  }
}

Result<GgufFile> GgufFile::open(const std::string& path) {
  auto s = std::make_shared<State>();
  s->path = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return invalid_argument(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return invalid_argument(path + ": cannot stat: " + std::strerror(e));
  }
  s->size = static_cast<std::uint64_t>(st.st_size);
  if (s->size < 24) {
    ::close(fd);
    return invalid_argument(path + ": offset 0: file of " + std::to_string(s->size) + " bytes is too small for a GGUF header (24 bytes)");
  }
  void* p = ::mmap(nullptr, s->size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int e = errno;
  ::close(fd);
  if (p == MAP_FAILED) return invalid_argument(path + ": cannot map: " + std::strerror(e));
  s->base = static_cast<const std::uint8_t*>(p);
  CS_RETURN_IF_ERROR(parse(*s));
  return GgufFile(std::shared_ptr<const State>(std::move(s)));
}

const std::string& GgufFile::path() const { return s_->path; }
std::uint32_t GgufFile::version() const { return s_->version; }
std::uint64_t GgufFile::alignment() const { return s_->alignment; }
std::uint64_t GgufFile::data_offset() const { return s_->data_offset; }
std::uint64_t GgufFile::file_size() const { return s_->size; }
const std::vector<GgufKv>& GgufFile::metadata() const { return s_->kvs; }
const std::vector<GgufTensorInfo>& GgufFile::tensors() const { return s_->tensors; }

const GgufValue* GgufFile::find(std::string_view key) const {
  const auto it = s_->kv_index.find(key);
  return it == s_->kv_index.end() ? nullptr : &s_->kvs[it->second].value;
}

Status GgufFile::key_error(std::string_view key, std::string_view what) const {
  return invalid_argument(s_->path + ": metadata key \"" + std::string(key) + "\": " + std::string(what));
}

namespace {
std::string got_type(const GgufValue& v) {
  std::string t(gguf_type_name(v.type));
  if (v.is_array()) t += " of " + std::string(gguf_type_name(v.elem_type));
  return t;
}
// Integer value as (negative?, magnitude) through i64/u64; false when not an integer.
bool as_int128(const GgufValue& v, bool* neg, std::uint64_t* mag) {
  if (!v.is_integer()) return false;
  const bool is_signed = v.type == GgufType::kI8 || v.type == GgufType::kI16 || v.type == GgufType::kI32 || v.type == GgufType::kI64;
  if (is_signed && v.i64 < 0) {
    *neg = true;
    *mag = static_cast<std::uint64_t>(-(v.i64 + 1)) + 1;
  } else {
    *neg = false;
    *mag = is_signed ? static_cast<std::uint64_t>(v.i64) : v.u64;
  }
  return true;
}
template <typename T>
bool fits(bool neg, std::uint64_t mag, T* out) {
  if (neg) {
    if constexpr (std::is_unsigned_v<T>) return false;
    else {
      if (mag > static_cast<std::uint64_t>(std::numeric_limits<T>::max()) + 1) return false;
      *out = static_cast<T>(-static_cast<std::int64_t>(mag - 1) - 1);
      return true;
    }
  }
  if (mag > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) return false;
  *out = static_cast<T>(mag);
  return true;
}
template <typename T>
Result<T> get_int(const GgufFile& f, std::string_view key, const char* want) {
  const GgufValue* v = f.find(key);
  if (v == nullptr) return invalid_argument(f.path() + ": missing metadata key \"" + std::string(key) + "\"");
  bool neg = false;
  std::uint64_t mag = 0;
  T out{};
  if (!as_int128(*v, &neg, &mag)) {
    return invalid_argument(f.path() + ": metadata key \"" + std::string(key) + "\": expected an integer, got " + got_type(*v));
  }
  if (!fits(neg, mag, &out)) {
    return invalid_argument(f.path() + ": metadata key \"" + std::string(key) + "\": value " + (neg ? "-" : "") +
                            std::to_string(mag) + " does not fit in " + want);
  }
  return out;
}
}  // namespace

Result<std::uint32_t> GgufFile::get_u32(std::string_view key) const { return get_int<std::uint32_t>(*this, key, "u32"); }
Result<std::int32_t> GgufFile::get_i32(std::string_view key) const { return get_int<std::int32_t>(*this, key, "i32"); }
Result<std::uint64_t> GgufFile::get_u64(std::string_view key) const { return get_int<std::uint64_t>(*this, key, "u64"); }
Result<std::int64_t> GgufFile::get_i64(std::string_view key) const { return get_int<std::int64_t>(*this, key, "i64"); }

Result<double> GgufFile::get_f64(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return invalid_argument(s_->path + ": missing metadata key \"" + std::string(key) + "\"");
  if (v->type != GgufType::kF32 && v->type != GgufType::kF64) return key_error(key, "expected a float, got " + got_type(*v));
  return v->f64;
}
Result<float> GgufFile::get_f32(std::string_view key) const {
  CS_ASSIGN_OR_RETURN(double d, get_f64(key));
  return static_cast<float>(d);
}
Result<bool> GgufFile::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return invalid_argument(s_->path + ": missing metadata key \"" + std::string(key) + "\"");
  if (v->type != GgufType::kBool) return key_error(key, "expected a bool, got " + got_type(*v));
  return v->u64 != 0;
}
Result<std::string_view> GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return invalid_argument(s_->path + ": missing metadata key \"" + std::string(key) + "\"");
  if (v->type != GgufType::kString) return key_error(key, "expected a string, got " + got_type(*v));
  return v->str;
}
Result<std::span<const std::string_view>> GgufFile::string_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return invalid_argument(s_->path + ": missing metadata key \"" + std::string(key) + "\"");
  if (!v->is_array() || v->elem_type != GgufType::kString) return key_error(key, "expected an array of string, got " + got_type(*v));
  return std::span<const std::string_view>(v->strings);
}
Result<std::vector<float>> GgufFile::f32_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return invalid_argument(s_->path + ": missing metadata key \"" + std::string(key) + "\"");
  if (!v->is_array() || (v->elem_type != GgufType::kF32 && v->elem_type != GgufType::kF64)) {
    return key_error(key, "expected an array of f32, got " + got_type(*v));
  }
  std::vector<float> out(v->count);
  for (std::uint64_t i = 0; i < v->count; ++i) {
    out[i] = v->elem_type == GgufType::kF32 ? load<float>(v->raw + 4 * i) : static_cast<float>(load<double>(v->raw + 8 * i));
  }
  return out;
}
Result<std::vector<std::int32_t>> GgufFile::i32_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return invalid_argument(s_->path + ": missing metadata key \"" + std::string(key) + "\"");
  if (!v->is_array()) return key_error(key, "expected an array of integers, got " + got_type(*v));
  GgufValue e;
  e.type = v->elem_type;
  if (!e.is_integer()) return key_error(key, "expected an array of integers, got " + got_type(*v));
  const std::uint64_t es = scalar_size(v->elem_type);
  std::vector<std::int32_t> out(v->count);
  for (std::uint64_t i = 0; i < v->count; ++i) {
    const std::uint8_t* p = v->raw + es * i;
    switch (v->elem_type) {
      case GgufType::kU8: e.u64 = *p; break;
      case GgufType::kI8: e.i64 = load<std::int8_t>(p); break;
      case GgufType::kU16: e.u64 = load<std::uint16_t>(p); break;
      case GgufType::kI16: e.i64 = load<std::int16_t>(p); break;
      case GgufType::kU32: e.u64 = load<std::uint32_t>(p); break;
      case GgufType::kI32: e.i64 = load<std::int32_t>(p); break;
      case GgufType::kU64: e.u64 = load<std::uint64_t>(p); break;
      default: e.i64 = load<std::int64_t>(p); break;
    }
    bool neg = false;
    std::uint64_t mag = 0;
    as_int128(e, &neg, &mag);
    if (!fits(neg, mag, &out[i])) return key_error(key, "element " + std::to_string(i) + " does not fit in i32");
  }
  return out;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  const auto it = s_->tensor_index.find(name);
  return it == s_->tensor_index.end() ? nullptr : &s_->tensors[it->second];
}
Result<TensorView> GgufFile::tensor(std::string_view name) const {
  const GgufTensorInfo* t = find_tensor(name);
  if (t == nullptr) return invalid_argument(s_->path + ": missing tensor \"" + std::string(name) + "\"");
  return t->view;
}

}  // namespace chatscale::engine
