// The HTTP/1.1 server (Boost.Beast over Asio): keep-alive connections, N io threads, limits from
// ledger/limits.h, and a graceful stop. Each complete request goes to HttpApi; write requests
// end in commands::Sequencer::Submit and are answered when the sequencer completes them.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "commands/sequencer.h"
#include "ledger/limits.h"
#include "ledger/metrics.h"
#include "ledger/status.h"
#include "ledger/store.h"
#include "projections/read_models.h"
#include "transport/auth.h"
#include "transport/http_api.h"
#include "transport/tls.h"

namespace ledger::transport {

namespace internal {
class ServerCore;
}

struct HttpServerOptions {
  std::string host = "127.0.0.1";  // An IP address or "localhost".
  std::uint16_t port = 8080;       // 0 picks a free port (see HttpServer::port()).
  std::size_t threads = 2;         // io threads, >= 1.
  // Connections beyond it get a 503 too_many_connections (best effort) and are closed at once.
  std::size_t connections_max = kHttpConnectionsMax;
  // From the end of a response (or the connection's start) to a complete request header: an
  // idle keep-alive connection and a client that sends its header slowly are both closed then.
  std::chrono::seconds idle_timeout{kHttpIdleTimeoutSeconds};
  // Reading a body, and writing a response (a client that stops reading is closed then).
  std::chrono::seconds read_timeout{kHttpReadTimeoutSeconds};
  std::chrono::seconds drain_timeout{30};  // Stop() waits this long for requests in flight.
  HttpApiOptions api;                      // Role and feeds.
  // When set, every connection must open with a TLS handshake (HTTPS), finished within
  // handshake_timeout; a connection that fails or stalls it is closed. Null: plain HTTP.
  std::shared_ptr<ServerTls> tls;
  std::chrono::seconds handshake_timeout{kTlsHandshakeTimeoutSeconds};
};

class HttpServer {
 public:
  // Every reference must outlive the server. Nothing listens before Start().
  HttpServer(HttpServerOptions options, Store& store, commands::Sequencer& sequencer,
             projections::ReadModels& read_models, Metrics& metrics, const Authenticator& auth);
  // Calls Stop().
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens, then starts the io threads. kInvalidArgument for a bad host,
  // kUnavailable if the address cannot be bound. Call once.
  [[nodiscard]] Status Start();
  // The bound port (the real one when options.port was 0). Valid after a successful Start().
  [[nodiscard]] std::uint16_t port() const { return port_; }

  // Stops accepting connections and closes connections that have no request in progress; the
  // others close after their response is written. Returns at once. Idempotent, thread-safe.
  void StopAccepting();
  // StopAccepting(), then waits (at most drain_timeout) until every request in flight has been
  // answered and every connection is closed, then stops the io threads. Call it with the
  // sequencer still running, or after Sequencer::Stop() (which completes every submitted
  // command). Idempotent; not from an io thread.
  void Stop();

 private:
  std::shared_ptr<internal::ServerCore> core_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  bool stopped_ = false;
};

}  // namespace ledger::transport
