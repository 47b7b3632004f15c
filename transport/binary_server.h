// The binary command protocol's server (docs/protocol.md): length-prefixed Cap'n Proto frames
// over TCP (Boost.Asio). A connection authenticates once with a hello, then sends batches of up
// to kBinaryBatchCommandsMax commands; each batch is decoded, handed to the sequencer in one
// SubmitAll, and answered with one result per command, in order, once every accepted command of
// it is durable. A connection may pipeline up to kBinaryBatchesInFlightMax batches; results come
// back in the order the batches were sent.
//
// Same rules as HTTP: the same decoding strictness (types are the schema's; required fields,
// UTF-8, envelope ids checked), the same roles (the token must belong to a writer or admin), the
// same per-client rate limits (a batch takes one token per command) and the same business
// decisions and error codes. A frame that cannot be read (truncated, oversized, not Cap'n Proto,
// an unknown frame type) is answered with a ConnectionError and the connection is closed.
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
#include "transport/auth.h"
#include "transport/tls.h"

namespace ledger::transport {

namespace internal {
class BinaryCore;
}

struct BinaryServerOptions {
  std::string host = "127.0.0.1";  // An IP address or "localhost".
  std::uint16_t port = 0;          // 0 picks a free port (see BinaryServer::port()).
  std::size_t threads = 1;         // io threads, >= 1.
  std::size_t connections_max = kBinaryConnectionsMax;
  std::size_t batch_commands_max = kBinaryBatchCommandsMax;
  std::size_t frame_bytes_max = kBinaryFrameBytesMax;
  std::size_t batches_in_flight_max = kBinaryBatchesInFlightMax;
  std::chrono::seconds hello_timeout{kBinaryHelloTimeoutSeconds};
  // Waiting for the next frame with no batch in flight.
  std::chrono::seconds idle_timeout{kHttpIdleTimeoutSeconds};
  // Reading the rest of a frame once its length arrived; writing a frame.
  std::chrono::seconds io_timeout{kHttpReadTimeoutSeconds};
  std::chrono::seconds drain_timeout{30};  // Stop() waits this long for batches in flight.
  // When set, every connection must open with a TLS handshake, finished within
  // handshake_timeout (then the hello timeout starts); the frames are the same inside TLS. A
  // connection that fails or stalls the handshake is closed without a ConnectionError (nothing
  // can be sent before the handshake). Null: plain TCP.
  std::shared_ptr<ServerTls> tls;
  std::chrono::seconds handshake_timeout{kTlsHandshakeTimeoutSeconds};
};

class BinaryServer {
 public:
  // Every reference must outlive the server. Nothing listens before Start().
  BinaryServer(BinaryServerOptions options, commands::Sequencer& sequencer, Metrics& metrics,
               const Authenticator& auth);
  // Calls Stop().
  ~BinaryServer();
  BinaryServer(const BinaryServer&) = delete;
  BinaryServer& operator=(const BinaryServer&) = delete;

  // Binds, listens and starts the io threads. kInvalidArgument for a bad host, kUnavailable
  // if the address cannot be bound. Call once.
  [[nodiscard]] Status Start();
  // The bound port. Valid after a successful Start().
  [[nodiscard]] std::uint16_t port() const { return port_; }

  // Stops accepting and reading; every batch already read is still answered, then each
  // connection is closed with a ConnectionError "shutting_down". Waits at most drain_timeout.
  // Call it with the sequencer still running or already stopped. Idempotent; not from an io
  // thread.
  void Stop();

 private:
  std::shared_ptr<internal::BinaryCore> core_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  bool stopped_ = false;
};

}  // namespace ledger::transport
