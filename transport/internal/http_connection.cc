#include "transport/internal/http_connection.h"

#include <boost/asio/post.hpp>
#include <algorithm>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdio>
#include <exception>
#include <utility>

namespace ledger::transport::internal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

// Bytes a lingering close reads and discards at most, and for how long.
constexpr std::size_t kDrainBytesMax = 1 << 20;
constexpr std::chrono::seconds kDrainTimeout{2};

bool IsHttpParseError(const beast::error_code& error) {
  return error.category() == http::make_error_code(http::error::bad_target).category() &&
         error != http::error::end_of_stream && error != http::error::partial_message;
}

// Plain TCP, or TLS over it when the server has a certificate.
std::variant<beast::tcp_stream, beast::ssl_stream<beast::tcp_stream>> MakeStream(
    const ServerCore& core, tcp::socket socket) {
  using Stream = std::variant<beast::tcp_stream, beast::ssl_stream<beast::tcp_stream>>;
  if (core.options.tls == nullptr) return Stream(std::in_place_index<0>, std::move(socket));
  return Stream(std::in_place_index<1>, beast::tcp_stream(std::move(socket)),
                core.options.tls->context());
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// The answer to a connection beyond connections_max, as raw bytes: no Connection object is
// made for it.
const std::string& TooManyConnectionsResponse() {
  static const std::string response = [] {
    const std::string body =
        R"({"error":{"code":"too_many_connections","message":"the server has as many open )"
        R"(connections as it takes; retry later"}})";
    return "HTTP/1.1 503 Service Unavailable\r\nServer: ledgerd\r\n"
           "Content-Type: application/json\r\nCache-Control: no-store\r\nRetry-After: " +
           std::to_string(kOverloadRetryAfterSeconds) +
           "\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
  }();
  return response;
}

// Best effort, never blocking: a fresh socket's send buffer is empty, so one non-blocking write
// of the short 503 goes through; then the socket is closed whatever happened. (A peer that
// already sent a request may see a reset instead: its unread bytes make close() send RST.)
void RefuseConnection(tcp::socket& socket) {
  beast::error_code ignored;
  socket.non_blocking(true, ignored);
  const std::string& response = TooManyConnectionsResponse();
  socket.write_some(asio::buffer(response), ignored);
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  socket.close(ignored);
}

}  // namespace

// --- ServerCore ------------------------------------------------------------------------------

ServerCore::ServerCore(HttpServerOptions server_options, Store& store,
                       commands::Sequencer& sequencer, projections::ReadModels& read_models,
                       Metrics& registry, const Authenticator& auth)
    : work(io.get_executor()),
      acceptor(asio::make_strand(io)),
      accept_retry_timer(acceptor.get_executor()),
      options(std::move(server_options)),
      api(store, sequencer, read_models, registry, auth, {}, this->options.api),
      metrics(registry),
      open_connections_gauge(
          registry.GetGauge("ledger_http_connections_open", "Open HTTP connections.")),
      refused_connections(registry.GetCounter(
          "ledger_http_connections_refused_total",
          "HTTP connections closed at once because kHttpConnectionsMax were open.")),
      tls_handshake_failures(registry.GetCounter(
          "ledger_http_tls_handshake_failures_total",
          "HTTPS connections closed because their TLS handshake failed or timed out.")) {}

std::uint64_t ServerCore::Register(const std::shared_ptr<Connection>& connection) {
  std::lock_guard lock(mutex_);
  const std::uint64_t id = next_id_++;
  connections_.emplace(id, connection);
  open_connections_gauge.Set(static_cast<double>(connections_.size()));
  return id;
}

void ServerCore::Unregister(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  connections_.erase(id);
  open_connections_gauge.Set(static_cast<double>(connections_.size()));
  if (connections_.empty()) all_closed_.notify_all();
}

std::size_t ServerCore::OpenConnections() const {
  std::lock_guard lock(mutex_);
  return connections_.size();
}

void ServerCore::ShutdownConnections() {
  std::vector<std::shared_ptr<Connection>> open;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, weak] : connections_) {
      if (auto connection = weak.lock()) open.push_back(std::move(connection));
    }
  }
  for (const auto& connection : open) connection->Shutdown();
}

bool ServerCore::WaitForNoConnections(std::chrono::seconds timeout) {
  std::unique_lock lock(mutex_);
  return all_closed_.wait_for(lock, timeout, [this] { return connections_.empty(); });
}

