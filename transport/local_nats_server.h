// A private nats-server (Debian's package) with JetStream, on a free loopback port, storing in a
// directory the caller owns: for the tests and ledger-bench, never for production (run NATS as
// docs/operations.md says). It can be killed and restarted on the same port and store, to
// simulate outages. The destructor stops it (SIGTERM, then waits).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "ledger/status.h"

namespace ledger::transport {

class LocalNatsServer {
 public:
  // Starts nats-server storing under `dir` (created by the caller) and waits (at most 20 s)
  // until it accepts connections. kUnavailable if nats-server is missing or does not start.
  [[nodiscard]] static Result<std::unique_ptr<LocalNatsServer>> Start(std::string dir);
  ~LocalNatsServer();
  LocalNatsServer(const LocalNatsServer&) = delete;
  LocalNatsServer& operator=(const LocalNatsServer&) = delete;

  // nats://127.0.0.1:<port>
  [[nodiscard]] std::string url() const;
  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] bool running() const { return pid_ > 0; }
  // SIGKILL, as a crash would. The store stays.
  void Kill();
  // Starts again on the same port and store.
  [[nodiscard]] Status Restart();

 private:
  LocalNatsServer(std::string dir, std::string binary, std::uint16_t port)
      : dir_(std::move(dir)), binary_(std::move(binary)), port_(port) {}
  [[nodiscard]] Status Launch();

  std::string dir_;
  std::string binary_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace ledger::transport
