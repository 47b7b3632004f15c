#include "ledger/scratch_dir.h"

#include <stdlib.h>

#include <filesystem>

namespace ledger {

Result<ScratchDir> ScratchDir::Create(std::string_view purpose) {
  std::string pattern = (std::filesystem::temp_directory_path() /
                         ("ledger-" + std::string(purpose) + "-XXXXXX"))
                            .string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return std::unexpected(MakeError(ErrorKind::kUnavailable, "io_error",
                                     "cannot create a temporary directory like " + pattern));
  }
  ScratchDir dir;
  dir.path_ = std::move(pattern);
  return dir;
}

ScratchDir& ScratchDir::operator=(ScratchDir&& other) noexcept {
  if (this != &other) {
    Remove();
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

ScratchDir::~ScratchDir() { Remove(); }

void ScratchDir::Remove() {
  std::error_code ignored;
  if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  path_.clear();
}

}  // namespace ledger
