// A real nats-server (Debian's package) with JetStream, on a free loopback port, storing in a
// temporary directory (transport/local_nats_server.h). Tests kill and restart it to simulate
// outages; the destructor stops it and removes its files.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "tests/support/temp_dir.h"
#include "transport/local_nats_server.h"

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
  [[nodiscard]] std::string url() const { return server_->url(); }
  [[nodiscard]] std::uint16_t port() const { return server_->port(); }
  // SIGKILL, as a crash would. The store directory stays.
  void Kill() { server_->Kill(); }
  // Starts again on the same port and store directory, waiting until it accepts connections.
  void Restart();
  [[nodiscard]] bool running() const { return server_->running(); }

 private:
  TempDir dir_;  // Outlives the server (destroyed after it).
  std::unique_ptr<transport::LocalNatsServer> server_;
};

}  // namespace ledger::testing
