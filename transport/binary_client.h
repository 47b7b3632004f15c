// A client library for the binary command protocol (docs/protocol.md), for applications and
// ledger-bench. One BinaryClient is one TCP connection; it is not thread-safe (use one per
// thread). Blocking I/O with a timeout on every send and receive. With options.tls.enabled the
// connection is TLS (OpenSSL over the socket) and the same frames travel inside it.
//
//   auto client = BinaryClient::Connect({.host = "127.0.0.1", .port = 9090, .token = token});
//   std::vector<commands::Command> batch = ...;  // context.idempotency_key etc. per command
//   auto reply = (*client)->Execute(batch);      // one CommandReply per command, in order
//
// Pipelining: Send() several batches, then Receive() their replies in the order sent (at most
// batches_in_flight_max() unanswered; Send refuses more).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "commands/command.h"
#include "ledger/status.h"
#include "transport/binary_protocol.h"
#include "transport/tls.h"

namespace ledger::transport {

struct BinaryClientOptions {
  std::string host = "127.0.0.1";  // An IPv4 address or "localhost".
  std::uint16_t port = 0;
  std::string token;
  std::chrono::milliseconds timeout{30'000};  // Per connect, TLS handshake, send and receive.
  TlsClientOptions tls;  // Off by default; verifies the server's certificate when on.
};

// The answer to one batch: `replies` (one per command, in order), or `refused` when the server
// refused the whole batch (nothing of it was submitted; retry after refused->retry_after_seconds
// for overloaded and rate_limited).
struct BatchReply {
  std::uint64_t request_id = 0;
  std::vector<CommandReply> replies;
  std::optional<CommandReply> refused;
};

class BinaryClient {
 public:
  // Connects and authenticates (hello/welcome). Errors: kUnavailable "connect_failed" or
  // "connection_closed"/"timeout"; with TLS kUnavailable "tls_verify_failed" (the server's
  // certificate was refused) or "tls_handshake_failed", kInvalidArgument "tls_config" (CA file);
  // the server's ConnectionError code (e.g. "unauthenticated") as kUnauthenticated, or as
  // kUnavailable for other codes.
  [[nodiscard]] static Result<std::unique_ptr<BinaryClient>> Connect(
      const BinaryClientOptions& options);
  // Connects (and completes the TLS handshake, if on) without sending a hello: for protocol tests
  // and tools that speak frames themselves (SendBytes, ReceiveFrame).
  [[nodiscard]] static Result<std::unique_ptr<BinaryClient>> ConnectRaw(
      const BinaryClientOptions& options);
  ~BinaryClient();
  BinaryClient(const BinaryClient&) = delete;
  BinaryClient& operator=(const BinaryClient&) = delete;

  // Sends one batch without waiting for its answer; returns its request id. kInvalidArgument
  // for an empty batch or one above batch_commands_max(), kOverloaded when
  // batches_in_flight_max() batches are unanswered.
  [[nodiscard]] Result<std::uint64_t> Send(std::span<const commands::Command> commands);
  // Waits for the answer to the oldest unanswered batch.
  [[nodiscard]] Result<BatchReply> Receive();
  // Send, then Receive (with nothing else in flight).
  [[nodiscard]] Result<BatchReply> Execute(std::span<const commands::Command> commands);

  // Tells the server nothing more will be sent (TCP half-close; under TLS a close_notify alert);
  // replies to batches already sent still arrive, then the server closes.
  [[nodiscard]] Status FinishSending();
  // Writes `bytes` as they are (a hand-made frame, or garbage).
  [[nodiscard]] Status SendBytes(std::string_view bytes);
  // Reads one whole frame: its prefix-less message words. kUnavailable "connection_closed" at
  // EOF, "timeout" when nothing came in time; kCorruption "malformed_frame" for a bad prefix.
  [[nodiscard]] Result<std::vector<capnp::word>> ReceiveFrame();

  [[nodiscard]] const std::string& client_id() const { return client_id_; }
  [[nodiscard]] std::size_t batch_commands_max() const { return batch_commands_max_; }
  [[nodiscard]] std::size_t batches_in_flight_max() const { return batches_in_flight_max_; }
  [[nodiscard]] std::size_t in_flight() const { return in_flight_; }

 private:
  struct Tls;  // OpenSSL's context and connection, when TLS is on.

  explicit BinaryClient(int fd, std::chrono::milliseconds timeout);
  [[nodiscard]] Status StartTls(const TlsClientOptions& options, const std::string& host);
  [[nodiscard]] Status Hello(const std::string& token);
  [[nodiscard]] Status ReadExactly(void* data, std::size_t size);
  [[nodiscard]] Status SendTls(std::string_view bytes);
  [[nodiscard]] Status ReadExactlyTls(char* out, std::size_t size);
  // Waits (at most the timeout) for the socket to allow what OpenSSL's `ssl_error` asks for.
  [[nodiscard]] Status WaitForTls(int ssl_error);

  int fd_;
  std::unique_ptr<Tls> tls_;
  std::chrono::milliseconds timeout_;
  std::string client_id_;
  std::size_t batch_commands_max_ = 0;
  std::size_t batches_in_flight_max_ = 1;
  std::size_t frame_bytes_max_ = 0;
  std::size_t in_flight_ = 0;
  std::uint64_t next_request_id_ = 1;
};

}  // namespace ledger::transport
