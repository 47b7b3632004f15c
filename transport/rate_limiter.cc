#include "transport/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace ledger::transport {

RateLimiter::RateLimiter(RateLimit limit, std::int64_t now_us)
    : limit_(limit), tokens_(limit.burst), last_us_(now_us) {}

int RateLimiter::TryAcquire(std::int64_t now_us, std::size_t count) {
  const double wanted = static_cast<double>(count);
  std::lock_guard lock(mutex_);
  if (now_us > last_us_) {
    const double elapsed_seconds = static_cast<double>(now_us - last_us_) / 1e6;
    tokens_ = std::min(limit_.burst, tokens_ + elapsed_seconds * limit_.per_second);
    last_us_ = now_us;
  }
  if (tokens_ >= wanted) {
    tokens_ -= wanted;
    return 0;
  }
  const double wait_seconds = std::ceil((wanted - tokens_) / limit_.per_second);
  return static_cast<int>(std::clamp(wait_seconds, 1.0, 86'400.0));
}

}  // namespace ledger::transport
