// A token bucket: `per_second` tokens flow in continuously up to `burst`; each command takes one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>

namespace ledger::transport {

struct RateLimit {
  double per_second = 0;  // > 0.
  double burst = 1;       // >= 1: commands allowed at once after a quiet period.
};

class RateLimiter {
 public:
  // Starts full (`burst` tokens) at time `now_us` (any monotonic microsecond clock).
  RateLimiter(RateLimit limit, std::int64_t now_us);

  // Takes `count` tokens at `now_us` (one per command), all or none. Returns 0 when the commands
  // may go ahead, else the whole seconds (>= 1) after which that many tokens will be available
  // (for Retry-After). `count` must not exceed the burst (it could never be granted).
  // Thread-safe.
  [[nodiscard]] int TryAcquire(std::int64_t now_us, std::size_t count = 1);

  [[nodiscard]] const RateLimit& limit() const { return limit_; }

 private:
  const RateLimit limit_;
  std::mutex mutex_;
  double tokens_;         // Guarded by mutex_.
  std::int64_t last_us_;  // Guarded by mutex_.
};

}  // namespace ledger::transport
