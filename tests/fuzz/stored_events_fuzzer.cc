// libFuzzer target: decoding stored events (ledger/event_codec.h), the bytes the log, replay,
// the projections and NATS subscribers read back. Input: the stored bytes of one event.
//
// Checks: no crash or sanitizer finding on any bytes; PeekEvent agrees with DecodeEvent on
// what both read; and what decodes re-encodes to bytes that decode to the same event (the
// canonical form is stable, so a hash over it means one thing).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ledger/event_codec.h"
#include "ledger/status.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ledger;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const Hash hash = Sha256(bytes);
  auto peeked = PeekEvent(bytes);
  auto event = DecodeEvent(bytes, hash);
  if (!event) {
    LEDGER_ASSERT(event.error().kind == ErrorKind::kCorruption);
    return 0;
  }
  LEDGER_ASSERT(event->envelope.hash == hash);
  LEDGER_ASSERT(peeked.has_value());
  LEDGER_ASSERT(peeked->position == event->envelope.position);
  LEDGER_ASSERT(peeked->type == event->envelope.type);
  LEDGER_ASSERT(peeked->prev_hash == event->envelope.prev_hash);

  std::string canonical;
  EncodeEvent(*event, &canonical);
  auto again = DecodeEvent(canonical, hash);
  LEDGER_ASSERT(again.has_value());
  LEDGER_ASSERT(*again == *event);
  std::string twice;
  EncodeEvent(*again, &twice);
  LEDGER_ASSERT(twice == canonical);
  return 0;
}
