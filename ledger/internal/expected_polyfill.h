// std::expected for a standard library that has <expected> but cannot offer it to the compiler
// in use: clang 14 with Debian 12's libstdc++ 12, which hides std::expected because clang 14
// lacks C++20's conditionally trivial special members (P0848). clang 14 is the compiler of the
// libFuzzer and sanitizer builds (scripts/sanitize.sh); the production build (g++ 12) never
// includes this file and uses libstdc++'s own std::expected.
//
// It declares names in namespace std, which the standard reserves: that is deliberate and
// confined to a toolchain that has no such names, so the code is written against std::expected
// once. It covers what the ledger uses (the C++23 interface minus the monadic operations and
// conversions between expected types) and is tested by tests/ledger/expected_polyfill_test.cc
// in every build.
#pragma once

#include <exception>
#include <initializer_list>
#include <memory>
#include <type_traits>
#include <utility>

namespace std {

template <typename E>
class unexpected {
 public:
  template <typename Err = E>
    requires(!is_same_v<remove_cvref_t<Err>, unexpected> &&
             !is_same_v<remove_cvref_t<Err>, in_place_t> && is_constructible_v<E, Err>)
  constexpr explicit unexpected(Err&& error) : error_(std::forward<Err>(error)) {}

  constexpr const E& error() const& noexcept { return error_; }
  constexpr E& error() & noexcept { return error_; }
  constexpr E&& error() && noexcept { return std::move(error_); }

  template <typename G>
  friend constexpr bool operator==(const unexpected& a, const unexpected<G>& b) {
    return a.error() == b.error();
  }

 private:
  E error_;
};

template <typename E>
unexpected(E) -> unexpected<E>;

struct unexpect_t {
  explicit unexpect_t() = default;
};
inline constexpr unexpect_t unexpect{};

template <typename E>
class bad_expected_access;

template <>
class bad_expected_access<void> : public exception {
 public:
  const char* what() const noexcept override { return "bad access to std::expected without value"; }
};

template <typename E>
class bad_expected_access : public bad_expected_access<void> {
 public:
  explicit bad_expected_access(E error) : error_(std::move(error)) {}
  const E& error() const& noexcept { return error_; }

 private:
  E error_;
};

namespace expected_polyfill {
template <typename T>
inline constexpr bool kIsUnexpected = false;
template <typename E>
inline constexpr bool kIsUnexpected<unexpected<E>> = true;
}  // namespace expected_polyfill

template <typename T, typename E>
class expected {
 public:
  using value_type = T;
  using error_type = E;
  using unexpected_type = unexpected<E>;

  constexpr expected()
    requires is_default_constructible_v<T>
      : value_(), has_value_(true) {}

  template <typename U = T>
    requires(!is_same_v<remove_cvref_t<U>, expected> &&
             !is_same_v<remove_cvref_t<U>, in_place_t> &&
             !expected_polyfill::kIsUnexpected<remove_cvref_t<U>> && is_constructible_v<T, U>)
  constexpr explicit(!is_convertible_v<U, T>) expected(U&& value)
      : value_(std::forward<U>(value)), has_value_(true) {}

  template <typename G>
    requires is_constructible_v<E, const G&>
  constexpr explicit(!is_convertible_v<const G&, E>) expected(const unexpected<G>& error)
      : error_(error.error()), has_value_(false) {}

  template <typename G>
    requires is_constructible_v<E, G>
  constexpr explicit(!is_convertible_v<G, E>) expected(unexpected<G>&& error)
      : error_(std::move(error).error()), has_value_(false) {}

  template <typename... Args>
  constexpr explicit expected(in_place_t, Args&&... args)
      : value_(std::forward<Args>(args)...), has_value_(true) {}

  template <typename... Args>
  constexpr explicit expected(unexpect_t, Args&&... args)
      : error_(std::forward<Args>(args)...), has_value_(false) {}

