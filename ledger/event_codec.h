// Event <-> stored bytes. The stored bytes are the canonical single-segment Cap'n Proto
// encoding of schema::Event (with a segment table, so `capnp decode` reads them) with `hash`
// unset. hash = SHA-256(prev_hash || stored bytes).
#pragma once

#include <string>
#include <string_view>

#include "ledger/event.h"
#include "ledger/status.h"

namespace ledger {

// Canonical bytes of `event`, ignoring event.envelope.hash. Appends to `out`.
void EncodeEvent(const Event& event, std::string* out);
// Decodes stored bytes; `hash` is set from the argument (it is not inside the bytes).
// kCorruption if the bytes are not a well-formed event.
[[nodiscard]] Result<Event> DecodeEvent(std::string_view bytes, const Hash& hash);
// The envelope fields a relay needs, read without decoding the whole event.
struct EventSummary {
  std::uint64_t position = 0;
  EventType type = EventType::kAccountOpened;
  Hash prev_hash{};
};
// kCorruption if the bytes are not a well-formed Cap'n Proto message with those fields.
[[nodiscard]] Result<EventSummary> PeekEvent(std::string_view bytes);
// SHA-256(prev_hash || bytes).
[[nodiscard]] Hash ChainHash(const Hash& prev_hash, std::string_view bytes);
// SHA-256 of arbitrary bytes.
[[nodiscard]] Hash Sha256(std::string_view bytes);
// A full Cap'n Proto message of `event` with `hash` set (for exports), framed.
[[nodiscard]] std::string EncodeEventWithHash(const Event& event);

}  // namespace ledger
