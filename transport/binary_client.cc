#include "transport/binary_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <kj/exception.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ledger/limits.h"
#include "transport/internal/tls.h"

namespace ledger::transport {
namespace {

Error Closed() {
  return MakeError(ErrorKind::kUnavailable, "connection_closed", "the server closed the connection");
}

Error Timeout() {
  return MakeError(ErrorKind::kUnavailable, "timeout", "no answer from the server in time");
}

Error SocketError(std::string_view what) {
  return MakeError(ErrorKind::kUnavailable, "connection_failed",
                   std::string(what) + ": " + std::strerror(errno));
}

// The server's ConnectionError as an error of this client.
Error FromConnectionError(wire::ConnectionError::Reader error) {
  const std::string code(error.getCode().cStr(), error.getCode().size());
  const std::string message(error.getMessage().cStr(), error.getMessage().size());
  const ErrorKind kind = code == "unauthenticated" ? ErrorKind::kUnauthenticated
                         : code == "forbidden"     ? ErrorKind::kPermissionDenied
                                                   : ErrorKind::kUnavailable;
  return MakeError(kind, code, "server closed the connection: " + message);
}

// OpenSSL's answer to a failed SSL_read/SSL_write/SSL_shutdown that is not "try again".
Error TlsIoError(int ssl_error, std::string_view what) {
  if (ssl_error == SSL_ERROR_ZERO_RETURN) return Closed();
  if (ssl_error == SSL_ERROR_SYSCALL && (errno == 0 || errno == EPIPE || errno == ECONNRESET)) {
    ERR_clear_error();
    return Closed();
  }
  if (ssl_error == SSL_ERROR_SYSCALL) return SocketError(what);
  return MakeError(ErrorKind::kUnavailable, "tls_error",
                   std::string(what) + ": " + internal::TakeOpenSslErrors("TLS error"));
}

Error Unexpected(std::string_view what) {
  return MakeError(ErrorKind::kCorruption, "unexpected_frame",
                   "the server sent " + std::string(what));
}

}  // namespace

struct BinaryClient::Tls {
  ~Tls() {
    SSL_free(ssl);  // Both accept null.
    SSL_CTX_free(context);
  }
  SSL_CTX* context = nullptr;
  SSL* ssl = nullptr;
};

BinaryClient::BinaryClient(int fd, std::chrono::milliseconds timeout)
    : fd_(fd), timeout_(timeout) {}

BinaryClient::~BinaryClient() {
  tls_.reset();  // Before the descriptor it uses is closed.
  ::close(fd_);
}

Status BinaryClient::StartTls(const TlsClientOptions& options, const std::string& host) {
  tls_ = std::make_unique<Tls>();
  ERR_clear_error();
  tls_->context = SSL_CTX_new(TLS_client_method());
  if (tls_->context == nullptr) {
    return Fail(ErrorKind::kInternal, "tls_error",
                "SSL_CTX_new: " + internal::TakeOpenSslErrors("failed"));
  }
  if (auto configured = internal::ConfigureClientContext(tls_->context, options); !configured) {
    return configured;
  }
  tls_->ssl = SSL_new(tls_->context);
  if (tls_->ssl == nullptr || SSL_set_fd(tls_->ssl, fd_) != 1) {
    return Fail(ErrorKind::kInternal, "tls_error",
                "SSL_new: " + internal::TakeOpenSslErrors("failed"));
  }
  if (auto configured = internal::ConfigureClientSsl(tls_->ssl, options, host); !configured) {
    return configured;
  }
  while (true) {
    const int done = SSL_connect(tls_->ssl);
    if (done == 1) return Ok();
    const int ssl_error = SSL_get_error(tls_->ssl, done);
    if (ssl_error != SSL_ERROR_WANT_READ && ssl_error != SSL_ERROR_WANT_WRITE) {
      return std::unexpected(internal::ClientHandshakeError(
          tls_->ssl, ssl_error == SSL_ERROR_SYSCALL ? "the server closed the connection"
                                                    : "refused"));
    }
    if (auto ready = WaitForTls(ssl_error); !ready) return ready;
  }
}

Status BinaryClient::WaitForTls(int ssl_error) {
  const short events = ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
  while (true) {
    pollfd waiting{.fd = fd_, .events = events, .revents = 0};
    const int ready = ::poll(&waiting, 1, static_cast<int>(timeout_.count()));
    if (ready > 0) return Ok();
    if (ready == 0) return std::unexpected(Timeout());
    if (errno != EINTR) return std::unexpected(SocketError("poll"));
  }
}

Status BinaryClient::SendTls(std::string_view bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const std::size_t chunk = std::min<std::size_t>(bytes.size() - sent, 1 << 30);
    errno = 0;
    const int n = SSL_write(tls_->ssl, bytes.data() + sent, static_cast<int>(chunk));
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    const int ssl_error = SSL_get_error(tls_->ssl, n);
    if (ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE) {
      if (auto ready = WaitForTls(ssl_error); !ready) return ready;
      continue;
    }
    return std::unexpected(TlsIoError(ssl_error, "send"));
  }
  return Ok();
}

