// What the HTTP server and the binary-protocol server share around their sockets: opening the
// listening acceptor and running the io threads.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "ledger/status.h"

namespace ledger::transport::internal {

// Opens `acceptor` on host:port (an IP address or "localhost"; port 0 picks a free one), with
// SO_REUSEADDR, and listens. Returns the bound port. kInvalidArgument "invalid_argument" for a
// host that is not an address, kUnavailable "listen_failed" when it cannot be bound (the
// acceptor is closed again). `server` names the server in errors ("HTTP", "binary protocol").
[[nodiscard]] Result<std::uint16_t> Listen(boost::asio::ip::tcp::acceptor& acceptor,
                                           const std::string& host, std::uint16_t port,
                                           std::string_view server);

// Runs `io` until it runs out of work. Handlers do not throw by design; if one does, the
// exception is logged and the thread keeps serving.
void RunIo(boost::asio::io_context& io, std::string_view server);

}  // namespace ledger::transport::internal
