#include "ledger/status.h"

#include <cstdio>
#include <cstdlib>

namespace ledger {

void Panic(const char* file, int line, std::string_view message) {
  std::fprintf(stderr, "PANIC %s:%d: %.*s\n", file, line, static_cast<int>(message.size()),
               message.data());
  std::fflush(stderr);
  std::abort();
}

}  // namespace ledger
