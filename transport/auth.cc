#include "transport/auth.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "ledger/limits.h"

namespace ledger::transport {
namespace {

constexpr std::size_t kDigestBytes = 32;

std::string Sha256(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const int ok = EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  LEDGER_ASSERT(ok == 1 && length == kDigestBytes);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::vector<std::string_view> SplitWhitespace(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t pos = 0;
  while (pos < line.size()) {
    const std::size_t start = line.find_first_not_of(" \t", pos);
    if (start == std::string_view::npos) break;
    const std::size_t end = std::min(line.find_first_of(" \t", start), line.size());
    words.push_back(line.substr(start, end - start));
    pos = end;
  }
  return words;
}

bool IsValidClientId(std::string_view id) {
  if (id.empty() || id.size() > kClientIdBytesMax) return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':' || c == '@';
    if (!ok) return false;
  }
  return true;
}

bool IsPrintableToken(std::string_view token) {
  for (const char c : token) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

// "writer,reader" -> bit set; the unknown role's name on failure.
Result<std::uint8_t> ParseRoles(std::string_view text) {
  std::uint8_t roles = 0;
  while (true) {
    const std::size_t comma = text.find(',');
    const std::string_view role = text.substr(0, comma);
    if (role == "writer") {
      roles |= kRoleWriter;
    } else if (role == "reader") {
      roles |= kRoleReader;
    } else if (role == "admin") {
      roles |= kRoleAdmin;
    } else {
      return Fail(ErrorKind::kInvalidArgument, "invalid_tokens_file",
                  "unknown role '" + std::string(role) + "' (roles: writer, reader, admin)");
    }
    if (comma == std::string_view::npos) return roles;
    text.remove_prefix(comma + 1);
  }
}

bool ParsePositive(std::string_view text, double* value) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && end == text.data() + text.size() && *value > 0 && *value < 1e9;
}

// "rate=10" or "rate=10/50": commands per second and burst (default: max(1, rate)).
Result<RateLimit> ParseRate(std::string_view text) {
  const auto invalid = [&] {
    return Fail(ErrorKind::kInvalidArgument, "invalid_tokens_file",
                "expected rate=<commands per second>[/<burst>] with positive numbers, got '" +
                    std::string(text.substr(0, 64)) + "'");
  };
  if (!text.starts_with("rate=")) return invalid();
  std::string_view spec = text.substr(5);
  const std::size_t slash = spec.find('/');
  RateLimit limit;
  if (!ParsePositive(spec.substr(0, slash), &limit.per_second)) return invalid();
  limit.burst = std::max(1.0, limit.per_second);
  if (slash != std::string_view::npos &&
      (!ParsePositive(spec.substr(slash + 1), &limit.burst) || limit.burst < 1)) {
    return invalid();
  }
  return limit;
}

std::string_view StripComment(std::string_view line) {
  line = line.substr(0, line.find('#'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
    line.remove_suffix(1);
  }
  return line;
}

std::string HexEncode(const unsigned char* bytes, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    hex.push_back(kDigits[bytes[i] >> 4]);
    hex.push_back(kDigits[bytes[i] & 0x0f]);
  }
  return hex;
}

}  // namespace

Status Authenticator::AddLine(std::string_view line, std::size_t line_number, std::int64_t now_us) {
  const auto fail = [](std::string message) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_tokens_file", std::move(message));
  };
  const std::vector<std::string_view> words = SplitWhitespace(line);
  if (words.size() < 3 || words.size() > 4) {
    return fail("expected '<token> <client-id> <role>[,<role>...] [rate=N[/B]]'");
  }
  if (words[0].size() < kTokenBytesMin || !IsPrintableToken(words[0])) {
    return fail("token must be at least " + std::to_string(kTokenBytesMin) +
                " printable characters");
  }
  if (!IsValidClientId(words[1])) {
    return fail("client id must be 1.." + std::to_string(kClientIdBytesMax) +
                " characters of [A-Za-z0-9._:@-]");
  }
  auto client = std::make_unique<Client>();
  client->client_id = std::string(words[1]);
  auto roles = ParseRoles(words[2]);
  if (!roles) return std::unexpected(roles.error());
  client->roles = *roles;
  if (words.size() == 4) {
    auto rate = ParseRate(words[3]);
    if (!rate) return std::unexpected(rate.error());
    client->limiter = std::make_unique<RateLimiter>(*rate, now_us);
  }
  std::string digest = Sha256(words[0]);
  if (by_digest_.contains(digest)) return fail("duplicate token");
  if (auto it = lines_by_client_.find(client->client_id); it != lines_by_client_.end()) {
    return fail("duplicate client id '" + client->client_id + "' (first on line " +
                std::to_string(it->second) + ")");
  }
  if (clients_.size() >= kAuthClientsMax) {
    return fail("more than " + std::to_string(kAuthClientsMax) + " clients");
  }
  lines_by_client_.emplace(client->client_id, line_number);
  by_digest_.emplace(digest, clients_.size());
  token_digests_.push_back(std::move(digest));
  clients_.push_back(std::move(client));
  return Ok();
}

