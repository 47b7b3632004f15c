#include "transport/request_ids.h"

#include <string>

#include "ledger/limits.h"

namespace ledger::transport {

bool IsValidUtf8(std::string_view text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t size = text.size();
  std::size_t i = 0;
  while (i < size) {
    const unsigned char lead = bytes[i];
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    std::uint32_t code_point = 0;
    std::uint32_t minimum = 0;
    if ((lead & 0xe0) == 0xc0) {
      length = 2, code_point = lead & 0x1f, minimum = 0x80;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3, code_point = lead & 0x0f, minimum = 0x800;
    } else if ((lead & 0xf8) == 0xf0) {
      length = 4, code_point = lead & 0x07, minimum = 0x10000;
    } else {
      return false;  // A continuation byte or 0xf8..0xff where a character must start.
    }
    if (size - i < length) return false;
    for (std::size_t k = 1; k < length; ++k) {
      if ((bytes[i + k] & 0xc0) != 0x80) return false;
      code_point = (code_point << 6) | (bytes[i + k] & 0x3f);
    }
    if (code_point < minimum || code_point > 0x10ffff ||
        (code_point >= 0xd800 && code_point <= 0xdfff)) {
      return false;
    }
    i += length;
  }
  return true;
}

Status CheckRequestId(std::string_view what, std::string_view value, std::size_t max_bytes) {
  bool printable = !value.empty() && value.size() <= max_bytes;
  for (const char c : value) printable = printable && c >= 0x20 && c <= 0x7e;
  if (printable) return Ok();
  return Fail(ErrorKind::kInvalidArgument, "invalid_argument",
              std::string(what) + " must be 1.." + std::to_string(max_bytes) +
                  " printable ASCII characters");
}

Result<commands::CommandContext> MakeCommandContext(const Client& client, const RequestIds& ids,
                                                    const RequestIdNames& names) {
  commands::CommandContext context;
  context.client_id = client.client_id;
  context.is_admin = client.IsAdmin();
  const auto take = [](const std::optional<std::string_view>& value, std::string_view what,
                       std::size_t max_bytes, std::string& out) -> Status {
    if (!value) return Ok();
    if (auto checked = CheckRequestId(what, *value, max_bytes); !checked) return checked;
    out.assign(value->data(), value->size());
    return Ok();
  };
  Status status = take(ids.idempotency_key, names.idempotency_key, kIdempotencyKeyBytesMax,
                       context.idempotency_key);
  if (status) {
    status = take(ids.correlation_id, names.correlation_id, kCorrelationIdBytesMax,
                  context.correlation_id);
  }
  if (status) {
    status = take(ids.causation_id, names.causation_id, kCorrelationIdBytesMax,
                  context.causation_id);
  }
  if (!status) return std::unexpected(std::move(status.error()));
  return context;
}

}  // namespace ledger::transport
