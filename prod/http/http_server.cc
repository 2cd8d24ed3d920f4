#include "prod/http/http_server.h"

#include <openssl/ssl.h>

#include <cerrno>
#include <chrono>
#include <exception>
#include <fstream>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "prod/http/http_session.h"
#include "prod/http/http_wire.h"

namespace chatscale::http {
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);
constexpr auto kDrainPoll = std::chrono::milliseconds(20);

// Accept errors that come from exhausted resources: retrying at once would spin.
bool resource_exhausted(const boost::system::error_code& ec) {
  int v = ec.value();
  return ec.category() == boost::system::system_category() &&
         (v == EMFILE || v == ENFILE || v == ENOBUFS || v == ENOMEM);
}

bool readable(const std::string& path) { return std::ifstream(path).good(); }

// Keeps connections() right however the task ends (including a forced unwind).
struct ConnectionCount {
  std::atomic<int>& count;
  ~ConnectionCount() { count.fetch_sub(1, std::memory_order_relaxed); }
};

}  // namespace

HttpServer::HttpServer(HttpServerOptions options, Router& router)
    : options_(std::move(options)),
      router_(router),
      ioc_(options_.io_threads < 1 ? 1 : options_.io_threads),
      accept_strand_(net::make_strand(ioc_)),
      accept_retry_(accept_strand_) {
  if (options_.io_threads < 1) options_.io_threads = 1;
  env_.options = &options_;
  env_.router = &router_;
  env_.stopping = &stopping_;
  env_.streams = &streams_;
}

HttpServer::~HttpServer() {
  stop(false);
  // ioc_ is destroyed first (declared last): tasks still suspended are unwound then.
}

Status HttpServer::start() {
  {
    std::lock_guard lock(mu_);
    if (started_) return failed_precondition("the HTTP server was already started");
    started_ = true;
  }
  CS_RETURN_IF_ERROR(router_.status());
  if (options_.tls_cert_file.empty() != options_.tls_key_file.empty())
    return invalid_argument("tls: both a certificate and a key are needed");
  if (!options_.tls_cert_file.empty()) CS_RETURN_IF_ERROR(load_tls());
  CS_RETURN_IF_ERROR(bind());
  wire::log_line("listening on " + options_.host + ":" + std::to_string(port()) + (ssl_ ? " (TLS)" : "") + ", " +
                 std::to_string(options_.io_threads) + " I/O threads");
  net::post(accept_strand_, [this] { accept_next(); });
  return Status::ok();
}

Status HttpServer::load_tls() {
  for (const std::string& file : {options_.tls_cert_file, options_.tls_key_file})
    if (!readable(file)) return invalid_argument("tls: cannot read " + file);
  auto context = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
  boost::system::error_code ec;
  context->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                           net::ssl::context::no_sslv3 | net::ssl::context::single_dh_use,
                       ec);
  SSL_CTX* native = context->native_handle();
  if (ec || SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1)
    return internal_error("tls: cannot require TLS 1.2 or later");
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  context->use_certificate_chain_file(options_.tls_cert_file, ec);
  if (ec) return invalid_argument("tls: certificate " + options_.tls_cert_file + ": " + ec.message());
  context->use_private_key_file(options_.tls_key_file, net::ssl::context::pem, ec);
  if (ec) return invalid_argument("tls: key " + options_.tls_key_file + ": " + ec.message());
  if (SSL_CTX_check_private_key(native) != 1)
    return invalid_argument("tls: the key does not match the certificate");
  ssl_ = std::move(context);
  return Status::ok();
}

Status HttpServer::bind() {
  boost::system::error_code ec;
  net::ip::address address = net::ip::make_address(options_.host, ec);
  if (ec) {
    tcp::resolver resolver(ioc_);
    auto results = resolver.resolve(options_.host, "", ec);
    if (ec || results.empty()) return invalid_argument("listen: cannot resolve host " + options_.host);
    address = results.begin()->endpoint().address();
  }
  if (options_.port < 0 || options_.port > 65535)
    return invalid_argument("listen: port " + std::to_string(options_.port) + " is out of range");
  tcp::endpoint endpoint(address, static_cast<unsigned short>(options_.port));
  acceptor_.emplace(ioc_);
  std::string where = options_.host + ":" + std::to_string(options_.port);
  if (acceptor_->open(endpoint.protocol(), ec)) return unavailable("listen: " + where + ": " + ec.message());
  if (acceptor_->set_option(net::socket_base::reuse_address(true), ec))
    return unavailable("listen: " + where + ": " + ec.message());
  if (acceptor_->bind(endpoint, ec)) return unavailable("listen: cannot bind " + where + ": " + ec.message());
  if (acceptor_->listen(net::socket_base::max_listen_connections, ec))
    return unavailable("listen: " + where + ": " + ec.message());
  port_.store(acceptor_->local_endpoint().port());
  return Status::ok();
}

