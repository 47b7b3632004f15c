// Commands the transport tests send, built in C++ (the binary protocol's side).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "commands/command.h"

namespace ledger::transport::testing {

// A USD credit of `amount` (negative: a debit) to `account` from external:bank, with
// `key` as its Idempotency-Key ("" for none).
inline commands::Command Credit(std::string account, std::int64_t amount, std::string key = "") {
  commands::Command command;
  command.context.idempotency_key = std::move(key);
  command.body = commands::ChangeAsset{.account = std::move(account),
                                       .asset = "USD",
                                       .amount = amount,
                                       .source = "bank",
                                       .counterparty = std::nullopt,
                                       .reason = "deposit",
                                       .ref = "r1",
                                       .expected_version = std::nullopt};
  return command;
}

}  // namespace ledger::transport::testing
