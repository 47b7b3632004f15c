#include "transport/url.h"

#include <algorithm>
#include <charconv>

#include "ledger/event.h"

namespace ledger::transport {
Result<std::string> PercentDecode(std::string_view text) {
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      decoded.push_back(text[i]);
      continue;
    }
    const int high = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
    const int low = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
    if (high < 0 || low < 0) {
      return Fail(ErrorKind::kInvalidArgument, "invalid_argument",
                  "invalid percent-escape in '" + std::string(text.substr(0, 128)) + "'");
    }
    decoded.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return decoded;
}

Target SplitTarget(std::string_view target) {
  const std::size_t question = target.find('?');
  if (question == std::string_view::npos) return {target, {}};
  return {target.substr(0, question), target.substr(question + 1)};
}

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) return segments;
  while (true) {
    const std::size_t slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return segments;
    path.remove_prefix(slash + 1);
  }
}

Result<std::vector<std::pair<std::string, std::string>>> ParseQuery(
    std::string_view query, std::span<const std::string_view> allowed) {
  std::vector<std::pair<std::string, std::string>> params;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    const std::size_t equals = part.find('=');
    auto name = PercentDecode(part.substr(0, equals));
    if (!name) return std::unexpected(name.error());
    auto value = PercentDecode(equals == std::string_view::npos ? "" : part.substr(equals + 1));
    if (!value) return std::unexpected(value.error());
    if (std::find(allowed.begin(), allowed.end(), *name) == allowed.end()) {
      return Fail(ErrorKind::kInvalidArgument, "invalid_argument",
                  "unknown query parameter '" + name->substr(0, 64) + "'");
    }
    for (const auto& [seen, unused] : params) {
      if (seen == *name) {
        return Fail(ErrorKind::kInvalidArgument, "invalid_argument",
                    "query parameter '" + seen + "' given twice");
      }
    }
    params.emplace_back(std::move(*name), std::move(*value));
  }
  return params;
}

bool ParseUnsigned(std::string_view text, std::uint64_t* value) {
  if (text.empty() || text.front() < '0' || text.front() > '9') return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace ledger::transport
