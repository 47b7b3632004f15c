#include "tests/support/nats_server.h"

#include <cstdio>
#include <cstdlib>

namespace ledger::testing {
namespace {

[[noreturn]] void Abort(const Error& error) {
  std::fprintf(stderr, "NatsServer: %s\n", error.message.c_str());
  std::abort();
}

}  // namespace

NatsServer::NatsServer() {
  auto server = transport::LocalNatsServer::Start(dir_.path());
  if (!server) Abort(server.error());
  server_ = std::move(*server);
}

NatsServer::~NatsServer() { server_.reset(); }

void NatsServer::Restart() {
  if (auto restarted = server_->Restart(); !restarted) Abort(restarted.error());
}

}  // namespace ledger::testing
