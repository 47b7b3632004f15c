// A temporary directory removed (recursively) when the object goes out of scope.
#pragma once

#include <string>

namespace ledger::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }
  // path() + "/" + name.
  [[nodiscard]] std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A seed for randomized tests: $LEDGER_TEST_SEED if set, else from the clock. Printed so a
// failure can be replayed.
unsigned long long TestSeed();

}  // namespace ledger::testing
