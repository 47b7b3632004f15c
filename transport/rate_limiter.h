// A token bucket: `per_second` tokens flow in continuously up to `burst`; each command takes one.
#pragma once

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

  // Takes one token at `now_us`. Returns 0 when the command may go ahead, else the whole seconds
  // (>= 1) after which a token will be available (for Retry-After). Thread-safe.
  [[nodiscard]] int TryAcquire(std::int64_t now_us);

  [[nodiscard]] const RateLimit& limit() const { return limit_; }

 private:
  const RateLimit limit_;
  std::mutex mutex_;
  double tokens_;         // Guarded by mutex_.
  std::int64_t last_us_;  // Guarded by mutex_.
};

}  // namespace ledger::transport
