#include "transport/tls.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "transport/internal/tls.h"

namespace ledger::transport {
namespace ssl = boost::asio::ssl;

namespace {

std::unexpected<Error> ConfigError(std::string message) {
  return Fail(ErrorKind::kInvalidArgument, "tls_config", std::move(message));
}

// OpenSSL's own errors for a missing file are terse ("system lib"); say which file and why.
Status CheckReadable(const std::string& path, std::string_view what) {
  std::ifstream file(path);
  if (!file) {
    return ConfigError("cannot read the TLS " + std::string(what) + " file " + path + ": " +
                       std::strerror(errno));
  }
  return Ok();
}

}  // namespace

namespace internal {

std::string TakeOpenSslErrors(std::string_view fallback) {
  std::string text;
  while (const unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text.empty() ? std::string(fallback) : text;
}

Status ConfigureClientContext(SSL_CTX* context, const TlsClientOptions& options) {
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
  // ledgerd closes without close_notify. Both protocols carry their own lengths (frames,
  // Content-Length), so a cut-off message is still detected; a close between messages is EOF,
  // as on a plain connection. (This is for BinaryClient, where OpenSSL reads the socket itself;
  // under Asio, HttpClient sees such a close as ssl::error::stream_truncated.)
  SSL_CTX_set_options(context, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
  if (!options.verify) {
    SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nullptr);
    return Ok();
  }
  SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nullptr);
  if (options.ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(context) != 1) {
      return ConfigError("cannot load the default trust store: " +
                         TakeOpenSslErrors("unknown error"));
    }
    return Ok();
  }
  if (auto readable = CheckReadable(options.ca_file, "CA"); !readable) return readable;
  if (SSL_CTX_load_verify_locations(context, options.ca_file.c_str(), nullptr) != 1) {
    return ConfigError("cannot load the TLS CA file " + options.ca_file + ": " +
                       TakeOpenSslErrors("not PEM certificates"));
  }
  return Ok();
}

Status ConfigureClientSsl(SSL* ssl, const TlsClientOptions& options,
                          const std::string& connect_host) {
  const std::string name = options.server_name.empty() ? connect_host : options.server_name;
  boost::system::error_code not_an_address;
  boost::asio::ip::make_address(name, not_an_address);
  const bool is_address = !not_an_address;
  // SNI carries DNS names only (RFC 6066).
  if (!is_address && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) {
    return ConfigError("bad TLS server name '" + name + "': " + TakeOpenSslErrors("refused"));
  }
  if (!options.verify) return Ok();
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  const int set = is_address ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                             : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
  if (set != 1) {
    return ConfigError("bad TLS server name '" + name + "': " + TakeOpenSslErrors("refused"));
  }
  return Ok();
}

Error ClientHandshakeError(SSL* ssl, std::string_view detail) {
  const long verified = SSL_get_verify_result(ssl);
  if (verified != X509_V_OK) {
    ERR_clear_error();
    return MakeError(ErrorKind::kUnavailable, "tls_verify_failed",
                     std::string("the server's TLS certificate was refused: ") +
                         X509_verify_cert_error_string(verified));
  }
  return MakeError(ErrorKind::kUnavailable, "tls_handshake_failed",
                   "TLS handshake failed: " + TakeOpenSslErrors(detail));
}

}  // namespace internal

ServerTls::ServerTls(std::unique_ptr<ssl::context> context) : context_(std::move(context)) {}

ServerTls::~ServerTls() = default;

Result<std::shared_ptr<ServerTls>> ServerTls::Load(const std::string& cert_file,
                                                   const std::string& key_file) {
  if (auto readable = CheckReadable(cert_file, "certificate"); !readable) {
    return std::unexpected(readable.error());
  }
  if (auto readable = CheckReadable(key_file, "key"); !readable) {
    return std::unexpected(readable.error());
  }
  auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  // Renegotiation only adds attack surface (and a CPU lever for a client) to a server that
  // never asks for it.
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(native, cert_file.c_str()) != 1) {
    return ConfigError("cannot load the TLS certificate file " + cert_file + ": " +
                       internal::TakeOpenSslErrors("not a PEM certificate"));
  }
  if (SSL_CTX_use_PrivateKey_file(native, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return ConfigError("cannot load the TLS key file " + key_file + ": " +
                       internal::TakeOpenSslErrors("not a PEM private key") +
                       " (or it does not match the certificate in " + cert_file + ")");
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return ConfigError("the TLS key in " + key_file + " does not match the certificate in " +
                       cert_file + ": " + internal::TakeOpenSslErrors("mismatch"));
  }
  return std::shared_ptr<ServerTls>(new ServerTls(std::move(context)));
}

}  // namespace ledger::transport
