// The command line of ledgerd and ledger-tail: "--name value" or "--name=value" pairs; --help or
// -h prints the usage and exits 0. Only for the binaries in transport/bin/.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace ledger::cli {

// Calls `apply(name, value)` for every flag, in order; `apply` returns false for an invalid
// value. `usage_error(message)` must not return.
template <typename Apply, typename UsageError>
void ParseFlags(int argc, char** argv, std::string_view usage, Apply apply,
                UsageError usage_error) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fwrite(usage.data(), 1, usage.size(), stdout);
      std::exit(0);
    }
    std::string_view name = arg;
    std::optional<std::string_view> value;
    if (const std::size_t equals = arg.find('=');
        arg.starts_with("--") && equals != std::string_view::npos) {
      name = arg.substr(0, equals);
      value = arg.substr(equals + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    }
    if (!arg.starts_with("--")) usage_error("unexpected argument " + std::string(arg));
    if (!value) usage_error("flag " + std::string(name) + " needs a value");
    if (!apply(name, *value)) {
      usage_error("invalid value for " + std::string(name) + ": '" + std::string(*value) + "'");
    }
  }
}

}  // namespace ledger::cli
