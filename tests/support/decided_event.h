// The event the sequencer appends for an accepted decision, for tests and fuzz targets that
// decide commands without a sequencer (no gtest here: the fuzz targets use it).
#pragma once

#include <cstdint>
#include <utility>

#include "commands/command.h"
#include "commands/decide.h"
#include "commands/write_state.h"
#include "ledger/event.h"

namespace ledger::commands::testing {

// Wraps an accepted decision into the event the sequencer would append next (no hashes).
inline Event ToEvent(const WriteState& state, Decision decision, std::uint64_t position,
                     const CommandContext& context, TimestampUs now_us) {
  Event event;
  event.envelope.position = position;
  event.envelope.stream_version = state.StreamVersion(decision.stream) + 1;
  event.envelope.stream = std::move(decision.stream);
  event.envelope.type = PayloadType(decision.payload);
  event.envelope.recorded_at_us = now_us;
  event.envelope.client_id = context.client_id;
  event.envelope.idempotency_key = context.idempotency_key;
  event.postings = std::move(decision.postings);
  event.payload = std::move(decision.payload);
  return event;
}

}  // namespace ledger::commands::testing
