// ledger-replay: the audit tool. Verifies the log, rebuilds and reconciles projections, answers
// point-in-time questions and exports events, from the log alone (docs/audit.md).
#include <cstdio>
#include <span>
#include <string>
#include <string_view>

#include "replay/audit.h"

namespace {

constexpr std::string_view kUsage =
    "usage: ledger-replay <verb> --data DIR [options]\n"
    "\n"
    "  verify     [--json]                                   check the whole log\n"
    "  rebuild    --projection NAME|all --out DIR [--json]   projections from position 0\n"
    "  reconcile  [--projection NAME|all] [--repair] [--json] replay vs live projections\n"
    "  balances   (--at-position N | --at TIME) [--account A] [--json]\n"
    "  statement  --merchant M --period day|month|year --at TIME [--from TIME] [--json]\n"
    "  export     [--from N] [--to M] --format jsonl|capnp [--out FILE]\n"
    "\n"
    "Exit codes: 0 ok, 1 the audit found a problem, 2 usage error, 3 could not run.\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace ledger::replay;
  if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h") {
    std::fwrite(kUsage.data(), 1, kUsage.size(), argc < 2 ? stderr : stdout);
    return argc < 2 ? kExitUsage : kExitOk;
  }
  const std::string_view verb = argv[1];
  const std::span<char* const> args(argv + 2, static_cast<std::size_t>(argc - 2));
  if (verb == "verify") return RunVerify(args);
  if (verb == "rebuild") return RunRebuild(args);
  if (verb == "reconcile") return RunReconcile(args);
  if (verb == "balances") return RunBalances(args);
  if (verb == "statement") return RunStatement(args);
  if (verb == "export") return RunExport(args);
  std::fprintf(stderr, "ledger-replay: unknown verb '%.*s'\n\n%.*s", static_cast<int>(verb.size()),
               verb.data(), static_cast<int>(kUsage.size()), kUsage.data());
  return kExitUsage;
}
