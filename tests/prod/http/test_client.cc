#include "tests/prod/http/test_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

namespace chatscale::http::testing {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int remaining_ms(double deadline) {
  double left = deadline - now_s();
  return left <= 0 ? 0 : static_cast<int>(left * 1000) + 1;
}

bool wait_fd(int fd, short events, double deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, remaining_ms(deadline));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

int connect_fd(int port, int rcvbuf) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

}  // namespace

std::optional<std::string> ClientResponse::header(std::string_view lower_case_name) const {
  for (const auto& [name, value] : headers)
    if (name == lower_case_name) return value;
  return std::nullopt;
}

std::unique_ptr<TestClient> TestClient::connect(int port, int rcvbuf) {
  int fd = connect_fd(port, rcvbuf);
  if (fd < 0) return nullptr;
  return std::unique_ptr<TestClient>(new TestClient(fd, nullptr, nullptr));
}

std::unique_ptr<TestClient> TestClient::connect_tls(int port, const std::string& ca_file, std::string* error) {
  int fd = connect_fd(port, 0);
  if (fd < 0) {
    *error = "connect refused";
    return nullptr;
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    *error = "cannot load CA " + ca_file + ": " + openssl_errors();
    SSL_CTX_free(ctx);
    ::close(fd);
    return nullptr;
  }
  SSL* ssl = SSL_new(ctx);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
  SSL_set_fd(ssl, fd);
  std::unique_ptr<TestClient> client(new TestClient(fd, ctx, ssl));
  double deadline = now_s() + 10;
  while (true) {
    int r = SSL_connect(ssl);
    if (r == 1) return client;
    int err = SSL_get_error(ssl, r);
    bool waited = err == SSL_ERROR_WANT_READ    ? wait_fd(fd, POLLIN, deadline)
                  : err == SSL_ERROR_WANT_WRITE ? wait_fd(fd, POLLOUT, deadline)
                                                : false;
    if (!waited) {
      long verify = SSL_get_verify_result(ssl);
      *error = "handshake failed (verify: " + std::string(X509_verify_cert_error_string(verify)) +
               "): " + openssl_errors();
      return nullptr;
    }
  }
}

TestClient::~TestClient() { close(); }

void TestClient::close() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
  ssl_ = nullptr;
  ctx_ = nullptr;
  fd_ = -1;
}

