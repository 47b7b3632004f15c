#include "transport/http_server.h"

#include <boost/asio/post.hpp>
#include <cstdio>

#include "transport/internal/http_connection.h"
#include "transport/internal/listener.h"

namespace ledger::transport {
namespace asio = boost::asio;

HttpServer::HttpServer(HttpServerOptions options, Store& store, commands::Sequencer& sequencer,
                       projections::ReadModels& read_models, Metrics& metrics,
                       const Authenticator& auth)
    : core_(std::make_shared<internal::ServerCore>(std::move(options), store, sequencer,
                                                   read_models, metrics, auth)) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  LEDGER_ASSERT(threads_.empty() && !stopped_);
  auto port = internal::Listen(core_->acceptor, core_->options.host, core_->options.port, "HTTP");
  if (!port) return std::unexpected(port.error());
  port_ = *port;
  internal::Accept(core_);
  const std::size_t thread_count = std::max<std::size_t>(1, core_->options.threads);
  for (std::size_t i = 0; i < thread_count; ++i) {
    threads_.emplace_back([core = core_] { internal::RunIo(core->io, "HTTP"); });
  }
  return Ok();
}

void HttpServer::StopAccepting() {
  if (core_->stopping.exchange(true)) return;
  asio::post(core_->acceptor.get_executor(), [core = core_] {
    boost::system::error_code ignored;
    core->acceptor.close(ignored);
    core->accept_retry_timer.cancel();
  });
  core_->ShutdownConnections();
}

void HttpServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  StopAccepting();
  if (threads_.empty()) return;
  const bool drained = core_->WaitForNoConnections(core_->options.drain_timeout);
  if (!drained) {
    std::fprintf(stderr, "ledgerd: %zu HTTP connections still open after %lld s; closing\n",
                 core_->OpenConnections(),
                 static_cast<long long>(core_->options.drain_timeout.count()));
  }
  internal::JoinIoThreads(core_->io, core_->work, threads_, drained);
}

}  // namespace ledger::transport
