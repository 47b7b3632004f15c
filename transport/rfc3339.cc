#include "transport/rfc3339.h"

#include <cstdint>
#include <cstdio>

namespace ledger::transport {
namespace {

constexpr std::int64_t kMicrosPerSecond = 1'000'000;
constexpr std::int64_t kSecondsPerDay = 86'400;

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t DaysFromCivil(std::int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

struct CivilDate {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

// The inverse of DaysFromCivil (Hinnant's civil_from_days).
CivilDate CivilFromDays(std::int64_t days) {
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned mp = (5 * day_of_year + 2) / 153;
  const unsigned day = day_of_year - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = static_cast<std::int64_t>(year_of_era) + era * 400 + (month <= 2);
  return {year, month, day};
}

bool IsLeapYear(std::int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

unsigned DaysInMonth(std::int64_t year, unsigned month) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

// Reads exactly `count` decimal digits at `*pos`, advancing it; false if any is not a digit.
bool ReadDigits(std::string_view text, std::size_t* pos, std::size_t count, unsigned* value) {
  if (text.size() - *pos < count) return false;
  unsigned result = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const char c = text[*pos + i];
    if (c < '0' || c > '9') return false;
    result = result * 10 + static_cast<unsigned>(c - '0');
  }
  *pos += count;
  *value = result;
  return true;
}

bool Expect(std::string_view text, std::size_t* pos, char a, char b = '\0') {
  if (*pos >= text.size()) return false;
  const char c = text[*pos];
  if (c != a && (b == '\0' || c != b)) return false;
  ++*pos;
  return true;
}

std::unexpected<Error> Invalid(std::string_view text, std::string_view why) {
  return Fail(
      ErrorKind::kInvalidArgument, "invalid_argument",
      "invalid RFC 3339 timestamp '" + std::string(text.substr(0, 64)) + "': " + std::string(why));
}

// Fractional seconds after the '.', 1..6 digits, scaled to microseconds.
bool ReadFraction(std::string_view text, std::size_t* pos, std::int64_t* micros) {
  std::size_t digits = 0;
  std::int64_t value = 0;
  while (*pos < text.size() && text[*pos] >= '0' && text[*pos] <= '9') {
    if (++digits > 6) return false;
    value = value * 10 + (text[*pos] - '0');
    ++*pos;
  }
  if (digits == 0) return false;
  for (std::size_t i = digits; i < 6; ++i) value *= 10;
  *micros = value;
  return true;
}

// "Z" or "+hh:mm"/"-hh:mm" at the end of the text, as seconds east of UTC.
bool ReadOffset(std::string_view text, std::size_t* pos, std::int64_t* offset_seconds) {
  if (Expect(text, pos, 'Z', 'z')) {
    *offset_seconds = 0;
    return true;
  }
  if (*pos >= text.size() || (text[*pos] != '+' && text[*pos] != '-')) return false;
  const std::int64_t sign = text[*pos] == '-' ? -1 : 1;
  ++*pos;
  unsigned hours = 0;
  unsigned minutes = 0;
  if (!ReadDigits(text, pos, 2, &hours) || !Expect(text, pos, ':') ||
      !ReadDigits(text, pos, 2, &minutes) || hours > 23 || minutes > 59) {
    return false;
  }
  *offset_seconds = sign * (static_cast<std::int64_t>(hours) * 3600 + minutes * 60);
  return true;
}

}  // namespace

Result<TimestampUs> ParseRfc3339(std::string_view text) {
  std::size_t pos = 0;
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!ReadDigits(text, &pos, 4, &year) || !Expect(text, &pos, '-') ||
      !ReadDigits(text, &pos, 2, &month) || !Expect(text, &pos, '-') ||
      !ReadDigits(text, &pos, 2, &day) || !Expect(text, &pos, 'T', 't') ||
      !ReadDigits(text, &pos, 2, &hour) || !Expect(text, &pos, ':') ||
      !ReadDigits(text, &pos, 2, &minute) || !Expect(text, &pos, ':') ||
      !ReadDigits(text, &pos, 2, &second)) {
    return Invalid(text, "expected YYYY-MM-DDTHH:MM:SS");
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) {
    return Invalid(text, "no such date");
  }
  if (hour > 23 || minute > 59 || second > 59) return Invalid(text, "no such time of day");
  std::int64_t micros = 0;
  if (Expect(text, &pos, '.') && !ReadFraction(text, &pos, &micros)) {
    return Invalid(text, "fractional seconds must have 1 to 6 digits");
  }
  std::int64_t offset_seconds = 0;
  if (!ReadOffset(text, &pos, &offset_seconds) || pos != text.size()) {
    return Invalid(text, "expected 'Z' or a +hh:mm offset at the end");
  }
  const std::int64_t seconds = DaysFromCivil(year, month, day) * kSecondsPerDay + hour * 3600 +
                               minute * 60 + second - offset_seconds;
  // In UTC the instant must still be a four-digit year, so FormatRfc3339 can write it back.
  const std::int64_t kFirstSecond = DaysFromCivil(0, 1, 1) * kSecondsPerDay;
  const std::int64_t kLastSecond = DaysFromCivil(9999, 12, 31) * kSecondsPerDay + kSecondsPerDay - 1;
  if (seconds < kFirstSecond || seconds > kLastSecond) {
    return Invalid(text, "must lie between 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z in UTC");
  }
  return seconds * kMicrosPerSecond + micros;
}

std::string FormatRfc3339(TimestampUs timestamp_us) {
  std::int64_t seconds = timestamp_us / kMicrosPerSecond;
  std::int64_t micros = timestamp_us % kMicrosPerSecond;
  if (micros < 0) {
    micros += kMicrosPerSecond;
    --seconds;
  }
  std::int64_t days = seconds / kSecondsPerDay;
  std::int64_t second_of_day = seconds % kSecondsPerDay;
  if (second_of_day < 0) {
    second_of_day += kSecondsPerDay;
    --days;
  }
  const CivilDate date = CivilFromDays(days);
  char buffer[64];
  const int length = std::snprintf(
      buffer, sizeof buffer, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ",
      static_cast<long long>(date.year), date.month, date.day,
      static_cast<long long>(second_of_day / 3600), static_cast<long long>(second_of_day / 60 % 60),
      static_cast<long long>(second_of_day % 60), static_cast<long long>(micros));
  return std::string(buffer, static_cast<std::size_t>(length));
}

}  // namespace ledger::transport
