// ledger-replay export: events of a position range as JSON lines (the HTTP API's event JSON,
// transport/json_events.h) or as framed Cap'n Proto messages with the hash filled in, which
// `capnp decode ledger/schema/events.capnp Event` reads. Every event is checked as it is read
// (hash, link to the one before, gaplessness), so an export never carries a damaged event.
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "ledger/event_codec.h"
#include "ledger/limits.h"
#include "replay/audit.h"
#include "transport/json_events.h"

namespace ledger::replay {
namespace {

constexpr std::string_view kVerb = "export";
constexpr std::size_t kOutputBufferBytes = 1u << 20;

Error Usage(std::string message) {
  return MakeError(ErrorKind::kInvalidArgument, "invalid_argument", std::move(message));
}

// stdout, or a file closed on destruction.
class Output {
 public:
  Output() = default;
  ~Output() {
    if (file_ != nullptr && file_ != stdout) std::fclose(file_);
  }
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  [[nodiscard]] Status Open(const std::string& path) {
    file_ = path.empty() || path == "-" ? stdout : std::fopen(path.c_str(), "wb");
    if (file_ == nullptr) {
      return Fail(ErrorKind::kUnavailable, "io_error",
                  "cannot open " + path + ": " + std::strerror(errno));
    }
    std::setvbuf(file_, nullptr, _IOFBF, kOutputBufferBytes);
    return Ok();
  }
  [[nodiscard]] bool Write(std::string_view bytes) {
    return std::fwrite(bytes.data(), 1, bytes.size(), file_) == bytes.size();
  }
  [[nodiscard]] bool Close() {
    const bool flushed = std::fflush(file_) == 0;
    if (file_ == stdout) return flushed;
    const bool closed = std::fclose(file_) == 0;
    file_ = nullptr;
    return flushed && closed;
  }

 private:
  std::FILE* file_ = nullptr;
};

struct Range {
  std::uint64_t from = 1;
  std::uint64_t to = 0;
};

// Writes events [range.from, range.to] in `format`; the count written, kCorruption for a
// damaged log, kUnavailable for I/O.
Result<std::uint64_t> Export(const Store& store, Range range, bool capnp, Output& out) {
  Progress progress(kVerb, range.to - range.from + 1, /*quiet=*/false);
  std::uint64_t next = range.from;
  std::string line;
  while (next <= range.to) {
    const auto limit = static_cast<std::size_t>(
        std::min<std::uint64_t>(kReplayBatchEventsMax, range.to - next + 1));
    auto events = store.ReadFrom(next, limit);
    if (!events) return std::unexpected(events.error());
    if (events->empty()) break;
    for (const StoredEvent& stored : *events) {
      line = capnp ? EncodeEventWithHash(stored.event) : transport::EventToJson(stored.event);
      if (!capnp) line.push_back('\n');
      if (!out.Write(line)) {
        return Fail(ErrorKind::kUnavailable, "io_error",
                    std::string("writing the export: ") + std::strerror(errno));
      }
    }
    next = events->back().event.envelope.position + 1;
    progress.Update(next - range.from);
  }
  progress.Finish(next - range.from);
  return next - range.from;
}

Result<Range> ParseRange(const Flags& flags, std::uint64_t head) {
  Range range{1, head};
  if (flags.Has("--from")) {
    auto from = ParsePositionFlag("--from", flags.Get("--from"));
    if (!from) return std::unexpected(from.error());
    range.from = std::max<std::uint64_t>(*from, 1);
  }
  if (flags.Has("--to")) {
    auto to = ParsePositionFlag("--to", flags.Get("--to"));
    if (!to) return std::unexpected(to.error());
    if (*to > head) {
      return std::unexpected(Usage("--to " + std::to_string(*to) + " is past the head " +
                                   std::to_string(head)));
    }
    range.to = *to;
  }
  if (range.from > range.to + 1) {
    return std::unexpected(Usage("--from is after --to"));
  }
  return range;
}

}  // namespace

int RunExport(std::span<char* const> args) {
  static constexpr std::string_view kWithValue[] = {"--data", "--from", "--to", "--format",
                                                    "--out"};
  auto flags = ParseFlags(args, kWithValue);
  if (!flags) return UsageError(kVerb, flags.error());
  if (!flags->Has("--data")) return UsageError(kVerb, Usage("--data DIR is required"));
  const std::string format = flags->Get("--format");
  if (format != "jsonl" && format != "capnp") {
    return UsageError(kVerb, Usage("--format must be jsonl or capnp"));
  }
  auto audit = AuditStore::Open(flags->Get("--data"));
  if (!audit) return CannotRun(kVerb, audit.error());
  if (auto refreshed = (*audit)->Refresh(); !refreshed) return CannotRun(kVerb, refreshed.error());
  const Store& store = (*audit)->store();
  auto range = ParseRange(*flags, store.HeadPosition());
  if (!range) return UsageError(kVerb, range.error());
  Output out;
  if (auto opened = out.Open(flags->Get("--out")); !opened) return CannotRun(kVerb, opened.error());
  auto written = Export(store, *range, format == "capnp", out);
  if (!written) {
    std::fprintf(stderr, "ledger-replay export: %s\n", written.error().message.c_str());
    return written.error().kind == ErrorKind::kCorruption ? kExitFinding : kExitCannotRun;
  }
  if (!out.Close()) {
    return CannotRun(kVerb, MakeError(ErrorKind::kUnavailable, "io_error",
                                      std::string("writing the export: ") + std::strerror(errno)));
  }
  std::fprintf(stderr, "ledger-replay export: %llu events (positions %llu..%llu) as %s\n",
               static_cast<unsigned long long>(*written),
               static_cast<unsigned long long>(range->from),
               static_cast<unsigned long long>(range->from + *written - 1), format.c_str());
  return kExitOk;
}

}  // namespace ledger::replay
