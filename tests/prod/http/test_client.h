// Test support for the HTTP server tests: a small blocking HTTP/1.1 client over raw sockets (plain or
// OpenSSL TLS) with deadlines on every read, an SSE parser, a self-signed certificate generator, and a
// fixture that runs an HttpServer on 127.0.0.1 port 0 in a thread.
//
// Ownership: each object owns its socket / files / thread. Thread-safety: one thread per client.
// Failure behaviour: reads return nullopt on timeout, EOF or error, so a misbehaving server fails the
// test instead of hanging it.
#pragma once

#include <openssl/ssl.h>

#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "prod/http/http_server.h"

namespace chatscale::http::testing {

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  std::string body;                                          // de-chunked
  std::optional<std::string> header(std::string_view lower_case_name) const;
};

class TestClient {
 public:
  // Plain TCP to 127.0.0.1:port; nullptr when the connection is refused. rcvbuf > 0 sets SO_RCVBUF
  // before connecting (a small window, for slow-client tests).
  static std::unique_ptr<TestClient> connect(int port, int rcvbuf = 0);
  // TLS to 127.0.0.1:port, verifying the server against ca_file (certificate chain and IP 127.0.0.1).
  // nullptr when the connection or the handshake fails; *error says why.
  static std::unique_ptr<TestClient> connect_tls(int port, const std::string& ca_file, std::string* error);
  ~TestClient();
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  bool send(std::string_view bytes, double timeout_s = 10);
  // One whole response: Content-Length, chunked, or up to EOF. nullopt on timeout, error or an early EOF.
  std::optional<ClientResponse> read_response(double timeout_s = 10);
  // The status line and headers only; then read_chunk() for a chunked body.
  std::optional<ClientResponse> read_head(double timeout_s = 10);
  // The data of the next chunk; "" for the last chunk (its trailer consumed); nullopt on timeout/EOF.
  std::optional<std::string> read_chunk(double timeout_s = 10);
  // True once the server has closed the connection (EOF or reset) within the timeout. Bytes that
  // arrive meanwhile are kept in received_after_close().
  bool wait_closed(double timeout_s = 10);
  const std::string& received_after_close() const { return drained_; }
  // Reads until the unconsumed bytes contain `needle` (not consuming them); false on timeout or EOF.
  bool wait_for_bytes(std::string_view needle, double timeout_s = 10);
  // Everything buffered but not yet consumed.
  const std::string& buffered() const { return buffer_; }

  void shutdown_write();
  // Closes with a reset (SO_LINGER 0), as a client that vanishes.
  void close_abortive();
  void close();

 private:
  enum class Io { kData, kEof, kTimeout, kError };
  TestClient(int fd, SSL_CTX* ctx, SSL* ssl) : fd_(fd), ctx_(ctx), ssl_(ssl) {}
  Io read_more(double deadline);
  std::optional<std::string> read_line(double deadline);
  bool read_exactly(std::size_t n, double deadline);

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string buffer_;
  std::string drained_;
};

// "GET /path HTTP/1.1" with a Host header, extra header lines (each ending in \r\n) and a body.
std::string make_request(std::string_view method, std::string_view target, std::string_view body = {},
                         std::string_view extra_headers = {});

struct SseEvent {
  std::string id;
  std::string event;
  std::string data;  // data lines joined with '\n'
};

// Incremental SSE parser (WHATWG): lines end in LF, CRLF or CR; comments are skipped; a blank line
// dispatches an event that has data.
class SseParser {
 public:
  std::vector<SseEvent> feed(std::string_view bytes);
  int comments() const { return comments_; }

 private:
  void line(std::string_view text, std::vector<SseEvent>& out);
  std::string partial_;
  bool last_was_cr_ = false;
  SseEvent current_;
  bool has_data_ = false;
  int comments_ = 0;
};

// A unique temporary directory, removed with its files on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Writes a self-signed P-256 certificate for 127.0.0.1 and localhost and its key into dir; returns
// false on any OpenSSL failure.
bool write_self_signed_certificate(const std::string& cert_file, const std::string& key_file);

// One to four random edits of a request (byte flips, insertions, deletions, duplicated ranges,
// truncation, stray line breaks, huge or negative numbers, long headers, oversized bodies, NULs).
std::string mutate_request(std::string s, std::mt19937_64& rng);

// Polls `condition` until it holds or timeout_s passes.
bool eventually(const std::function<bool()>& condition, double timeout_s = 10);

// An HttpServer started on 127.0.0.1 port 0 and run on a thread of its own.
class RunningServer {
 public:
  RunningServer(Router& router, HttpServerOptions options);
  ~RunningServer();
  bool ok() const { return start_status_.is_ok(); }
  const Status& start_status() const { return start_status_; }
  HttpServer& server() { return *server_; }
  int port() const { return server_->port(); }
  // stop(drain) and wait for run() to return.
  void stop(bool drain);
  // Waits for run() to return (after a stop() made elsewhere); false on timeout.
  bool join(double timeout_s = 30);

 private:
  std::unique_ptr<HttpServer> server_;
  Status start_status_;
  std::thread thread_;
  std::shared_ptr<std::atomic<bool>> finished_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace chatscale::http::testing
