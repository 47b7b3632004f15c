// The server's shared state and one HTTP connection. Internal to transport/ (http_server.cc).
//
// Ownership: connections hold the ServerCore (and so the io_context) alive; the io_context holds
// connections only through their pending handlers, and a command in flight holds its connection
// through the response callback. So a late sequencer completion never touches freed memory.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <variant>

#include "ledger/metrics.h"
#include "transport/http_api.h"
#include "transport/http_server.h"

namespace ledger::transport::internal {

class Connection;

class ServerCore {
 public:
  ServerCore(HttpServerOptions options, Store& store, commands::Sequencer& sequencer,
             projections::ReadModels& read_models, Metrics& metrics, const Authenticator& auth);

  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work;
  boost::asio::ip::tcp::acceptor acceptor;
  boost::asio::steady_timer accept_retry_timer;
  const HttpServerOptions options;
  HttpApi api;
  Metrics& metrics;
  Gauge& open_connections_gauge;
  Counter& refused_connections;
  Counter& tls_handshake_failures;
  std::atomic<bool> stopping{false};

  // Connection registry, for Stop(). Register returns the connection's id.
  std::uint64_t Register(const std::shared_ptr<Connection>& connection);
  void Unregister(std::uint64_t id);
  [[nodiscard]] std::size_t OpenConnections() const;
  // Asks every open connection to close once it is idle.
  void ShutdownConnections();
  // Waits until no connection is open or `timeout` passes; true if none is open.
  bool WaitForNoConnections(std::chrono::seconds timeout);
  // Counts a response the connection produced itself (413, 431, 400 on a parse error).
  void CountProtocolResponse(std::string_view target, unsigned status);

 private:
  mutable std::mutex mutex_;
  std::condition_variable all_closed_;
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> connections_;
  std::uint64_t next_id_ = 1;
};

// One accepted socket: reads requests one at a time, hands each to HttpApi, writes the response,
// and repeats while keep-alive holds. Every member function runs on the socket's strand.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<ServerCore> core, boost::asio::ip::tcp::socket socket);
  ~Connection();

  // Registers the connection and starts reading.
  void Start();
  // Thread-safe: closes the connection now if it is waiting for a request, else after the
  // response in progress.
  void Shutdown();

 private:
  enum class State { kReading, kHandling, kWriting, kClosing };
  using Parser = boost::beast::http::request_parser<boost::beast::http::string_body>;
  using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

  // The TCP layer (timeouts, executor, shutdown), under TLS or not.
  boost::beast::tcp_stream& Tcp();
  // Calls `operation(stream)` with the stream HTTP is read from and written to: one dispatch per
  // operation, nothing per byte on the plain path.
  template <class Operation>
  void WithStream(Operation&& operation) {
    std::visit(std::forward<Operation>(operation), stream_);
  }
  void OnHandshake(boost::beast::error_code error);

  void ReadHeader();
  void OnHeader(boost::beast::error_code error);
  void ReadBody();
  void OnBody(boost::beast::error_code error);
  void Handle();
  void Write(HttpResponse response);
  void OnWrite(boost::beast::error_code error);
  // Answers a request the parser refused, then closes.
  void RespondToReadError(boost::beast::error_code error);
  // Half-closes, drains what the peer still sends (so it can read our last response), closes.
  void LingeringClose();
  void Drain();
  void Close();

  std::shared_ptr<ServerCore> core_;
  // Plain TCP, or TLS over TCP when the server has options.tls.
  std::variant<boost::beast::tcp_stream, TlsStream> stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  std::size_t body_limit_ = 0;  // Of the request being read (HttpApi::BodyBytesMax).
  std::optional<HttpResponse> response_;
  boost::beast::http::response<boost::beast::http::empty_body> continue_;
  std::array<char, 4096> drain_buffer_{};
  std::size_t drained_bytes_ = 0;
  State state_ = State::kReading;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  std::uint64_t id_ = 0;
};

// Accepts connections until the acceptor is closed. Runs on the acceptor's strand.
void Accept(const std::shared_ptr<ServerCore>& core);

}  // namespace ledger::transport::internal
