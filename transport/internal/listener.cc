#include "transport/internal/listener.h"

#include <boost/asio/ip/address.hpp>
#include <cstdio>
#include <exception>

namespace ledger::transport::internal {

namespace asio = boost::asio;

Result<std::uint16_t> Listen(asio::ip::tcp::acceptor& acceptor, const std::string& host,
                             std::uint16_t port, std::string_view server) {
  boost::system::error_code error;
  const auto address =
      asio::ip::make_address(host == "localhost" ? std::string("127.0.0.1") : host, error);
  if (error) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_argument",
                std::string(server) + " listen host must be an IP address or localhost, got '" +
                    host + "'");
  }
  const asio::ip::tcp::endpoint endpoint(address, port);
  std::uint16_t bound = 0;
  acceptor.open(endpoint.protocol(), error);
  if (!error) acceptor.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (!error) bound = acceptor.local_endpoint(error).port();
  if (error) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    return Fail(ErrorKind::kUnavailable, "listen_failed",
                "cannot listen (" + std::string(server) + ") on " + host + ":" +
                    std::to_string(port) + ": " + error.message());
  }
  return bound;
}

void RunIo(asio::io_context& io, std::string_view server) {
  while (true) {
    try {
      io.run();
      return;
    } catch (const std::exception& exception) {
      std::fprintf(stderr, "ledgerd: %.*s io thread caught: %s\n", static_cast<int>(server.size()),
                   server.data(), exception.what());
    }
  }
}

void JoinIoThreads(asio::io_context& io, IoWorkGuard& work, std::vector<std::thread>& threads,
                   bool drained) {
  if (drained) {
    work.reset();
  } else {
    io.stop();
  }
  for (std::thread& thread : threads) thread.join();
  threads.clear();
}

}  // namespace ledger::transport::internal