void ServerCore::CountProtocolResponse(std::string_view target, unsigned status) {
  metrics
      .GetCounter(
          "ledger_http_requests_total", "HTTP requests by route and status.",
          {{"route", std::string(HttpApi::RouteLabel(target))}, {"status", std::to_string(status)}})
      .Add();
}

// --- Connection ------------------------------------------------------------------------------

Connection::Connection(std::shared_ptr<ServerCore> core, tcp::socket socket)
    : core_(std::move(core)), stream_(MakeStream(*core_, std::move(socket))) {}

Connection::~Connection() {
  if (id_ != 0) core_->Unregister(id_);
}

beast::tcp_stream& Connection::Tcp() {
  return std::visit(
      [](auto& stream) -> beast::tcp_stream& { return beast::get_lowest_layer(stream); }, stream_);
}

void Connection::Start() {
  id_ = core_->Register(shared_from_this());
  beast::error_code ignored;
  Tcp().socket().set_option(tcp::no_delay(true), ignored);
  auto* tls = std::get_if<TlsStream>(&stream_);
  if (tls == nullptr) return ReadHeader();
  // The handshake is bounded like a request header: a peer that stalls (or speaks plain HTTP,
  // which OpenSSL refuses at once) loses its connection slot.
  Tcp().expires_after(core_->options.handshake_timeout);
  tls->async_handshake(asio::ssl::stream_base::server,
                       [self = shared_from_this()](beast::error_code error) {
                         self->OnHandshake(error);
                       });
}

void Connection::OnHandshake(beast::error_code error) {
  if (error) {
    // Not the peer's failure when Stop() closed it mid-handshake.
    if (!core_->stopping.load()) core_->tls_handshake_failures.Add();
    return Close();
  }
  ReadHeader();
}

void Connection::Shutdown() {
  asio::post(Tcp().get_executor(), [self = shared_from_this()] {
    if (self->state_ == State::kReading) self->Close();
  });
}

void Connection::ReadHeader() {
  if (core_->stopping.load()) return Close();
  state_ = State::kReading;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(kHttpHeaderBytesMax));
  // The largest limit of any route while the header is parsed (Beast checks Content-Length
  // against it there); OnHeader then applies the route's own limit.
  body_limit_ = std::max(kHttpBodyBytesMax, kHttpHoldersCheckBodyBytesMax);
  parser_->body_limit(std::uint64_t{body_limit_});
  Tcp().expires_after(core_->options.idle_timeout);
  WithStream([this](auto& stream) {
    http::async_read_header(stream, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code error, std::size_t) {
                              self->OnHeader(error);
                            });
  });
}

void Connection::OnHeader(beast::error_code error) {
  if (error) return RespondToReadError(error);
  {
    const auto& header = parser_->get();
    body_limit_ = HttpApi::BodyBytesMax(
        std::string_view(header.target().data(), header.target().size()), header.method());
    const auto length = parser_->content_length();
    if (length && *length > body_limit_) return RespondToReadError(http::error::body_limit);
    parser_->body_limit(std::uint64_t{body_limit_});
  }
  const auto expect = parser_->get().find(http::field::expect);
  if (expect == parser_->get().end() ||
      !EqualsIgnoreCase({expect->value().data(), expect->value().size()}, "100-continue")) {
    return ReadBody();
  }
  continue_ = {http::status::continue_, parser_->get().version()};
  Tcp().expires_after(core_->options.read_timeout);
  WithStream([this](auto& stream) {
    http::async_write(stream, continue_,
                      [self = shared_from_this()](beast::error_code write_error, std::size_t) {
                        if (write_error) return self->Close();
                        self->ReadBody();
                      });
  });
}

void Connection::ReadBody() {
  Tcp().expires_after(core_->options.read_timeout);
  WithStream([this](auto& stream) {
    http::async_read(stream, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code error, std::size_t) {
                       self->OnBody(error);
                     });
  });
}

void Connection::OnBody(beast::error_code error) {
  if (error) return RespondToReadError(error);
  Handle();
}

void Connection::Handle() {
  state_ = State::kHandling;
  const HttpRequest& request = parser_->get();
  version_ = request.version();
  keep_alive_ = request.keep_alive();
  // Waiting for the sequencer is not the peer's fault: no timeout until the response is ready.
  Tcp().expires_never();
  try {
    core_->api.Handle(
        request, Tcp().get_executor(),
        [self = shared_from_this()](HttpResponse response) { self->Write(std::move(response)); });
  } catch (const std::exception& exception) {
    std::fprintf(stderr, "ledgerd: internal error handling a request: %s\n", exception.what());
    if (state_ == State::kHandling) {
      keep_alive_ = false;
      Write(ErrorResponse(MakeError(ErrorKind::kInternal, "internal", "internal error")));
    }
  }
}