void TestClient::close_abortive() {
  if (fd_ >= 0) {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  close();
}

void TestClient::shutdown_write() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

bool TestClient::send(std::string_view bytes, double timeout_s) {
  double deadline = now_s() + timeout_s;
  while (!bytes.empty()) {
    long n;
    if (ssl_ != nullptr) {
      int r = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
      if (r <= 0) {
        int err = SSL_get_error(ssl_, r);
        short events = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (events == 0 || !wait_fd(fd_, events, deadline)) return false;
        continue;
      }
      n = r;
    } else {
      n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if ((errno != EAGAIN && errno != EINTR) || !wait_fd(fd_, POLLOUT, deadline)) return false;
        continue;
      }
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

TestClient::Io TestClient::read_more(double deadline) {
  char buf[16384];
  while (true) {
    if (fd_ < 0) return Io::kError;
    if (ssl_ != nullptr) {
      int r = SSL_read(ssl_, buf, sizeof buf);
      if (r > 0) {
        buffer_.append(buf, static_cast<std::size_t>(r));
        return Io::kData;
      }
      int err = SSL_get_error(ssl_, r);
      if (err == SSL_ERROR_ZERO_RETURN) return Io::kEof;
      if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return Io::kEof;
      short events = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
      if (events == 0) {
        ERR_clear_error();
        return Io::kError;
      }
      if (!wait_fd(fd_, events, deadline)) return Io::kTimeout;
      continue;
    }
    long n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      buffer_.append(buf, static_cast<std::size_t>(n));
      return Io::kData;
    }
    if (n == 0) return Io::kEof;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return Io::kError;
    if (!wait_fd(fd_, POLLIN, deadline)) return Io::kTimeout;
  }
}

std::optional<std::string> TestClient::read_line(double deadline) {
  while (true) {
    std::size_t end = buffer_.find("\r\n");
    if (end != std::string::npos) {
      std::string line = buffer_.substr(0, end);
      buffer_.erase(0, end + 2);
      return line;
    }
    if (read_more(deadline) != Io::kData) return std::nullopt;
  }
}

bool TestClient::read_exactly(std::size_t n, double deadline) {
  while (buffer_.size() < n)
    if (read_more(deadline) != Io::kData) return false;
  return true;
}

std::optional<ClientResponse> TestClient::read_head(double timeout_s) {
  double deadline = now_s() + timeout_s;
  ClientResponse response;
  do {  // skip interim 1xx responses (100 Continue)
    response = ClientResponse{};
    auto status_line = read_line(deadline);
    if (!status_line || status_line->rfind("HTTP/1.", 0) != 0 || status_line->size() < 12) return std::nullopt;
    response.status = std::atoi(status_line->c_str() + 9);
    while (true) {
      auto line = read_line(deadline);
      if (!line) return std::nullopt;
      if (line->empty()) break;
      std::size_t colon = line->find(':');
      if (colon == std::string::npos) return std::nullopt;
      response.headers.emplace_back(lower(line->substr(0, colon)), trim(std::string_view(*line).substr(colon + 1)));
    }
  } while (response.status >= 100 && response.status < 200);
  return response;
}

std::optional<std::string> TestClient::read_chunk(double timeout_s) {
  double deadline = now_s() + timeout_s;
  auto size_line = read_line(deadline);
  if (!size_line || size_line->empty()) return std::nullopt;
  char* end = nullptr;
  unsigned long size = std::strtoul(size_line->c_str(), &end, 16);
  if (end == size_line->c_str()) return std::nullopt;
  if (size == 0) {
    while (true) {  // trailer lines up to the blank line
      auto line = read_line(deadline);
      if (!line) return std::nullopt;
      if (line->empty()) return std::string();
    }
  }
  if (!read_exactly(size + 2, deadline) || buffer_.compare(size, 2, "\r\n") != 0) return std::nullopt;
  std::string data = buffer_.substr(0, size);
  buffer_.erase(0, size + 2);
  return data;
}

std::optional<ClientResponse> TestClient::read_response(double timeout_s) {
  double deadline = now_s() + timeout_s;
  auto response = read_head(timeout_s);
  if (!response) return std::nullopt;
  auto te = response->header("transfer-encoding");
  auto cl = response->header("content-length");
  if (te && lower(*te) == "chunked") {
    while (true) {
      auto chunk = read_chunk(deadline - now_s());
      if (!chunk) return std::nullopt;
      if (chunk->empty()) break;
      response->body += *chunk;
    }
  } else if (cl) {
    std::size_t n = std::strtoul(cl->c_str(), nullptr, 10);
    if (!read_exactly(n, deadline)) return std::nullopt;
    response->body = buffer_.substr(0, n);
    buffer_.erase(0, n);
  } else if (response->status != 204 && response->status != 304) {
    while (true) {
      Io io = read_more(deadline);
      if (io == Io::kEof) break;
      if (io != Io::kData) return std::nullopt;
    }
    response->body = std::move(buffer_);
    buffer_.clear();
  }
  return response;
}

bool TestClient::wait_for_bytes(std::string_view needle, double timeout_s) {
  double deadline = now_s() + timeout_s;
  while (buffer_.find(needle) == std::string::npos)
    if (read_more(deadline) != Io::kData) return false;
  return true;
}

bool TestClient::wait_closed(double timeout_s) {
  double deadline = now_s() + timeout_s;
  while (true) {
    Io io = read_more(deadline);
    if (io == Io::kEof || io == Io::kError) return true;
    if (io == Io::kTimeout) return false;
    drained_ += buffer_;
    buffer_.clear();
  }
}

std::string make_request(std::string_view method, std::string_view target, std::string_view body,
                         std::string_view extra_headers) {
  std::string out;
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  out.append(extra_headers);
  if (!body.empty() || method == "POST" || method == "PUT")
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  out.append("\r\n").append(body);
  return out;
}

// --- SSE ---------------------------------------------------------------------------------------------

std::vector<SseEvent> SseParser::feed(std::string_view bytes) {
  std::vector<SseEvent> out;
  for (char c : bytes) {
    if (c == '\n' && last_was_cr_) {  // the LF of a CRLF pair
      last_was_cr_ = false;
      continue;
    }
    last_was_cr_ = c == '\r';
    if (c == '\r' || c == '\n') {
      line(partial_, out);
      partial_.clear();
    } else {
      partial_.push_back(c);
    }
  }
  return out;
}

void SseParser::line(std::string_view text, std::vector<SseEvent>& out) {
  if (text.empty()) {
    if (has_data_) out.push_back(current_);
    current_ = SseEvent{};
    has_data_ = false;
    return;
  }
  if (text.front() == ':') {
    ++comments_;
    return;
  }
  std::size_t colon = text.find(':');
  std::string_view field = text.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "data") {
    if (has_data_) current_.data.push_back('\n');
    current_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    current_.event = std::string(value);
  } else if (field == "id") {
    current_.id = std::string(value);
  }
}

// --- Files, certificates, polling ----------------------------------------------------------------------

TempDir::TempDir() {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = std::filesystem::temp_directory_path() /
                     ("chatscale-http-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::error_code ec;
    if (std::filesystem::create_directory(candidate, ec)) {
      path_ = candidate.string();
      return;
    }
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

bool write_self_signed_certificate(const std::string& cert_file, const std::string& key_file) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  bool ok = key != nullptr && cert != nullptr;
  if (ok) {
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1,
                               -1, 0);
    X509_set_issuer_name(cert, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
    for (auto [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost"},
                              std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                              std::pair{NID_subject_key_identifier, "hash"}}) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
      ok = ok && ext != nullptr && X509_add_ext(cert, ext, -1) == 1;
      X509_EXTENSION_free(ext);
    }
    ok = ok && X509_sign(cert, key, EVP_sha256()) > 0;
  }
  if (ok) {
    FILE* c = std::fopen(cert_file.c_str(), "w");
    FILE* k = std::fopen(key_file.c_str(), "w");
    ok = c != nullptr && k != nullptr && PEM_write_X509(c, cert) == 1 &&
         PEM_write_PrivateKey(k, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    if (c != nullptr) std::fclose(c);
    if (k != nullptr) std::fclose(k);
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  return ok;
}

std::string mutate_request(std::string s, std::mt19937_64& rng) {
  auto pick = [&](std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng() % n); };
  int rounds = 1 + static_cast<int>(rng() % 4);
  for (int r = 0; r < rounds; ++r) {
    switch (rng() % 10) {
      case 0:  // flip a byte
        if (!s.empty()) s[pick(s.size())] = static_cast<char>(rng());
        break;
      case 1:  // insert random bytes
        for (int i = 0, n = 1 + static_cast<int>(rng() % 8); i < n; ++i)
          s.insert(s.begin() + static_cast<long>(pick(s.size() + 1)), static_cast<char>(rng()));
        break;
      case 2:  // delete a range
        if (!s.empty()) {
          std::size_t at = pick(s.size());
          s.erase(at, 1 + pick(16));
        }
        break;
      case 3:  // duplicate a range
        if (!s.empty()) {
          std::size_t at = pick(s.size());
          s.insert(at, s.substr(at, 1 + pick(64)));
        }
        break;
      case 4:  // truncate
        s.resize(pick(s.size() + 1));
        break;
      case 5:  // a line break somewhere
        s.insert(pick(s.size() + 1), rng() % 2 ? "\r\n" : "\n");
        break;
      case 6:  // numbers become huge or negative
        for (char& c : s)
          if (c >= '0' && c <= '9' && rng() % 3 == 0) c = rng() % 2 ? '9' : '-';
        break;
      case 7:  // a header repeated many times
        s.insert(s.find("\r\n") == std::string::npos ? 0 : s.find("\r\n") + 2,
                 std::string(1 + pick(200), 'h') + ": " + std::string(pick(3000), 'v') + "\r\n");
        break;
      case 8:  // a body past the limit, announced or not
        s.insert(s.find("\r\n") == std::string::npos ? 0 : s.find("\r\n") + 2,
                 "Content-Length: " + std::to_string(4000 + pick(2000)) + "\r\n");
        s.append(std::string(pick(6000), 'b'));
        break;
      default:  // NUL bytes
        s.insert(pick(s.size() + 1), 1 + pick(3), '\0');
        break;
    }
  }
  return s;
}

bool eventually(const std::function<bool()>& condition, double timeout_s) {
  double deadline = now_s() + timeout_s;
  while (true) {
    if (condition()) return true;
    if (now_s() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// --- Running a server ----------------------------------------------------------------------------------

RunningServer::RunningServer(Router& router, HttpServerOptions options)
    : server_(std::make_unique<HttpServer>(std::move(options), router)) {
  start_status_ = server_->start();
  if (!start_status_.is_ok()) return;
  thread_ = std::thread([server = server_.get(), finished = finished_] {
    server->run();
    finished->store(true);
  });
}

RunningServer::~RunningServer() {
  if (thread_.joinable()) {
    server_->stop(false);
    thread_.join();
  }
}

void RunningServer::stop(bool drain) {
  server_->stop(drain);
  join();
}

bool RunningServer::join(double timeout_s) {
  if (!thread_.joinable()) return true;
  if (!eventually([&] { return finished_->load(); }, timeout_s)) return false;
  thread_.join();
  return true;
}

}  // namespace chatscale::http::testing
