// Shared by the fuzz targets (tests/fuzz/): what they need of the ledger that lives elsewhere
// inside a running server.
#pragma once

#include <cstdint>
#include <utility>

#include "commands/decide.h"
#include "commands/write_state.h"
#include "ledger/event.h"

namespace ledger::fuzz {

// The event the sequencer makes of an accepted decision (envelope without context or hashes).
[[nodiscard]] inline Event MakeEvent(const commands::WriteState& state,
                                     commands::Decision decision, std::uint64_t position,
                                     TimestampUs now_us) {
  Event event;
  event.envelope.position = position;
  event.envelope.stream_version = state.StreamVersion(decision.stream) + 1;
  event.envelope.stream = std::move(decision.stream);
  event.envelope.type = PayloadType(decision.payload);
  event.envelope.recorded_at_us = now_us;
  event.envelope.client_id = "fuzz";
  event.postings = std::move(decision.postings);
  event.payload = std::move(decision.payload);
  return event;
}

}  // namespace ledger::fuzz
