// The built binaries the transport tests run as processes (transport/CMakeLists.txt defines
// their paths for transport_test).
#pragma once

#ifndef LEDGERD_PATH
#error "LEDGERD_PATH must name the ledgerd binary (transport/CMakeLists.txt defines it)"
#endif
#ifndef LEDGER_REPLAY_PATH
#error "LEDGER_REPLAY_PATH must name the ledger-replay binary (transport/CMakeLists.txt defines it)"
#endif
#ifndef LEDGER_TAIL_PATH
#error "LEDGER_TAIL_PATH must name the ledger-tail binary (transport/CMakeLists.txt defines it)"
#endif

namespace ledger::transport::testing {

inline constexpr const char* kLedgerdPath = LEDGERD_PATH;
inline constexpr const char* kLedgerTailPath = LEDGER_TAIL_PATH;
inline constexpr const char* kLedgerReplayPath = LEDGER_REPLAY_PATH;

}  // namespace ledger::transport::testing
