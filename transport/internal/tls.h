// OpenSSL pieces shared by transport/tls.cc, the HTTP client and the binary client. Internal to
// transport/.
#pragma once

#include <openssl/ssl.h>

#include <string>
#include <string_view>

#include "ledger/status.h"
#include "transport/tls.h"

namespace ledger::transport::internal {

// The text of OpenSSL's error queue (which it empties), or `fallback` when it is empty.
[[nodiscard]] std::string TakeOpenSslErrors(std::string_view fallback);

// Sets TLS 1.2 as the minimum and, when options.verify, peer verification against
// options.ca_file (or the default trust store). kInvalidArgument "tls_config" naming the CA file
// when it cannot be loaded.
[[nodiscard]] Status ConfigureClientContext(SSL_CTX* context, const TlsClientOptions& options);

// Per connection: SNI and the name the certificate must carry (options.server_name, else
// `connect_host`). kInvalidArgument "tls_config" if OpenSSL refuses the name.
[[nodiscard]] Status ConfigureClientSsl(SSL* ssl, const TlsClientOptions& options,
                                        const std::string& connect_host);

// The error for a failed client handshake on `ssl`: kUnavailable "tls_verify_failed" with
// OpenSSL's reason when the server's certificate was refused, else "tls_handshake_failed" with
// `detail`.
[[nodiscard]] Error ClientHandshakeError(SSL* ssl, std::string_view detail);

}  // namespace ledger::transport::internal
