// TLS for the HTTP API and the binary protocol (OpenSSL through Asio's SSL support): the
// server's certificate and key (ledgerd --tls-cert/--tls-key) and the clients' TLS options.
// TLS 1.2 is the minimum on both sides; OpenSSL negotiates 1.3 when both ends have it. No client
// certificates: clients authenticate with their bearer token inside the encrypted channel.
#pragma once

#include <memory>
#include <string>

#include "ledger/status.h"

namespace boost::asio::ssl {
class context;
}

namespace ledger::transport {

// A server's TLS context: a PEM certificate chain and its PEM private key, loaded once and
// shared by every listener that serves TLS (read-only after Load, so any thread may use it).
class ServerTls {
 public:
  // Loads and checks both files. kInvalidArgument "tls_config" naming the file when one cannot
  // be read or is not PEM of the right kind, or when the key does not belong to the certificate.
  [[nodiscard]] static Result<std::shared_ptr<ServerTls>> Load(const std::string& cert_file,
                                                               const std::string& key_file);
  ~ServerTls();
  ServerTls(const ServerTls&) = delete;
  ServerTls& operator=(const ServerTls&) = delete;

  [[nodiscard]] boost::asio::ssl::context& context() { return *context_; }

 private:
  explicit ServerTls(std::unique_ptr<boost::asio::ssl::context> context);
  std::unique_ptr<boost::asio::ssl::context> context_;
};

// How a client (HttpClient, BinaryClient, ledger-bench) speaks TLS. Off by default.
struct TlsClientOptions {
  bool enabled = false;
  // PEM file of the certificate authorities that may have signed the server's certificate (a
  // self-signed server certificate is its own CA). Empty: the system's default trust store.
  std::string ca_file;
  // The name the server's certificate must carry (a DNS name, or an IP address matched against
  // the certificate's IP addresses); also sent as SNI when it is a DNS name. Empty: the host
  // the client connects to.
  std::string server_name;
  // Checks the server's certificate chain and name. Only tests should turn it off.
  bool verify = true;
};

}  // namespace ledger::transport