void HttpServer::run() {
  if (!acceptor_) return;
  auto loop = [this] {
    while (true) {
      try {
        ioc_.run();
        return;
      } catch (const std::exception& e) {
        wire::log_line(std::string("I/O loop error: ") + typeid(e).name());
      } catch (...) {
        wire::log_line("I/O loop error");
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 1; i < options_.io_threads; ++i) threads.emplace_back(loop);
  loop();
  for (auto& thread : threads) thread.join();
  wire::log_line("stopped");
}

// --- Accepting -------------------------------------------------------------------------------------

void HttpServer::accept_next() {
  if (!acceptor_ || !acceptor_->is_open()) return;
  acceptor_->async_accept(net::bind_executor(
      accept_strand_, [this](const boost::system::error_code& ec, tcp::socket socket) {
        on_accept(ec, std::move(socket));
      }));
}

void HttpServer::on_accept(const boost::system::error_code& ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_->is_open()) return;
  if (resource_exhausted(ec)) {
    wire::log_line("accept failed: " + ec.message() + "; retrying shortly");
    accept_retry_.expires_after(kAcceptRetryDelay);
    accept_retry_.async_wait(net::bind_executor(accept_strand_, [this](const boost::system::error_code& wait_ec) {
      if (!wait_ec) accept_next();
    }));
    return;
  }
  if (!ec) start_connection(std::move(socket));  // other errors (a peer that reset early) are the peer's
  accept_next();
}

void HttpServer::start_connection(tcp::socket socket) {
  if (stopping_.load()) return;
  boost::system::error_code ec;
  if (connections_.load(std::memory_order_relaxed) >= options_.max_connections) {
    // Over the bound: a short answer and close, without spending a task (or, for TLS, a handshake).
    if (!ssl_) {
      static const std::string busy = wire::busy_response_bytes();
      socket.non_blocking(true, ec);
      if (!ec) socket.write_some(net::buffer(busy), ec);
      socket.shutdown(net::socket_base::shutdown_send, ec);
    }
    socket.close(ec);
    return;
  }
  tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) return;  // already gone
  socket.set_option(tcp::no_delay(true), ec);
  std::string remote = wire::format_endpoint(peer.address().to_string(), peer.port(), peer.address().is_v6());
  connections_.fetch_add(1, std::memory_order_relaxed);
  spawn_task(
      ioc_,
      [this, socket = std::move(socket), remote = std::move(remote)](TaskYield yield) mutable {
        ConnectionCount count{connections_};
        serve_connection(std::move(socket), std::move(remote), yield);
      },
      options_.task_stack_bytes);
}

template <typename Stream>
static std::shared_ptr<detail::HttpSession<Stream>> make_session(const detail::SessionEnv& env, tcp::socket socket,
                                                                 net::ssl::context* ssl, std::string remote) {
  TaskStrand strand = *current_task()->executor;
  if constexpr (std::is_same_v<Stream, detail::TlsStream>) {
    return std::make_shared<detail::HttpSession<Stream>>(env, Stream(std::move(socket), *ssl), strand,
                                                         std::move(remote));
  } else {
    return std::make_shared<detail::HttpSession<Stream>>(env, Stream(std::move(socket)), strand, std::move(remote));
  }
}

void HttpServer::serve_connection(tcp::socket socket, std::string remote, TaskYield& yield) {
  std::uint64_t id = 0;
  struct Unregister {
    HttpServer* server;
    std::uint64_t& id;
    ~Unregister() {
      if (id != 0) server->unregister_connection(id);
    }
  } unregister{this, id};
  try {
    if (ssl_) {
      auto session = make_session<detail::TlsStream>(env_, std::move(socket), ssl_.get(), remote);
      id = register_connection(session);
      if (id != 0) session->run(yield);
    } else {
      auto session = make_session<detail::PlainStream>(env_, std::move(socket), nullptr, remote);
      id = register_connection(session);
      if (id != 0) session->run(yield);
    }
  } catch (const boost::coroutines::detail::forced_unwind&) {
    throw;
  } catch (const std::exception& e) {
    wire::log_line("connection from " + remote + " failed: " + typeid(e).name());
  } catch (...) {
    wire::log_line("connection from " + remote + " failed");
  }
}

std::uint64_t HttpServer::register_connection(std::shared_ptr<detail::Connection> connection) {
  std::lock_guard lock(mu_);
  if (stopping_.load()) return 0;
  std::uint64_t id = next_id_++;
  live_.emplace(id, std::move(connection));
  return id;
}

void HttpServer::unregister_connection(std::uint64_t id) {
  std::lock_guard lock(mu_);
  live_.erase(id);
}

// --- Stopping --------------------------------------------------------------------------------------

void HttpServer::stop(bool drain) {
  std::vector<std::shared_ptr<detail::Connection>> live;
  bool first = false;
  {
    std::lock_guard lock(mu_);
    first = !stopping_.exchange(true);
    if (!first && drain) return;
    for (auto& [id, weak] : live_)
      if (auto connection = weak.lock()) live.push_back(std::move(connection));
  }
  if (first && acceptor_) {
    wire::log_line("stopping: " + std::to_string(live.size()) + " connections open" +
                   (drain ? ", draining for up to " + std::to_string(options_.drain_timeout_s) + " s" : ""));
    net::post(accept_strand_, [this] {
      boost::system::error_code ignored;
      acceptor_->close(ignored);
      accept_retry_.cancel(ignored);
    });
  }
  for (auto& connection : live) connection->post_stop(!drain);
  if (first && drain && acceptor_) drain_then_close();
}

void HttpServer::drain_then_close() {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                      std::chrono::duration<double>(options_.drain_timeout_s > 0 ? options_.drain_timeout_s : 0));
  spawn_task(ioc_, [this, deadline](TaskYield yield) {
    net::steady_timer timer(*current_task()->executor);
    while (connections_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      boost::system::error_code ec;
      timer.expires_after(kDrainPoll);
      timer.async_wait(yield[ec]);
    }
    if (connections_.load() == 0) return;
    wire::log_line("drain time is up: closing " + std::to_string(connections_.load()) + " connections");
    stop(false);
  });
}

}  // namespace chatscale::http