Result<std::unique_ptr<Authenticator>> Authenticator::Parse(std::string_view text,
                                                            std::string_view source,
                                                            std::int64_t now_us) {
  std::unique_ptr<Authenticator> auth(new Authenticator());
  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const std::size_t newline = text.find('\n');
    const std::string_view line = StripComment(text.substr(0, newline));
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    if (SplitWhitespace(line).empty()) continue;
    if (auto status = auth->AddLine(line, line_number, now_us); !status) {
      return Fail(ErrorKind::kInvalidArgument, "invalid_tokens_file",
                  std::string(source) + " line " + std::to_string(line_number) + ": " +
                      status.error().message);
    }
  }
  if (auth->clients_.empty()) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_tokens_file",
                std::string(source) + ": defines no client");
  }
  return auth;
}

Result<std::unique_ptr<Authenticator>> Authenticator::LoadFile(const std::string& path,
                                                               std::int64_t now_us) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return Fail(ErrorKind::kUnavailable, "tokens_file_unreadable",
                "cannot read tokens file " + path + ": " + std::strerror(errno));
  }
  std::ostringstream contents;
  contents << file.rdbuf();
  return Parse(contents.str(), "tokens file " + path, now_us);
}

const Client* Authenticator::Authenticate(std::string_view token) const {
  const std::string digest = Sha256(token);
  const auto it = by_digest_.find(digest);
  if (it == by_digest_.end()) return nullptr;
  // The map found the digest already; the constant-time comparison keeps the final check free
  // of early exits whatever the map's hashing does.
  const std::string& stored = token_digests_[it->second];
  if (CRYPTO_memcmp(stored.data(), digest.data(), kDigestBytes) != 0) return nullptr;
  return clients_[it->second].get();
}

std::optional<std::string_view> Authenticator::BearerToken(std::string_view header) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    const char c = header[i];
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower != kScheme[i]) return std::nullopt;
  }
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

Result<bool> CreateDefaultTokensFile(const std::string& path) {
  if (::access(path.c_str(), F_OK) == 0) return false;
  unsigned char random[32];
  if (RAND_bytes(random, sizeof random) != 1) {
    return Fail(ErrorKind::kUnavailable, "random_failed", "RAND_bytes failed");
  }
  const std::string contents =
      "# Created by ledgerd. Format: <token> <client-id> <roles> "
      "[rate=N[/B]]\n" +
      HexEncode(random, sizeof random) + " admin admin\n";
  OPENSSL_cleanse(random, sizeof random);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return false;
    return Fail(ErrorKind::kUnavailable, "tokens_file_unwritable",
                "cannot create " + path + ": " + std::strerror(errno));
  }
  const bool written =
      ::write(fd, contents.data(), contents.size()) == static_cast<ssize_t>(contents.size()) &&
      ::fsync(fd) == 0;
  const int saved_errno = errno;
  ::close(fd);
  if (!written) {
    ::unlink(path.c_str());
    return Fail(ErrorKind::kUnavailable, "tokens_file_unwritable",
                "cannot write " + path + ": " + std::strerror(saved_errno));
  }
  return true;
}

}  // namespace ledger::transport
