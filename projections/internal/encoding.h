// Byte encodings shared by the projections' view values and keys. Values use native-endian
// fixed-width integers (the stored formats are defined by these bytes, so do not change them);
// keys use big-endian so that byte order is numeric order. The 64-bit big-endian helpers are
// AppendBigEndian64/ReadBigEndian64 of ledger/store.h, included here.
#pragma once

#include <concepts>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "ledger/store.h"

namespace ledger::projections::internal {

// Appends the native-endian bytes of `value` to `*out`.
template <std::integral T>
void AppendFixed(T value, std::string* out) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out->append(bytes, sizeof(T));
}

// Reads a value written by AppendFixed from the front of `*in` and drops it from `*in`; false,
// with both left alone, if `*in` is too short.
template <std::integral T>
[[nodiscard]] bool ReadFixed(std::string_view* in, T* value) {
  if (in->size() < sizeof(T)) return false;
  std::memcpy(value, in->data(), sizeof(T));
  in->remove_prefix(sizeof(T));
  return true;
}

// Appends `text` after its size as a fixed-width `Size`; the caller keeps the size in range.
template <std::unsigned_integral Size>
void AppendSized(std::string_view text, std::string* out) {
  AppendFixed(static_cast<Size>(text.size()), out);
  out->append(text);
}

// Reads a string written by AppendSized<Size> from the front of `*in` into `*out` and drops it
// from `*in`; false, with `*in` partly consumed, if `*in` is too short.
template <std::unsigned_integral Size>
[[nodiscard]] bool ReadSized(std::string_view* in, std::string* out) {
  Size size = 0;
  if (!ReadFixed(in, &size) || in->size() < size) return false;
  out->assign(in->substr(0, size));
  in->remove_prefix(size);
  return true;
}

// Appends the 4 big-endian bytes of `value` to `*out`.
inline void AppendBigEndian32(std::uint32_t value, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

// The value of the 4 big-endian bytes at `bytes`, which the caller has checked are there.
[[nodiscard]] inline std::uint32_t ReadBigEndian32(const char* bytes) {
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

}  // namespace ledger::projections::internal