Status BinaryClient::ReadExactlyTls(char* out, std::size_t size) {
  std::size_t received = 0;
  while (received < size) {
    const std::size_t chunk = std::min<std::size_t>(size - received, 1 << 30);
    errno = 0;
    const int n = SSL_read(tls_->ssl, out + received, static_cast<int>(chunk));
    if (n > 0) {
      received += static_cast<std::size_t>(n);
      continue;
    }
    const int ssl_error = SSL_get_error(tls_->ssl, n);
    if (ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE) {
      if (auto ready = WaitForTls(ssl_error); !ready) return ready;
      continue;
    }
    return std::unexpected(TlsIoError(ssl_error, "recv"));
  }
  return Ok();
}

Result<std::unique_ptr<BinaryClient>> BinaryClient::ConnectRaw(const BinaryClientOptions& options) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(options.port);
  const std::string host = options.host == "localhost" ? "127.0.0.1" : options.host;
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_argument",
                "host must be an IPv4 address or localhost, got '" + options.host + "'");
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return std::unexpected(SocketError("socket"));
  auto client = std::unique_ptr<BinaryClient>(new BinaryClient(fd, options.timeout));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    if (errno != EINPROGRESS) return std::unexpected(SocketError("connect"));
    pollfd waiting{.fd = fd, .events = POLLOUT, .revents = 0};
    const int ready = ::poll(&waiting, 1, static_cast<int>(options.timeout.count()));
    if (ready == 0) return std::unexpected(Timeout());
    int socket_error = 0;
    socklen_t length = sizeof(socket_error);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &socket_error, &length);
    if (ready < 0 || socket_error != 0) {
      errno = ready < 0 ? errno : socket_error;
      return std::unexpected(SocketError("connect to " + host + ":" + std::to_string(options.port)));
    }
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  client->frame_bytes_max_ = kBinaryFrameBytesMax;
  client->batch_commands_max_ = kBinaryBatchCommandsMax;
  if (options.tls.enabled) {
    if (auto started = client->StartTls(options.tls, host); !started) {
      return std::unexpected(std::move(started.error()));
    }
  }
  return client;
}

Result<std::unique_ptr<BinaryClient>> BinaryClient::Connect(const BinaryClientOptions& options) {
  auto client = ConnectRaw(options);
  if (!client) return client;
  if (auto hello = (*client)->Hello(options.token); !hello) {
    return std::unexpected(std::move(hello.error()));
  }
  return client;
}

Status BinaryClient::Hello(const std::string& token) {
  capnp::MallocMessageBuilder message;
  auto hello = message.initRoot<wire::Frame>().initHello();
  hello.setVersion(wire::PROTOCOL_VERSION);
  hello.setToken(capnp::Text::Reader(token.data(), token.size()));
  if (auto sent = SendBytes(EncodeFrame(message)); !sent) return sent;
  auto words = ReceiveFrame();
  if (!words) return std::unexpected(std::move(words.error()));
  try {
    FrameReader reader(*words);
    if (auto checked = reader.Check(); !checked) return checked;
    const auto frame = reader.Root();
    if (frame.isError()) return std::unexpected(FromConnectionError(frame.getError()));
    if (!frame.isWelcome()) return std::unexpected(Unexpected("a frame other than welcome"));
    const auto welcome = frame.getWelcome();
    client_id_ = std::string(welcome.getClientId().cStr(), welcome.getClientId().size());
    batch_commands_max_ = welcome.getBatchCommandsMax();
    frame_bytes_max_ = welcome.getFrameBytesMax();
    batches_in_flight_max_ = std::max<std::uint32_t>(1, welcome.getBatchesInFlightMax());
  } catch (const kj::Exception& exception) {
    return Fail(ErrorKind::kCorruption, "malformed_frame",
                std::string("the server's welcome does not decode: ") +
                    exception.getDescription().cStr());
  }
  return Ok();
}

Status BinaryClient::SendBytes(std::string_view bytes) {
  if (tls_ != nullptr) return SendTls(bytes);
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd waiting{.fd = fd_, .events = POLLOUT, .revents = 0};
      const int ready = ::poll(&waiting, 1, static_cast<int>(timeout_.count()));
      if (ready == 0) return std::unexpected(Timeout());
      if (ready < 0 && errno != EINTR) return std::unexpected(SocketError("poll"));
      continue;
    }
    return std::unexpected(errno == EPIPE || errno == ECONNRESET ? Closed()
                                                                 : SocketError("send"));
  }
  return Ok();
}

Status BinaryClient::FinishSending() {
  if (tls_ != nullptr) {
    // close_notify ends the server's reading like a TCP half-close; replies still arrive.
    while (true) {
      errno = 0;
      const int done = SSL_shutdown(tls_->ssl);
      if (done >= 0) return Ok();  // 0: sent, the peer's close_notify not seen (not needed).
      const int ssl_error = SSL_get_error(tls_->ssl, done);
      if (ssl_error != SSL_ERROR_WANT_READ && ssl_error != SSL_ERROR_WANT_WRITE) {
        return std::unexpected(TlsIoError(ssl_error, "shutdown"));
      }
      if (auto ready = WaitForTls(ssl_error); !ready) return ready;
    }
  }
  if (::shutdown(fd_, SHUT_WR) != 0) return std::unexpected(SocketError("shutdown"));
  return Ok();
}

