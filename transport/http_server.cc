#include "transport/http_server.h"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <cstdio>
#include <exception>

#include "transport/internal/http_connection.h"

namespace ledger::transport {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

void RunIo(asio::io_context& io) {
  while (true) {
    try {
      io.run();
      return;
    } catch (const std::exception& exception) {
      // Handlers do not throw by design; log and keep the thread serving if one does.
      std::fprintf(stderr, "ledgerd: io thread caught: %s\n", exception.what());
    }
  }
}

Result<tcp::endpoint> ResolveListenAddress(const std::string& host, std::uint16_t port) {
  boost::system::error_code error;
  const auto address =
      asio::ip::make_address(host == "localhost" ? std::string("127.0.0.1") : host, error);
  if (error) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_argument",
                "listen host must be an IP address or localhost, got '" + host + "'");
  }
  return tcp::endpoint(address, port);
}

}  // namespace

HttpServer::HttpServer(HttpServerOptions options, Store& store, commands::Sequencer& sequencer,
                       projections::ReadModels& read_models, Metrics& metrics,
                       const Authenticator& auth)
    : core_(std::make_shared<internal::ServerCore>(std::move(options), store, sequencer,
                                                   read_models, metrics, auth)) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  LEDGER_ASSERT(threads_.empty() && !stopped_);
  auto endpoint = ResolveListenAddress(core_->options.host, core_->options.port);
  if (!endpoint) return std::unexpected(endpoint.error());
  boost::system::error_code error;
  auto& acceptor = core_->acceptor;
  acceptor.open(endpoint->protocol(), error);
  if (!error) acceptor.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) acceptor.bind(*endpoint, error);
  if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (!error) port_ = acceptor.local_endpoint(error).port();
  if (error) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    return Fail(ErrorKind::kUnavailable, "listen_failed",
                "cannot listen on " + core_->options.host + ":" +
                    std::to_string(core_->options.port) + ": " + error.message());
  }
  internal::Accept(core_);
  const std::size_t thread_count = std::max<std::size_t>(1, core_->options.threads);
  for (std::size_t i = 0; i < thread_count; ++i) {
    threads_.emplace_back([core = core_] { RunIo(core->io); });
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
  if (core_->WaitForNoConnections(core_->options.drain_timeout)) {
    // Let the io threads finish what is queued (the acceptor's close) and run out of work.
    core_->work.reset();
  } else {
    std::fprintf(stderr, "ledgerd: %zu HTTP connections still open after %lld s; closing\n",
                 core_->OpenConnections(),
                 static_cast<long long>(core_->options.drain_timeout.count()));
    core_->io.stop();
  }
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace ledger::transport
