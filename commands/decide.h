// Pure command handlers: (state, command, time) -> the event to append, or a rejection.
// No I/O, no clock, no randomness. The sequencer fills in the envelope (position, stream
// version, hashes) and applies the event with WriteState::Apply.
#pragma once

#include <string>
#include <vector>

#include "commands/command.h"
#include "commands/write_state.h"
#include "ledger/event.h"
#include "ledger/status.h"

namespace ledger::commands {

struct Decision {
  std::string stream;
  std::vector<Posting> postings;
  Payload payload;
};

// Validates `command` (ids, amounts, limits) and decides it against `state` at time `now_us`.
// Errors: kInvalidArgument (bad field), kNotFound (unknown order/campaign), kConflict
// (version_conflict, account_exists, campaign_exists), kPermissionDenied (not_campaign_owner),
// kRejected (insufficient_funds, account_frozen, budget_exhausted, per_user_limit_reached,
// campaign_not_active, splits_exceed_gross, refund_exceeds_gross, balance_overflow, ...).
[[nodiscard]] Result<Decision> Decide(const WriteState& state, const Command& command,
                                      TimestampUs now_us);

// The key that makes `command` idempotent: the business id when the command has one
// ("order/<order_id>", "refund/<order_id>|<refund_id>", "payout/<payout_id>",
// "account/<account>", "campaign/<campaign_id>", "grant/<campaign_id>|<grant_id>",
// "redeem/<campaign_id>|<redemption_id>"), else "key/<client_id>|<Idempotency-Key>", else "".
// '|' never occurs in ids or client ids, so two different commands never share a key.
[[nodiscard]] std::string IdempotencyKey(const Command& command);

// SHA-256 over a canonical encoding of the command body and the client id: equal for a true
// repeat, different for another body under the same key (409 idempotency_conflict).
[[nodiscard]] Hash Fingerprint(const Command& command);

// Rounds numerator / denominator half up (both non-negative, denominator > 0), exactly.
[[nodiscard]] std::int64_t DivideRoundHalfUp(__int128 numerator, __int128 denominator);

}  // namespace ledger::commands
