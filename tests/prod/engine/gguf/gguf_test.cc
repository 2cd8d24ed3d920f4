// GGUF reader and writer: round trips of every value type, a hand-built byte image, and one test per
// validation error.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "prod/engine/gguf/gguf.h"

namespace chatscale::engine {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("gguf_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

void write_bytes(const std::string& path, const std::vector<std::uint8_t>& b) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// Little-endian byte image builder for hand-made files.
struct Image {
  std::vector<std::uint8_t> b;
  template <typename T>
  Image& put(T v) {
    const auto at = b.size();
    b.resize(at + sizeof(T));
    std::memcpy(b.data() + at, &v, sizeof(T));
    return *this;
  }
  Image& str(std::string_view s) {
    put<std::uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Image& pad_to(std::size_t a) {
    while (b.size() % a != 0) b.push_back(0);
    return *this;
  }
};

// A tiny valid file: one u32 key, one F32 tensor {2, 3} at offset 0.
Image tiny_image(std::uint32_t n_dims = 2, std::uint64_t dim0 = 2, std::uint32_t type = 0, std::uint64_t offset = 0) {
  Image im;
  im.put<std::uint32_t>(0x46554747).put<std::uint32_t>(3).put<std::uint64_t>(1).put<std::uint64_t>(1);
  im.str("answer").put<std::uint32_t>(4).put<std::uint32_t>(42);
  im.str("w").put<std::uint32_t>(n_dims).put<std::uint64_t>(dim0);
  if (n_dims >= 2) im.put<std::uint64_t>(3);
  for (std::uint32_t d = 2; d < n_dims && d < 8; ++d) im.put<std::uint64_t>(1);
  im.put<std::uint32_t>(type).put<std::uint64_t>(offset);
  im.pad_to(32);
  for (int i = 0; i < 6; ++i) im.put<float>(static_cast<float>(i) + 0.5f);
  return im;
}

std::string error_of(const std::string& path) {
  auto r = GgufFile::open(path);
  EXPECT_FALSE(r.is_ok());
  if (r.is_ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(GgufReader, HandBuiltImage) {
  TempDir dir;
  write_bytes(dir.file("t.gguf"), tiny_image().b);
  auto f = GgufFile::open(dir.file("t.gguf"));
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->get_u32("answer").value(), 42u);
  EXPECT_EQ(f->get_i64("answer").value(), 42);
  ASSERT_EQ(f->tensors().size(), 1u);
  auto w = f->tensor("w");
  ASSERT_TRUE(w.is_ok());
  EXPECT_EQ(w->n_dims, 2);
  EXPECT_EQ(w->dims[0], 2);
  EXPECT_EQ(w->dims[1], 3);
  EXPECT_EQ(w->dtype, DType::kF32);
  EXPECT_EQ(f->data_offset() % 32, 0u);
  const auto* p = static_cast<const float*>(w->data);
  EXPECT_EQ(p[0], 0.5f);
  EXPECT_EQ(p[5], 5.5f);
}

TEST(GgufReader, Version2Accepted) {
  TempDir dir;
  Image im = tiny_image();
  im.b[4] = 2;
  write_bytes(dir.file("t.gguf"), im.b);
  EXPECT_TRUE(GgufFile::open(dir.file("t.gguf")).is_ok());
}

TEST(GgufRoundTrip, EveryValueType) {
  TempDir dir;
  GgufWriter w;
  w.add_u8("u8", 200);
  w.add_i8("i8", -100);
  w.add_u16("u16", 60000);
  w.add_i16("i16", -30000);
  w.add_u32("u32", 4000000000u);
  w.add_i32("i32", -2000000000);
  w.add_u64("u64", 18000000000000000000ull);
  w.add_i64("i64", -9000000000000000000ll);
  w.add_f32("f32", 1.5f);
  w.add_f64("f64", 2.25);
  w.add_bool("bool", true);
  w.add_string("str", "héllo");
  const std::vector<std::string> strs{"a", "", "bc"};
  w.add_string_array("strs", strs);
  const std::vector<float> fl{1.0f, -2.5f};
  w.add_f32_array("fl", fl);
  const std::vector<std::int32_t> in{1, -2, 3};
  w.add_i32_array("in", in);
  const std::vector<std::uint32_t> un{7, 8};
  w.add_u32_array("un", un);
  w.add_i32_array_array("nested", {{1, 2}, {}, {3}});
  std::vector<std::uint8_t> bytes(4 * 6);
  for (int i = 0; i < 6; ++i) {
    const float v = static_cast<float>(i);
    std::memcpy(bytes.data() + 4 * i, &v, 4);
  }
  w.add_tensor("a", DType::kF32, {3, 2}, bytes);
  std::vector<std::uint8_t> q(sizeof(BlockQ8_0) * 2, 1);
  w.add_tensor("b", DType::kQ8_0, {32, 2}, q);
  const std::string path = dir.file("rt.gguf");
  ASSERT_TRUE(w.write(path).is_ok());
  EXPECT_FALSE(fs::exists(path + ".tmp"));

  auto f = GgufFile::open(path);
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(f->get_u32("u8").value(), 200u);
  EXPECT_EQ(f->get_i32("i8").value(), -100);
  EXPECT_EQ(f->get_u32("u16").value(), 60000u);
  EXPECT_EQ(f->get_i32("i16").value(), -30000);
  EXPECT_EQ(f->get_u32("u32").value(), 4000000000u);
  EXPECT_EQ(f->get_i32("i32").value(), -2000000000);
  EXPECT_EQ(f->get_u64("u64").value(), 18000000000000000000ull);
  EXPECT_EQ(f->get_i64("i64").value(), -9000000000000000000ll);
  EXPECT_EQ(f->get_f32("f32").value(), 1.5f);
  EXPECT_EQ(f->get_f64("f64").value(), 2.25);
  EXPECT_TRUE(f->get_bool("bool").value());
  EXPECT_EQ(f->get_string("str").value(), "héllo");
  auto sa = f->string_array("strs");
  ASSERT_TRUE(sa.is_ok());
  ASSERT_EQ(sa->size(), 3u);
  EXPECT_EQ((*sa)[2], "bc");
  EXPECT_EQ((*sa)[1], "");
  EXPECT_EQ(f->f32_array("fl").value(), fl);
  EXPECT_EQ(f->i32_array("in").value(), in);
  EXPECT_EQ(f->i32_array("un").value(), (std::vector<std::int32_t>{7, 8}));
  const GgufValue* nested = f->find("nested");
  ASSERT_NE(nested, nullptr);
  ASSERT_EQ(nested->items.size(), 3u);
  EXPECT_EQ(nested->items[0].count, 2u);
  EXPECT_EQ(nested->items[1].count, 0u);
  EXPECT_EQ(nested->items[2].count, 1u);
  auto a = f->tensor("a");
  ASSERT_TRUE(a.is_ok());
  EXPECT_EQ(std::memcmp(a->data, bytes.data(), bytes.size()), 0);
  auto b = f->tensor("b");
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(b->dtype, DType::kQ8_0);
  EXPECT_EQ(b->bytes(), 68);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b->data) % 32, 0u);  // mapping is page aligned, offsets aligned

  // Copying every key into a new file gives the same metadata bytes.
  GgufWriter copy;
  for (const GgufKv& kv : f->metadata()) copy.add_value(kv.key, kv.value);
  ASSERT_TRUE(copy.write(dir.file("copy.gguf")).is_ok());
  auto g = GgufFile::open(dir.file("copy.gguf"));
  ASSERT_TRUE(g.is_ok());
  EXPECT_EQ(g->metadata().size(), f->metadata().size());
  EXPECT_EQ(g->find("nested")->items[2].count, 1u);
  EXPECT_EQ(g->string_array("strs")->size(), 3u);
}

TEST(GgufRoundTrip, CustomAlignmentAndStreamedTensor) {
  TempDir dir;
  GgufWriter w;
  w.set_alignment(64);
  w.add_tensor("s", DType::kF16, {4, 1000}, [](std::int64_t first, std::int64_t n, std::uint8_t* out) {
    for (std::int64_t r = 0; r < n; ++r)
      for (int c = 0; c < 4; ++c) {
        const std::uint16_t h = f32_to_f16(static_cast<float>(first + r));
        std::memcpy(out + (r * 4 + c) * 2, &h, 2);
      }
    return Status::ok();
  });
  w.add_tensor("t", DType::kF32, {1}, std::vector<std::uint8_t>(4, 0));
  ASSERT_TRUE(w.write(dir.file("a.gguf")).is_ok());
  auto f = GgufFile::open(dir.file("a.gguf"));
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->data_offset() % 64, 0u);
  EXPECT_EQ(f->find_tensor("t")->offset % 64, 0u);
  auto s = f->tensor("s").value();
  EXPECT_EQ(f16_to_f32(static_cast<const std::uint16_t*>(s.row(999))[3]), 999.0f);
}

TEST(GgufWriterErrors, NoHalfWrittenFile) {
  TempDir dir;
  GgufWriter w;
  w.add_tensor("s", DType::kF32, {4, 4}, [](std::int64_t, std::int64_t, std::uint8_t*) { return internal_error("boom"); });
  const std::string path = dir.file("x.gguf");
  EXPECT_FALSE(w.write(path).is_ok());
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  GgufWriter dup;
  dup.add_u32("k", 1);
  dup.add_u32("k", 2);
  EXPECT_NE(dup.write(path).message().find("duplicate metadata key"), std::string::npos);
  GgufWriter size;
  size.add_tensor("t", DType::kF32, {4}, std::vector<std::uint8_t>(3));
  EXPECT_NE(size.write(path).message().find("bytes given"), std::string::npos);
}

TEST(GgufAccessors, TypeErrorsAndRanges) {
  TempDir dir;
  GgufWriter w;
  w.add_i32("neg", -1);
  w.add_u64("big", 1ull << 40);
  w.add_string("s", "x");
  const std::vector<std::int64_t> wide{1, 1ll << 40};
  w.add_i64_array("wide", wide);
  ASSERT_TRUE(w.write(dir.file("a.gguf")).is_ok());
  auto f = GgufFile::open(dir.file("a.gguf")).value();
  EXPECT_NE(f.get_u32("neg").status().message().find("does not fit in u32"), std::string::npos);
  EXPECT_EQ(f.get_i64("neg").value(), -1);
  EXPECT_FALSE(f.get_u32("big").is_ok());
  EXPECT_EQ(f.get_i64("big").value(), 1ll << 40);
  EXPECT_NE(f.get_u32("s").status().message().find("expected an integer, got string"), std::string::npos);
  EXPECT_NE(f.get_u32("nope").status().message().find("missing metadata key \"nope\""), std::string::npos);
  EXPECT_FALSE(f.get_f32("s").is_ok());
  EXPECT_FALSE(f.get_bool("s").is_ok());
  EXPECT_FALSE(f.string_array("s").is_ok());
  EXPECT_NE(f.i32_array("wide").status().message().find("element 1 does not fit"), std::string::npos);
  EXPECT_NE(f.tensor("x").status().message().find("missing tensor \"x\""), std::string::npos);
}

// ---- one test per validation ----

TEST(GgufValidation, BadMagicVersionAndTinyFile) {
  TempDir dir;
  Image im = tiny_image();
  im.b[0] = 'X';
  write_bytes(dir.file("m.gguf"), im.b);
  EXPECT_NE(error_of(dir.file("m.gguf")).find("not a GGUF file"), std::string::npos);
  im = tiny_image();
  im.b[4] = 7;
  write_bytes(dir.file("v.gguf"), im.b);
  EXPECT_NE(error_of(dir.file("v.gguf")).find("version 7 is not supported"), std::string::npos);
  write_bytes(dir.file("s.gguf"), {'G', 'G'});
  EXPECT_NE(error_of(dir.file("s.gguf")).find("too small"), std::string::npos);
  EXPECT_NE(error_of(dir.file("missing.gguf")).find("cannot open"), std::string::npos);
}

TEST(GgufValidation, HugeCountsAndStringLength) {
  TempDir dir;
  Image im = tiny_image();
  std::uint64_t huge = 1ull << 62;
  std::memcpy(im.b.data() + 16, &huge, 8);  // metadata count
  write_bytes(dir.file("kv.gguf"), im.b);
  EXPECT_NE(error_of(dir.file("kv.gguf")).find("metadata count"), std::string::npos);
  im = tiny_image();
  std::memcpy(im.b.data() + 8, &huge, 8);  // tensor count
  write_bytes(dir.file("tc.gguf"), im.b);
  EXPECT_NE(error_of(dir.file("tc.gguf")).find("tensor count"), std::string::npos);
  im = tiny_image();
  huge = 9000000000000000000ull;
  std::memcpy(im.b.data() + 24, &huge, 8);  // key length
  write_bytes(dir.file("sl.gguf"), im.b);
  const std::string e = error_of(dir.file("sl.gguf"));
  EXPECT_NE(e.find("sl.gguf: offset 24: metadata key length 9000000000000000000 runs past the end of the file (size "),
            std::string::npos) << e;
}

TEST(GgufValidation, ArrayLengthAndUnknownValueType) {
  TempDir dir;
  Image im;
  im.put<std::uint32_t>(0x46554747).put<std::uint32_t>(3).put<std::uint64_t>(0).put<std::uint64_t>(1);
  im.str("arr").put<std::uint32_t>(9).put<std::uint32_t>(4).put<std::uint64_t>(1ull << 61);
  write_bytes(dir.file("a.gguf"), im.b);
  EXPECT_NE(error_of(dir.file("a.gguf")).find("array length 2305843009213693952 of u32 runs past"), std::string::npos);
  Image bad;
  bad.put<std::uint32_t>(0x46554747).put<std::uint32_t>(3).put<std::uint64_t>(0).put<std::uint64_t>(1);
  bad.str("k").put<std::uint32_t>(13).put<std::uint64_t>(0);
  write_bytes(dir.file("t.gguf"), bad.b);
  EXPECT_NE(error_of(dir.file("t.gguf")).find("unknown value type 13"), std::string::npos);
  Image b2;
  b2.put<std::uint32_t>(0x46554747).put<std::uint32_t>(3).put<std::uint64_t>(0).put<std::uint64_t>(1);
  b2.str("k").put<std::uint32_t>(7).put<std::uint8_t>(5).put<std::uint64_t>(0);
  write_bytes(dir.file("b.gguf"), b2.b);
  EXPECT_NE(error_of(dir.file("b.gguf")).find("bool value 5"), std::string::npos);
}

TEST(GgufValidation, DeeplyNestedArrays) {
  TempDir dir;
  Image im;
  im.put<std::uint32_t>(0x46554747).put<std::uint32_t>(3).put<std::uint64_t>(0).put<std::uint64_t>(1);
  im.str("deep").put<std::uint32_t>(9);
  for (int i = 0; i < 20; ++i) im.put<std::uint32_t>(9).put<std::uint64_t>(1);
  im.put<std::uint32_t>(4).put<std::uint64_t>(0);
  write_bytes(dir.file("d.gguf"), im.b);
  EXPECT_NE(error_of(dir.file("d.gguf")).find("nested deeper"), std::string::npos);
}

TEST(GgufValidation, TensorInfoChecks) {
  TempDir dir;
  write_bytes(dir.file("nd.gguf"), tiny_image(5).b);
  EXPECT_NE(error_of(dir.file("nd.gguf")).find("tensor \"w\": 5 dimensions (expected 1 to 4)"), std::string::npos);
  write_bytes(dir.file("z.gguf"), tiny_image(2, 0).b);
  EXPECT_NE(error_of(dir.file("z.gguf")).find("dimension 0 = 0 (expected > 0)"), std::string::npos);
  write_bytes(dir.file("ty.gguf"), tiny_image(2, 2, 2).b);
  EXPECT_NE(error_of(dir.file("ty.gguf")).find("tensor \"w\": unsupported tensor type 2"), std::string::npos);
  write_bytes(dir.file("bl.gguf"), tiny_image(2, 2, 8).b);
  EXPECT_NE(error_of(dir.file("bl.gguf")).find("not a multiple of the Q8_0 block size 32"), std::string::npos);
  write_bytes(dir.file("al.gguf"), tiny_image(2, 2, 0, 4).b);
  EXPECT_NE(error_of(dir.file("al.gguf")).find("not a multiple of the alignment 32"), std::string::npos);
  write_bytes(dir.file("end.gguf"), tiny_image(2, 2, 0, 32).b);
  EXPECT_NE(error_of(dir.file("end.gguf")).find("runs past the end of the file"), std::string::npos);
  write_bytes(dir.file("ov.gguf"), tiny_image(2, 1ull << 40).b);
  EXPECT_NE(error_of(dir.file("ov.gguf")).find("runs past the end"), std::string::npos);
  Image big = tiny_image(2, 1ull << 55);
  write_bytes(dir.file("of.gguf"), big.b);
  EXPECT_NE(error_of(dir.file("of.gguf")).find("overflow"), std::string::npos);
}

TEST(GgufValidation, DuplicatesAndAlignmentKey) {
  TempDir dir;
  Image im;
  im.put<std::uint32_t>(0x46554747).put<std::uint32_t>(3).put<std::uint64_t>(0).put<std::uint64_t>(2);
  im.str("k").put<std::uint32_t>(4).put<std::uint32_t>(1);
  im.str("k").put<std::uint32_t>(4).put<std::uint32_t>(2);
  write_bytes(dir.file("dk.gguf"), im.b);
  EXPECT_NE(error_of(dir.file("dk.gguf")).find("duplicate metadata key \"k\""), std::string::npos);
  Image t;
  t.put<std::uint32_t>(0x46554747).put<std::uint32_t>(3).put<std::uint64_t>(2).put<std::uint64_t>(0);
  for (int i = 0; i < 2; ++i) t.str("w").put<std::uint32_t>(1).put<std::uint64_t>(1).put<std::uint32_t>(0).put<std::uint64_t>(0);
  t.pad_to(32).put<float>(1.0f);
  write_bytes(dir.file("dt.gguf"), t.b);
  EXPECT_NE(error_of(dir.file("dt.gguf")).find("duplicate tensor name \"w\""), std::string::npos);
  Image a;
  a.put<std::uint32_t>(0x46554747).put<std::uint32_t>(3).put<std::uint64_t>(0).put<std::uint64_t>(1);
  a.str("general.alignment").put<std::uint32_t>(4).put<std::uint32_t>(24);
  write_bytes(dir.file("al.gguf"), a.b);
  EXPECT_NE(error_of(dir.file("al.gguf")).find("power of two"), std::string::npos);
}

TEST(GgufValidation, TruncatedEverywhere) {
  TempDir dir;
  const std::vector<std::uint8_t> full = tiny_image().b;
  for (std::size_t n = 0; n < full.size(); ++n) {
    write_bytes(dir.file("t.gguf"), std::vector<std::uint8_t>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)));
    auto r = GgufFile::open(dir.file("t.gguf"));
    EXPECT_FALSE(r.is_ok()) << "prefix of " << n << " bytes parsed";
  }
}

}  // namespace
}  // namespace chatscale::engine