Status BinaryClient::ReadExactly(void* data, std::size_t size) {
  auto* out = static_cast<char*>(data);
  if (tls_ != nullptr) return ReadExactlyTls(out, size);
  std::size_t received = 0;
  while (received < size) {
    const ssize_t n = ::recv(fd_, out + received, size - received, 0);
    if (n > 0) {
      received += static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0) return std::unexpected(Closed());
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      pollfd waiting{.fd = fd_, .events = POLLIN, .revents = 0};
      const int ready = ::poll(&waiting, 1, static_cast<int>(timeout_.count()));
      if (ready == 0) return std::unexpected(Timeout());
      if (ready < 0 && errno != EINTR) return std::unexpected(SocketError("poll"));
      continue;
    }
    return std::unexpected(errno == ECONNRESET ? Closed() : SocketError("recv"));
  }
  return Ok();
}

Result<std::vector<capnp::word>> BinaryClient::ReceiveFrame() {
  unsigned char prefix[kFramePrefixBytes];
  if (auto read = ReadExactly(prefix, sizeof(prefix)); !read) {
    return std::unexpected(std::move(read.error()));
  }
  // The server's frames (results of a full batch) may exceed what it accepts from clients.
  auto length = FrameLength(prefix, 4 * kBinaryFrameBytesMax);
  if (!length) {
    return Fail(ErrorKind::kCorruption, "malformed_frame",
                "the server sent a bad frame prefix: " + length.error().message);
  }
  std::vector<capnp::word> words(*length / sizeof(capnp::word));
  if (auto read = ReadExactly(words.data(), *length); !read) {
    return std::unexpected(std::move(read.error()));
  }
  return words;
}

Result<std::uint64_t> BinaryClient::Send(std::span<const commands::Command> commands) {
  if (commands.empty() || commands.size() > batch_commands_max_) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_argument",
                "a batch carries 1.." + std::to_string(batch_commands_max_) + " commands, not " +
                    std::to_string(commands.size()));
  }
  if (in_flight_ >= batches_in_flight_max_) {
    return Fail(ErrorKind::kOverloaded, "too_many_in_flight",
                std::to_string(in_flight_) + " batches are unanswered; Receive() first");
  }
  // About 300 bytes per command in the first segment: one allocation for most batches.
  capnp::MallocMessageBuilder message(static_cast<unsigned>(64 + commands.size() * 40));
  auto batch = message.initRoot<wire::Frame>().initBatch();
  const std::uint64_t request_id = next_request_id_++;
  batch.setRequestId(request_id);
  auto list = batch.initCommands(static_cast<unsigned>(commands.size()));
  for (std::size_t i = 0; i < commands.size(); ++i) EncodeWireCommand(commands[i], list[i]);
  const std::string frame = EncodeFrame(message);
  if (frame.size() - kFramePrefixBytes > frame_bytes_max_) {
    return Fail(ErrorKind::kTooLarge, "frame_too_large",
                "the batch encodes to " + std::to_string(frame.size() - kFramePrefixBytes) +
                    " bytes, above the server's limit of " + std::to_string(frame_bytes_max_) +
                    "; send fewer commands per batch");
  }
  if (auto sent = SendBytes(frame); !sent) return std::unexpected(std::move(sent.error()));
  ++in_flight_;
  return request_id;
}

Result<BatchReply> BinaryClient::Receive() {
  if (in_flight_ == 0) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_argument", "no batch is awaiting an answer");
  }
  auto words = ReceiveFrame();
  if (!words) return std::unexpected(std::move(words.error()));
  try {
    FrameReader reader(*words);
    if (auto checked = reader.Check(); !checked) return std::unexpected(checked.error());
    const auto frame = reader.Root();
    if (frame.isError()) return std::unexpected(FromConnectionError(frame.getError()));
    if (!frame.isResults()) return std::unexpected(Unexpected("a frame other than results"));
    const auto results = frame.getResults();
    BatchReply reply;
    reply.request_id = results.getRequestId();
    if (results.hasRefused()) reply.refused = ReadRejection(results.getRefused());
    const auto list = results.getResults();
    reply.replies.reserve(list.size());
    for (const auto result : list) reply.replies.push_back(ReadCommandResult(result));
    --in_flight_;
    return reply;
  } catch (const kj::Exception& exception) {
    return Fail(ErrorKind::kCorruption, "malformed_frame",
                std::string("the server's results do not decode: ") +
                    exception.getDescription().cStr());
  }
}

Result<BatchReply> BinaryClient::Execute(std::span<const commands::Command> commands) {
  auto sent = Send(commands);
  if (!sent) return std::unexpected(std::move(sent.error()));
  return Receive();
}

}  // namespace ledger::transport