  expected(const expected& other) : has_value_(other.has_value_) {
    if (has_value_) {
      std::construct_at(std::addressof(value_), other.value_);
    } else {
      std::construct_at(std::addressof(error_), other.error_);
    }
  }

  expected(expected&& other) noexcept(is_nothrow_move_constructible_v<T> &&
                                      is_nothrow_move_constructible_v<E>)
      : has_value_(other.has_value_) {
    if (has_value_) {
      std::construct_at(std::addressof(value_), std::move(other.value_));
    } else {
      std::construct_at(std::addressof(error_), std::move(other.error_));
    }
  }

  expected& operator=(const expected& other) {
    if (this != &other) Assign(other);
    return *this;
  }
  expected& operator=(expected&& other) noexcept(is_nothrow_move_constructible_v<T> &&
                                                 is_nothrow_move_constructible_v<E>) {
    if (this != &other) Assign(std::move(other));
    return *this;
  }
  template <typename U = T>
    requires(!is_same_v<remove_cvref_t<U>, expected> &&
             !expected_polyfill::kIsUnexpected<remove_cvref_t<U>> && is_constructible_v<T, U>)
  expected& operator=(U&& value) {
    Destroy();
    std::construct_at(std::addressof(value_), std::forward<U>(value));
    has_value_ = true;
    return *this;
  }
  template <typename G>
  expected& operator=(const unexpected<G>& error) {
    Destroy();
    std::construct_at(std::addressof(error_), error.error());
    has_value_ = false;
    return *this;
  }
  template <typename G>
  expected& operator=(unexpected<G>&& error) {
    Destroy();
    std::construct_at(std::addressof(error_), std::move(error).error());
    has_value_ = false;
    return *this;
  }

  ~expected() { Destroy(); }

  template <typename... Args>
  T& emplace(Args&&... args) {
    Destroy();
    std::construct_at(std::addressof(value_), std::forward<Args>(args)...);
    has_value_ = true;
    return value_;
  }

  constexpr bool has_value() const noexcept { return has_value_; }
  constexpr explicit operator bool() const noexcept { return has_value_; }

  constexpr const T* operator->() const noexcept { return std::addressof(value_); }
  constexpr T* operator->() noexcept { return std::addressof(value_); }
  constexpr const T& operator*() const& noexcept { return value_; }
  constexpr T& operator*() & noexcept { return value_; }
  constexpr T&& operator*() && noexcept { return std::move(value_); }

  constexpr const T& value() const& {
    if (!has_value_) throw bad_expected_access<E>(error_);
    return value_;
  }
  constexpr T& value() & {
    if (!has_value_) throw bad_expected_access<E>(error_);
    return value_;
  }
  constexpr T&& value() && {
    if (!has_value_) throw bad_expected_access<E>(std::move(error_));
    return std::move(value_);
  }

  constexpr const E& error() const& noexcept { return error_; }
  constexpr E& error() & noexcept { return error_; }
  constexpr E&& error() && noexcept { return std::move(error_); }

  template <typename U>
  constexpr T value_or(U&& fallback) const& {
    return has_value_ ? value_ : static_cast<T>(std::forward<U>(fallback));
  }
  template <typename U>
  constexpr T value_or(U&& fallback) && {
    return has_value_ ? std::move(value_) : static_cast<T>(std::forward<U>(fallback));
  }

  template <typename U>
    requires(!is_same_v<remove_cvref_t<U>, expected> &&
             !expected_polyfill::kIsUnexpected<remove_cvref_t<U>>)
  friend constexpr bool operator==(const expected& a, const U& value) {
    return a.has_value() && *a == value;
  }
  template <typename G>
  friend constexpr bool operator==(const expected& a, const unexpected<G>& error) {
    return !a.has_value() && a.error() == error.error();
  }
  friend constexpr bool operator==(const expected& a, const expected& b) {
    if (a.has_value() != b.has_value()) return false;
    return a.has_value() ? *a == *b : a.error() == b.error();
  }

