#include "transport/http_client.h"

#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <optional>

#include "transport/internal/tls.h"

namespace ledger::transport {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

struct HttpClient::Impl {
  asio::io_context io;
  tcp::socket socket{io};
  // With TLS: the context, and the stream that took over `socket`.
  std::optional<asio::ssl::context> context;
  std::optional<asio::ssl::stream<tcp::socket>> tls;
  beast::flat_buffer buffer;

  tcp::socket& Tcp() { return tls ? tls->next_layer() : socket; }
  // Moves `socket` (connected) into a TLS stream and handshakes.
  Status StartTls(const TlsClientOptions& options, const std::string& host) {
    context.emplace(asio::ssl::context::tls_client);
    if (auto configured = internal::ConfigureClientContext(context->native_handle(), options);
        !configured) {
      return configured;
    }
    tls.emplace(std::move(socket), *context);
    if (auto configured = internal::ConfigureClientSsl(tls->native_handle(), options, host);
        !configured) {
      return configured;
    }
    beast::error_code error;
    tls->handshake(asio::ssl::stream_base::client, error);
    if (error) {
      return std::unexpected(internal::ClientHandshakeError(tls->native_handle(), error.message()));
    }
    return Ok();
  }

  // Calls `operation(stream)` with the stream requests go through.
  template <class Operation>
  auto With(Operation&& operation) {
    return tls ? operation(*tls) : operation(socket);
  }
};

namespace {

std::unexpected<Error> NetworkError(std::string_view what, const beast::error_code& error) {
  return Fail(ErrorKind::kUnavailable, "network_error", std::string(what) + ": " + error.message());
}

}  // namespace

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpClient::~HttpClient() {
  beast::error_code ignored;
  impl_->Tcp().shutdown(tcp::socket::shutdown_both, ignored);
  impl_->Tcp().close(ignored);
}

Result<std::unique_ptr<HttpClient>> HttpClient::Connect(const std::string& host,
                                                        std::uint16_t port,
                                                        const TlsClientOptions& tls) {
  auto impl = std::make_unique<Impl>();
  beast::error_code error;
  const auto address = asio::ip::make_address(host, error);
  if (error) return NetworkError("bad address " + host, error);
  impl->socket.connect(tcp::endpoint(address, port), error);
  if (error) return NetworkError("connect", error);
  impl->socket.set_option(tcp::no_delay(true), error);
  if (tls.enabled) {
    if (auto started = impl->StartTls(tls, host); !started) {
      return std::unexpected(std::move(started.error()));
    }
  }
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

Result<HttpResponse> HttpClient::Send(std::string_view method, std::string_view target,
                                      std::string_view body, std::string_view bearer_token,
                                      const Headers& headers) {
  http::request<http::string_body> request;
  request.method_string(beast::string_view(method.data(), method.size()));
  request.target(beast::string_view(target.data(), target.size()));
  request.version(11);
  request.set(http::field::host, "127.0.0.1");
  if (!bearer_token.empty())
    request.set(http::field::authorization, "Bearer " + std::string(bearer_token));
  if (!body.empty()) request.set(http::field::content_type, "application/json");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = std::string(body);
  request.prepare_payload();
  beast::error_code error;
  impl_->With([&](auto& stream) { return http::write(stream, request, error); });
  if (error) return NetworkError("write", error);
  return ReadResponse();
}

Result<HttpResponse> HttpClient::SendRaw(std::string_view bytes) {
  beast::error_code error;
  impl_->With([&](auto& stream) {
    return asio::write(stream, asio::buffer(bytes.data(), bytes.size()), error);
  });
  if (error) return NetworkError("write", error);
  return ReadResponse();
}

Result<HttpResponse> HttpClient::ReadResponse() {
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::uint64_t{64} << 20);
  beast::error_code error;
  impl_->With([&](auto& stream) { return http::read(stream, impl_->buffer, parser, error); });
  if (error) return NetworkError("read", error);
  return parser.release();
}

bool HttpClient::ServerClosed(int timeout_ms) {
  pollfd poll_fd{impl_->Tcp().native_handle(), POLLIN, 0};
  if (::poll(&poll_fd, 1, timeout_ms) <= 0) return false;
  char byte = 0;
  beast::error_code error;
  impl_->With([&](auto& stream) { return stream.read_some(asio::buffer(&byte, 1), error); });
  // Under TLS the server closes without close_notify, which Asio reports as a truncated stream.
  return error == asio::error::eof || error == asio::error::connection_reset ||
         error == asio::ssl::error::stream_truncated;
}

}  // namespace ledger::transport
