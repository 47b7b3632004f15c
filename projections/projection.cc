#include "projections/projection.h"

namespace ledger::projections {

std::string ColumnFamilyName(std::string_view projection_name) {
  return "projection." + std::string(projection_name);
}

Result<std::optional<std::string>> ViewWriter::Get(std::string_view key) {
  if (auto it = pending_.find(key); it != pending_.end()) return it->second;
  std::string value;
  rocksdb::Status status = db_.Get(rocksdb::ReadOptions(), &family_, key, &value);
  if (status.IsNotFound()) return std::optional<std::string>();
  if (!status.ok()) {
    return Fail(ErrorKind::kUnavailable, "storage_unavailable",
                "reading a projection view: " + status.ToString());
  }
  return std::optional<std::string>(std::move(value));
}

void ViewWriter::Put(std::string_view key, std::string_view value) {
  LEDGER_ASSERT(batch_.Put(&family_, key, value).ok());
  pending_.insert_or_assign(std::string(key), std::optional<std::string>(std::string(value)));
}

void ViewWriter::Delete(std::string_view key) {
  LEDGER_ASSERT(batch_.Delete(&family_, key).ok());
  pending_.insert_or_assign(std::string(key), std::optional<std::string>());
}

}  // namespace ledger::projections
