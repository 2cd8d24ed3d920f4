// Test support: a tiny random Llama GGUF (2 layers, hidden 64, vocab 320 with the built-in byte-level
// BPE vocabulary and the Llama-3 chat template, context 256) written into a unique temporary directory
// that is removed at the end.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>

#include "prod/engine/model/random_model.h"
#include "prod/engine/model/shape.h"

namespace chatscale::engine::testing {

class TinyGguf {
 public:
  TinyGguf() {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("engine_server_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "tiny.gguf").string();
    auto shape = parse_shape(
        "hidden: 64\nheads: 4\nkv_heads: 2\nhead_dim: 16\nffn: 96\nlayers: 2\nvocab: 320\ncontext_length: 256\n",
        "tiny.yaml");
    if (!shape.is_ok()) {
      status_ = shape.status();
      return;
    }
    RandomModelOptions o;
    o.dtype = DType::kF32;
    o.seed = 3;
    o.threads = 1;
    o.stddev = 0.5f;  // sharper logits than 0.02: greedy answers vary with the prompt
    status_ = write_random_model(*shape, o, path_);
  }
  ~TinyGguf() { std::filesystem::remove_all(dir_); }
  TinyGguf(const TinyGguf&) = delete;
  TinyGguf& operator=(const TinyGguf&) = delete;

  const std::string& path() const { return path_; }
  const Status& status() const { return status_; }

 private:
  std::filesystem::path dir_;
  std::string path_;
  Status status_;
};

}  // namespace chatscale::engine::testing
