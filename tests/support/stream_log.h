// Reading a JetStream stream back and comparing it with the log, without gtest: shared by the
// NATS tests (tests/transport/nats_fixture.h wraps these in gtest assertions) and the
// crash-consistency harness (tests/crash/), which reports differences itself.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ledger/status.h"
#include "ledger/store.h"
#include "transport/nats_common.h"

namespace ledger::testing {

// One message of the stream as the checks see it.
struct StreamMessage {
  std::uint64_t sequence = 0;
  std::string subject;
  transport::LedgerHeaders headers;
  std::string payload;
};

// The messages of `stream` from sequence `first_sequence` to its end, in sequence order, read
// with a temporary pull consumer (deleted afterwards). kUnavailable when nats-server cannot be
// reached or a fetch fails; kCorruption "bad_message" for a message without the ledger headers.
[[nodiscard]] Result<std::vector<StreamMessage>> ReadStream(const std::string& url,
                                                            std::uint64_t first_sequence = 1,
                                                            const std::string& stream = "LEDGER",
                                                            const std::string& prefix = "ledger");

// "" when `messages` are exactly the events of `store` at positions first_position..head, in
// order, each once: consecutive stream sequences, same bytes, same hash, the ledger's id, subject
// and event type headers as documented. Otherwise the first difference, naming its position.
[[nodiscard]] std::string CompareStreamWithLog(const std::vector<StreamMessage>& messages,
                                               const Store& store, std::uint64_t first_position = 1,
                                               const std::string& prefix = "ledger");

}  // namespace ledger::testing
