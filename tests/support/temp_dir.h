// A temporary directory removed (recursively) when the object goes out of scope.
#pragma once

#include <string>

#include "ledger/scratch_dir.h"

namespace ledger::testing {

class TempDir {
 public:
  TempDir();  // Aborts the test run if the directory cannot be created.
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return dir_.path(); }
  // path() + "/" + name.
  [[nodiscard]] std::string Sub(const std::string& name) const { return path() + "/" + name; }

 private:
  ScratchDir dir_;
};

// A seed for randomized tests: $LEDGER_TEST_SEED if set, else from the clock. Printed so a
// failure can be replayed.
unsigned long long TestSeed();

}  // namespace ledger::testing
