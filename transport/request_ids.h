// Checks shared by the HTTP API and the binary protocol for what a command carries besides its
// body: the envelope ids (Idempotency-Key, correlation and causation ids) and free text.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "commands/command.h"
#include "ledger/status.h"
#include "transport/auth.h"

namespace ledger::transport {

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points above
// U+10FFFF), as RapidJSON's validating parser requires of JSON bodies.
[[nodiscard]] bool IsValidUtf8(std::string_view text);

// One envelope id: kInvalidArgument "invalid_argument" unless it is 1..max_bytes printable ASCII.
// `what` names it in the message ("header Idempotency-Key", "field 'idempotencyKey'").
[[nodiscard]] Status CheckRequestId(std::string_view what, std::string_view value,
                                    std::size_t max_bytes);

// The context of a command sent by `client`. An id given as std::nullopt is absent; a present
// one is checked with CheckRequestId under the name in `names` (idempotency, correlation,
// causation).
struct RequestIdNames {
  std::string_view idempotency_key;
  std::string_view correlation_id;
  std::string_view causation_id;
};
struct RequestIds {
  std::optional<std::string_view> idempotency_key;
  std::optional<std::string_view> correlation_id;
  std::optional<std::string_view> causation_id;
};
[[nodiscard]] Result<commands::CommandContext> MakeCommandContext(const Client& client,
                                                                  const RequestIds& ids,
                                                                  const RequestIdNames& names);

}  // namespace ledger::transport