void Connection::Write(HttpResponse response) {
  state_ = State::kWriting;
  response.version(version_);
  response.keep_alive(keep_alive_ && !core_->stopping.load());
  response.set(http::field::server, "ledgerd");
  response_.emplace(std::move(response));
  Tcp().expires_after(core_->options.read_timeout);
  WithStream([this](auto& stream) {
    http::async_write(stream, *response_,
                      [self = shared_from_this()](beast::error_code error, std::size_t) {
                        self->OnWrite(error);
                      });
  });
}

void Connection::OnWrite(beast::error_code error) {
  const bool keep_alive = response_->keep_alive();
  response_.reset();
  if (error) return Close();
  if (!keep_alive) return LingeringClose();
  ReadHeader();
}

void Connection::RespondToReadError(beast::error_code error) {
  if (!IsHttpParseError(error)) return Close();  // EOF, timeout, reset, cancelled.
  const auto& header = parser_->get();
  const std::string_view target(header.target().data(), header.target().size());
  HttpResponse response;
  if (error == http::error::body_limit) {
    response = ErrorResponse(
        MakeError(ErrorKind::kTooLarge, "body_too_large",
                  "request body larger than " + std::to_string(body_limit_) + " bytes"));
  } else if (error == http::error::header_limit) {
    response = ProtocolErrorResponse(
        HttpStatus::request_header_fields_too_large, "headers_too_large",
        "request header larger than " + std::to_string(kHttpHeaderBytesMax) + " bytes");
  } else {
    response = ProtocolErrorResponse(HttpStatus::bad_request, "bad_request",
                                     "malformed HTTP request: " + error.message());
  }
  response = HttpApi::ShapeProtocolResponse(target, std::move(response));
  core_->CountProtocolResponse(target, response.result_int());
  version_ = header.version() == 10 ? 10 : 11;
  keep_alive_ = false;
  Write(std::move(response));
}

// Under TLS too this works on the TCP layer: no close_notify is sent (the response carries its
// length, so the client knows it is complete), and what is drained is discarded unread.
void Connection::LingeringClose() {
  state_ = State::kClosing;
  beast::error_code ignored;
  Tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
  Tcp().expires_after(kDrainTimeout);
  Drain();
}

void Connection::Drain() {
  Tcp().async_read_some(asio::buffer(drain_buffer_),
                          [self = shared_from_this()](beast::error_code error, std::size_t n) {
                            self->drained_bytes_ += n;
                            if (error || self->drained_bytes_ > kDrainBytesMax) {
                              return self->Close();
                            }
                            self->Drain();
                          });
}

void Connection::Close() {
  state_ = State::kClosing;
  beast::error_code ignored;
  Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
  Tcp().close();
}

// --- Accepting -------------------------------------------------------------------------------

void Accept(const std::shared_ptr<ServerCore>& server) {
  std::weak_ptr<ServerCore> weak = server;
  server->acceptor.async_accept(asio::make_strand(server->io), [weak](beast::error_code error,
                                                                      tcp::socket socket) {
    const std::shared_ptr<ServerCore> core = weak.lock();
    if (core == nullptr || error == asio::error::operation_aborted || !core->acceptor.is_open()) {
      return;
    }
    if (error) {
      // E.g. out of file descriptors: back off briefly instead of spinning.
      std::fprintf(stderr, "ledgerd: accept failed: %s\n", error.message().c_str());
      core->accept_retry_timer.expires_after(std::chrono::milliseconds(100));
      core->accept_retry_timer.async_wait([weak](beast::error_code wait_error) {
        if (auto retry = weak.lock(); retry && !wait_error) Accept(retry);
      });
      return;
    }
    if (core->stopping.load() || core->OpenConnections() >= core->options.connections_max) {
      beast::error_code ignored;
      if (core->stopping.load()) {
        socket.close(ignored);
      } else {
        core->refused_connections.Add();
        RefuseConnection(socket);
      }
    } else {
      std::make_shared<Connection>(core, std::move(socket))->Start();
    }
    Accept(core);
  });
}

}  // namespace ledger::transport::internal
