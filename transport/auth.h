// Clients and their bearer tokens, from a tokens file with one client per line:
//
//   <token> <client-id> <role>[,<role>...] [rate=<commands per second>[/<burst>]]
//
// Roles: writer (may submit commands), reader (may read), admin (both, plus admin-only
// commands). '#' starts a comment; blank lines are ignored. Only SHA-256 digests of tokens are
// kept in memory; lookups compare digests in constant time. Tokens never appear in errors or logs.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ledger/status.h"
#include "transport/rate_limiter.h"

namespace ledger::transport {

// Tokens shorter than this are refused: they would be guessable.
inline constexpr std::size_t kTokenBytesMin = 16;

enum Role : std::uint8_t {
  kRoleWriter = 1,
  kRoleReader = 2,
  kRoleAdmin = 4,
};

// One authenticated client. Owned by the Authenticator; pointers to it stay valid as long as it.
struct Client {
  std::string client_id;
  std::uint8_t roles = 0;                // Bit set of Role.
  std::unique_ptr<RateLimiter> limiter;  // Null when the client has no rate limit.

  [[nodiscard]] bool IsAdmin() const { return (roles & kRoleAdmin) != 0; }
  // Writers and admins may submit commands.
  [[nodiscard]] bool CanWrite() const { return (roles & (kRoleWriter | kRoleAdmin)) != 0; }
  // Every role may read events (see transport/README.md).
  [[nodiscard]] bool CanRead() const { return roles != 0; }
  // Queries of the read models (accounts, wallets, statements, holders, projections) need the
  // reader or admin role: a writer service has no business reading users' wallets.
  [[nodiscard]] bool CanQuery() const { return (roles & (kRoleReader | kRoleAdmin)) != 0; }
};

class Authenticator {
 public:
  // Parses tokens-file text. `source` names it in errors ("tokens file /x/tokens line 3: ...").
  // Errors: kInvalidArgument "invalid_tokens_file" naming the line (malformed line, unknown role,
  // bad client id or rate, short or duplicate token, duplicate client id, more than
  // kAuthClientsMax clients, or no client at all). `now_us` starts the rate limiters' clocks.
  [[nodiscard]] static Result<std::unique_ptr<Authenticator>> Parse(std::string_view text,
                                                                    std::string_view source,
                                                                    std::int64_t now_us);
  // Reads and parses the file at `path`. kUnavailable if it cannot be read.
  [[nodiscard]] static Result<std::unique_ptr<Authenticator>> LoadFile(const std::string& path,
                                                                       std::int64_t now_us);

  // The client whose token is `token`, or nullptr. Thread-safe.
  [[nodiscard]] const Client* Authenticate(std::string_view token) const;
  // The token of an "Authorization: Bearer <token>" header value, or nullopt if the value has
  // another form. The scheme is case-insensitive.
  [[nodiscard]] static std::optional<std::string_view> BearerToken(std::string_view header);

  [[nodiscard]] std::size_t ClientCount() const { return clients_.size(); }

 private:
  Authenticator() = default;
  // Parses one non-blank line (comments stripped) and adds its client.
  [[nodiscard]] Status AddLine(std::string_view line, std::size_t line_number, std::int64_t now_us);

  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<std::string> token_digests_;                        // Parallel to clients_.
  std::unordered_map<std::string, std::size_t> by_digest_;        // SHA-256 -> index.
  std::unordered_map<std::string, std::size_t> lines_by_client_;  // client id -> line.
};

// Creates `path` (mode 0600, failing if it exists) holding one admin client "admin" with a fresh
// random token (32 bytes from RAND_bytes, hex). Returns false without touching the file if it
// already exists. kUnavailable on an I/O or RNG error. The token is only ever in the file.
[[nodiscard]] Result<bool> CreateDefaultTokensFile(const std::string& path);

}  // namespace ledger::transport
