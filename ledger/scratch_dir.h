// A fresh directory under the system temp dir, removed (with its contents) on destruction: the
// audit tool's scratch space, the tests' temporary data dirs, the benchmarks' logs.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "ledger/status.h"

namespace ledger {

class ScratchDir {
 public:
  // kUnavailable "io_error" if it cannot be created. `purpose` goes into its name
  // (ledger-<purpose>-XXXXXX, made unique by mkdtemp).
  [[nodiscard]] static Result<ScratchDir> Create(std::string_view purpose);
  ScratchDir() = default;  // Holds nothing.
  ScratchDir(ScratchDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  ScratchDir& operator=(ScratchDir&& other) noexcept;
  ~ScratchDir();
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  void Remove();
  std::string path_;
};

}  // namespace ledger
