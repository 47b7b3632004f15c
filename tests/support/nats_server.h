// A real nats-server (Debian's package) with JetStream, on a free loopback port, storing in a
// temporary directory. Tests kill and restart it to simulate outages; the destructor stops it
// and removes its files.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "tests/support/temp_dir.h"

namespace ledger::testing {

class NatsServer {
 public:
  // Starts nats-server and waits until it accepts connections (aborts the test run if it
  // cannot: a missing nats-server is an installation error, never a skipped test).
  NatsServer();
  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  // nats://127.0.0.1:<port>
  [[nodiscard]] std::string url() const;
  [[nodiscard]] std::uint16_t port() const { return port_; }
  // SIGKILL, as a crash would. The store directory stays.
  void Kill();
  // Starts again on the same port and store directory, waiting until it accepts connections.
  void Restart();
  [[nodiscard]] bool running() const { return pid_ > 0; }

 private:
  void Launch();

  TempDir dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace ledger::testing
