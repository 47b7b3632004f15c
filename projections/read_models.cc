#include "projections/read_models.h"

#include "projections/entries_projection.h"
#include "projections/statements_projection.h"
#include "projections/wallets_projection.h"

namespace ledger::projections {
namespace {

// The projections in ProjectionId order, and whether each is read by whole key only.
struct Definition {
  std::string_view name;
  bool point_lookups_only;
};
constexpr std::array<Definition, kProjectionCount> kDefinitions = {{
    {AccountsProjection::kName, true},
    {EntriesProjection::kName, false},
    {WalletsProjection::kName, true},
    {StatementsProjection::kName, false},
    {HoldersProjection::kName, true},
    {SearchProjection::kName, false},
}};

}  // namespace

std::unique_ptr<Projection> ReadModels::MakeProjection(ProjectionId id) {
  switch (id) {
    case ProjectionId::kAccounts:
      return std::make_unique<AccountsProjection>();
    case ProjectionId::kEntries:
      return std::make_unique<EntriesProjection>();
    case ProjectionId::kWallets:
      return std::make_unique<WalletsProjection>();
    case ProjectionId::kStatements:
      return std::make_unique<StatementsProjection>();
    case ProjectionId::kHolders:
      return std::make_unique<HoldersProjection>();
    case ProjectionId::kSearch:
      return std::make_unique<SearchProjection>();
  }
  LEDGER_ASSERT(false && "unknown projection id");
  return nullptr;
}

std::optional<ProjectionId> ReadModels::IdFromName(std::string_view name) {
  for (std::size_t i = 0; i < kProjectionCount; ++i) {
    if (kDefinitions[i].name == name) return static_cast<ProjectionId>(i);
  }
  return std::nullopt;
}

const HoldersProjection& ReadModels::holders() const {
  return static_cast<const HoldersProjection&>(
      *slots_[static_cast<std::size_t>(ProjectionId::kHolders)].projection);
}

const SearchProjection& ReadModels::search() const {
  return static_cast<const SearchProjection&>(
      *slots_[static_cast<std::size_t>(ProjectionId::kSearch)].projection);
}

std::vector<std::string> ReadModels::ColumnFamilies() {
  std::vector<std::string> families;
  for (const Definition& definition : kDefinitions) {
    families.push_back(ColumnFamilyName(definition.name));
  }
  families.emplace_back(kSearchReportsFamily);
  return families;
}

std::vector<std::string> ReadModels::PointLookupFamilies() {
  std::vector<std::string> families;
  for (const Definition& definition : kDefinitions) {
    if (definition.point_lookups_only) families.push_back(ColumnFamilyName(definition.name));
  }
  return families;
}

Result<std::unique_ptr<ReadModels>> ReadModels::Create(Store& store, Metrics& metrics) {
  std::unique_ptr<ReadModels> models(new ReadModels(store, metrics));
  for (std::size_t i = 0; i < kProjectionCount; ++i) {
    Slot& slot = models->slots_[i];
    slot.projection = MakeProjection(static_cast<ProjectionId>(i));
    LEDGER_ASSERT(slot.projection->Name() == kDefinitions[i].name);
    slot.family = store.ColumnFamily(ColumnFamilyName(kDefinitions[i].name));
    if (slot.family == nullptr) {
      return Fail(
          ErrorKind::kInternal, "internal",
          "the store was opened without column family " + ColumnFamilyName(kDefinitions[i].name));
    }
    slot.runner = std::make_unique<ProjectionRunner>(models->source_, *store.db(), *slot.family,
                                                     *slot.projection, metrics);
  }
  const SearchProjection* search = &models->search();
  for (std::size_t i = 0; i < kSearchIndexCount; ++i) {
    const auto index = static_cast<SearchIndexId>(i);
    const Labels labels = {{"index", std::string(SearchIndexName(index))}};
    metrics.SetGaugeFunction(
        "ledger_search_documents", "Documents in each search index (published).",
        [search, index] { return static_cast<double>(search->DocumentCount(index)); }, labels);
    metrics.SetGaugeFunction(
        "ledger_search_memory_bytes",
        "Approximate heap bytes of each search index's in-memory structures.",
        [search, index] { return static_cast<double>(search->MemoryBytes(index)); }, labels);
  }
  models->reports_family_ = store.ColumnFamily(std::string(kSearchReportsFamily));
  if (models->reports_family_ == nullptr) {
    return Fail(ErrorKind::kInternal, "internal",
                "the store was opened without column family " + std::string(kSearchReportsFamily));
  }
  return models;
}

ReadModels::~ReadModels() {
  Stop();
  for (std::size_t i = 0; i < kSearchIndexCount; ++i) {
    const Labels labels = {{"index", std::string(SearchIndexName(static_cast<SearchIndexId>(i)))}};
    metrics_.RemoveGaugeFunction("ledger_search_documents", labels);
    metrics_.RemoveGaugeFunction("ledger_search_memory_bytes", labels);
  }
}

Status ReadModels::Start() {
  for (Slot& slot : slots_) {
    if (auto started = slot.runner->Start(); !started) {
      Stop();
      return started;
    }
  }
  return Ok();
}

void ReadModels::Stop() {
  for (Slot& slot : slots_) {
    if (slot.runner == nullptr) continue;
    slot.runner->Stop();
    slot.runner->DropWaiters();
  }
}

std::string_view ReadModels::Name(ProjectionId id) {
  return kDefinitions[static_cast<std::size_t>(id)].name;
}

ProjectionRunner& ReadModels::Runner(ProjectionId id) const {
  return *slots_[static_cast<std::size_t>(id)].runner;
}

rocksdb::ColumnFamilyHandle& ReadModels::Family(ProjectionId id) const {
  return *slots_[static_cast<std::size_t>(id)].family;
}

std::vector<ProjectionStatus> ReadModels::Statuses() const {
  std::vector<ProjectionStatus> statuses;
  const std::uint64_t head = store_.HeadPosition();
  for (std::size_t i = 0; i < kProjectionCount; ++i) {
    const ProjectionRunner& runner = *slots_[i].runner;
    statuses.push_back(
        ProjectionStatus{kDefinitions[i].name, runner.Checkpoint(), head, runner.Failure()});
  }
  return statuses;
}

}  // namespace ledger::projections
