// What the HTTP server and the binary-protocol server share around their sockets: opening the
// listening acceptor and running the io threads.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

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

using IoWorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

// Ends a server's io threads: when `drained` (every connection closed), drops `work` so the
// threads finish what is queued (the acceptor's close) and return; otherwise stops `io` at once.
// Then joins and clears `threads`.
void JoinIoThreads(boost::asio::io_context& io, IoWorkGuard& work,
                   std::vector<std::thread>& threads, bool drained);

}  // namespace ledger::transport::internal
