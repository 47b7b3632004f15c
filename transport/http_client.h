// A small blocking HTTP/1.1 client over one keep-alive connection, plain or HTTPS, for tests and
// tools (load generators, smoke checks). Not for use on io threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ledger/status.h"
#include "transport/http_response.h"
#include "transport/tls.h"

namespace ledger::transport {

class HttpClient {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  // Connects to host:port (an IP address), with a TLS handshake when tls.enabled (verifying
  // the server's certificate unless tls.verify is off). kUnavailable "network_error" if the
  // connection fails, "tls_verify_failed" / "tls_handshake_failed" for TLS, kInvalidArgument
  // "tls_config" for an unusable CA file.
  [[nodiscard]] static Result<std::unique_ptr<HttpClient>> Connect(
      const std::string& host, std::uint16_t port, const TlsClientOptions& tls = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request and reads its response. `bearer_token` (if not empty) goes into
  // Authorization; `body` (if not empty) is sent as application/json unless `headers` names a
  // Content-Type. kUnavailable on a network error or a closed connection.
  [[nodiscard]] Result<HttpResponse> Send(std::string_view method, std::string_view target,
                                          std::string_view body = {},
                                          std::string_view bearer_token = {},
                                          const Headers& headers = {});
  // Writes `bytes` as they are (for malformed requests) and reads one response.
  [[nodiscard]] Result<HttpResponse> SendRaw(std::string_view bytes);
  // Reads one more response (after SendRaw of pipelined requests).
  [[nodiscard]] Result<HttpResponse> ReadResponse();
  // True if the server closes the connection within `timeout_ms` (EOF or reset). Consumes a
  // byte if the server sends one instead (then returns false).
  [[nodiscard]] bool ServerClosed(int timeout_ms = 5000);

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ledger::transport