 private:
  void Destroy() noexcept {
    if (has_value_) {
      std::destroy_at(std::addressof(value_));
    } else {
      std::destroy_at(std::addressof(error_));
    }
  }
  template <typename Other>
  void Assign(Other&& other) {
    // Strong enough for the ledger's types, whose moves do not throw: destroy, then construct.
    Destroy();
    has_value_ = other.has_value_;
    if (has_value_) {
      std::construct_at(std::addressof(value_), std::forward<Other>(other).value_);
    } else {
      std::construct_at(std::addressof(error_), std::forward<Other>(other).error_);
    }
  }

  union {
    T value_;
    E error_;
  };
  bool has_value_;
};

template <typename E>
class expected<void, E> {
 public:
  using value_type = void;
  using error_type = E;
  using unexpected_type = unexpected<E>;

  constexpr expected() noexcept : has_value_(true) {}

  template <typename G>
    requires is_constructible_v<E, const G&>
  constexpr explicit(!is_convertible_v<const G&, E>) expected(const unexpected<G>& error)
      : error_(error.error()), has_value_(false) {}

  template <typename G>
    requires is_constructible_v<E, G>
  constexpr explicit(!is_convertible_v<G, E>) expected(unexpected<G>&& error)
      : error_(std::move(error).error()), has_value_(false) {}

  constexpr explicit expected(in_place_t) noexcept : has_value_(true) {}

  template <typename... Args>
  constexpr explicit expected(unexpect_t, Args&&... args)
      : error_(std::forward<Args>(args)...), has_value_(false) {}

  expected(const expected& other) : has_value_(other.has_value_) {
    if (!has_value_) std::construct_at(std::addressof(error_), other.error_);
  }
  expected(expected&& other) noexcept(is_nothrow_move_constructible_v<E>)
      : has_value_(other.has_value_) {
    if (!has_value_) std::construct_at(std::addressof(error_), std::move(other.error_));
  }
  expected& operator=(const expected& other) {
    if (this != &other) Assign(other);
    return *this;
  }
  expected& operator=(expected&& other) noexcept(is_nothrow_move_constructible_v<E>) {
    if (this != &other) Assign(std::move(other));
    return *this;
  }
  template <typename G>
  expected& operator=(const unexpected<G>& error) {
    Destroy();
    std::construct_at(std::addressof(error_), error.error());
    has_value_ = false;
    return *this;
  }
  template <typename G>
  expected& operator=(unexpected<G>&& error) {
    Destroy();
    std::construct_at(std::addressof(error_), std::move(error).error());
    has_value_ = false;
    return *this;
  }

  ~expected() { Destroy(); }

  void emplace() noexcept {
    Destroy();
    has_value_ = true;
  }

  constexpr bool has_value() const noexcept { return has_value_; }
  constexpr explicit operator bool() const noexcept { return has_value_; }
  constexpr void operator*() const noexcept {}

  void value() const& {
    if (!has_value_) throw bad_expected_access<E>(error_);
  }
  void value() && {
    if (!has_value_) throw bad_expected_access<E>(std::move(error_));
  }

  constexpr const E& error() const& noexcept { return error_; }
  constexpr E& error() & noexcept { return error_; }
  constexpr E&& error() && noexcept { return std::move(error_); }

  template <typename G>
  friend constexpr bool operator==(const expected& a, const unexpected<G>& error) {
    return !a.has_value() && a.error() == error.error();
  }
  friend constexpr bool operator==(const expected& a, const expected& b) {
    if (a.has_value() != b.has_value()) return false;
    return a.has_value() || a.error() == b.error();
  }

 private:
  void Destroy() noexcept {
    if (!has_value_) std::destroy_at(std::addressof(error_));
  }
  template <typename Other>
  void Assign(Other&& other) {
    Destroy();
    has_value_ = other.has_value_;
    if (!has_value_) std::construct_at(std::addressof(error_), std::forward<Other>(other).error_);
  }

  union {
    E error_;
  };
  bool has_value_;
};

}  // namespace std
