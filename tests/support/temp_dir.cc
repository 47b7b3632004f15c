#include "tests/support/temp_dir.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace ledger::testing {

TempDir::TempDir() {
  auto dir = ScratchDir::Create("test");
  if (!dir) {
    std::fprintf(stderr, "TempDir: %s\n", dir.error().message.c_str());
    std::abort();
  }
  dir_ = std::move(*dir);
}

unsigned long long TestSeed() {
  unsigned long long seed = 0;
  if (const char* env = std::getenv("LEDGER_TEST_SEED")) {
    seed = std::strtoull(env, nullptr, 10);
  } else {
    seed = static_cast<unsigned long long>(
        std::chrono::steady_clock::now().time_since_epoch().count());
  }
  std::fprintf(stderr, "[seed] LEDGER_TEST_SEED=%llu\n", seed);
  return seed;
}

}  // namespace ledger::testing
