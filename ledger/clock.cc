#include "ledger/clock.h"

#include <chrono>

namespace ledger {

TimestampUs SystemClock::NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace ledger
