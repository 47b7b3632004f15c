// Time comes from outside the core so tests and replays control it.
#pragma once

#include "ledger/event.h"

namespace ledger {

class Clock {
 public:
  virtual ~Clock() = default;
  // Microseconds since the Unix epoch, UTC. Thread-safe.
  [[nodiscard]] virtual TimestampUs NowUs() = 0;
};

// The system's real-time clock.
class SystemClock final : public Clock {
 public:
  [[nodiscard]] TimestampUs NowUs() override;
};

// A clock tests set by hand.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimestampUs now_us) : now_us_(now_us) {}
  [[nodiscard]] TimestampUs NowUs() override { return now_us_; }
  void Set(TimestampUs now_us) { now_us_ = now_us; }
  void Advance(TimestampUs delta_us) { now_us_ += delta_us; }

 private:
  TimestampUs now_us_;
};

}  // namespace ledger
