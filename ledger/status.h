// Errors as values. Fallible functions return `Result<T>` (std::expected) or `Status`.
// Each code has one meaning everywhere; transport maps codes to HTTP statuses once.
#pragma once

#include <version>
#if defined(__cpp_lib_expected)
#include <expected>
#else
#include "ledger/internal/expected_polyfill.h"  // clang 14 with libstdc++ 12 (fuzz builds)
#endif
#include <string>
#include <string_view>
#include <utility>

namespace ledger {

enum class ErrorKind {
  kInvalidArgument,  // Malformed or out-of-range input (400).
  kUnauthenticated,  // Missing or unknown credentials (401).
  kPermissionDenied, // Authenticated but not allowed (403).
  kNotFound,         // Unknown account, order, campaign, event (404).
  kConflict,         // Idempotency or version conflict, duplicate business id (409).
  kTooLarge,         // Body or batch above its limit (413).
  kRejected,         // A business rule refused the command (422).
  kRateLimited,      // Per-client rate limit (429).
  kOverloaded,       // Queue full or write path unavailable (503).
  kUnavailable,      // Storage failed; retry later (503).
  kInternal,         // A bug or corruption (500).
  kCorruption,       // Stored data fails its checks (500).
  kDeadlineExceeded, // A wait ran out of time, e.g. a query's min_position (504).
};

// A failure with a stable machine-readable `code` (e.g. "insufficient_funds") and a message for
// humans. `code` is part of the API: never change an existing one.
struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string code;
  std::string message;
};

[[nodiscard]] inline Error MakeError(ErrorKind kind, std::string code, std::string message) {
  return Error{kind, std::move(code), std::move(message)};
}

[[nodiscard]] inline std::unexpected<Error> Fail(ErrorKind kind, std::string code,
                                                 std::string message) {
  return std::unexpected(Error{kind, std::move(code), std::move(message)});
}

template <typename T>
using Result = std::expected<T, Error>;

// Success or an error, for functions without a value.
using Status = std::expected<void, Error>;

[[nodiscard]] inline Status Ok() { return {}; }

// Aborts with a message even in release builds: for broken invariants, never for user input.
[[noreturn]] void Panic(const char* file, int line, std::string_view message);

}  // namespace ledger

#define LEDGER_ASSERT(condition)                                      \
  do {                                                                \
    if (!(condition)) [[unlikely]]                                    \
      ::ledger::Panic(__FILE__, __LINE__, "assertion failed: " #condition); \
  } while (0)
