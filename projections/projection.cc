#include "projections/projection.h"

namespace ledger::projections {

std::string ColumnFamilyName(std::string_view projection_name) {
  return "projection." + std::string(projection_name);
}

Result<std::uint64_t> ReadCheckpoint(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family,
                                     const rocksdb::Snapshot* snapshot) {
  rocksdb::ReadOptions options;
  options.snapshot = snapshot;
  std::string value;
  rocksdb::Status status = db.Get(options, &family,
                                  rocksdb::Slice(kCheckpointKey.data(), kCheckpointKey.size()),
                                  &value);
  if (status.IsNotFound()) return std::uint64_t{0};
  if (!status.ok()) {
    return Fail(ErrorKind::kUnavailable, "storage_unavailable",
                "reading a projection checkpoint: " + status.ToString());
  }
  if (value.size() != 8) {
    return Fail(ErrorKind::kCorruption, "corruption",
                "projection checkpoint in " + family.GetName() + " is not 8 bytes");
  }
  return ReadBigEndian64(value.data());
}

Result<std::optional<std::string>> ViewWriter::Get(std::string_view key) {
  if (auto it = pending_.find(key); it != pending_.end()) return it->second;
  if (auto it = cache_.entries.find(key); it != cache_.entries.end()) return it->second;
  if (cache_.complete) return std::optional<std::string>();
  std::string value;
  rocksdb::Status status = db_.Get(rocksdb::ReadOptions(), &family_, key, &value);
  if (!status.ok() && !status.IsNotFound()) {
    return Fail(ErrorKind::kUnavailable, "storage_unavailable",
                "reading a projection view: " + status.ToString());
  }
  // Read-through: what the database holds is committed state.
  std::optional<std::string> found;
  if (status.ok()) found = std::move(value);
  cache_.entries.insert_or_assign(std::string(key), found);
  return found;
}

void ViewWriter::CommitToCache() {
  for (auto& [key, value] : pending_) cache_.entries.insert_or_assign(key, std::move(value));
  pending_.clear();
}

void ViewWriter::Put(std::string_view key, std::string_view value) {
  pending_.insert_or_assign(std::string(key), std::optional<std::string>(std::string(value)));
}

void ViewWriter::PutWriteOnly(std::string_view key, std::string_view value) {
  LEDGER_ASSERT(batch_.Put(&family_, rocksdb::Slice(key.data(), key.size()),
                           rocksdb::Slice(value.data(), value.size()))
                    .ok());
}

void ViewWriter::Delete(std::string_view key) {
  pending_.insert_or_assign(std::string(key), std::optional<std::string>());
}

rocksdb::WriteBatch& ViewWriter::Finish() {
  // One entry per key however many events of the batch changed it.
  for (const auto& [key, value] : pending_) {
    if (value) {
      LEDGER_ASSERT(batch_.Put(&family_, key, *value).ok());
    } else {
      LEDGER_ASSERT(batch_.Delete(&family_, key).ok());
    }
  }
  return batch_;
}

}  // namespace ledger::projections
