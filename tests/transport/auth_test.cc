#include "transport/auth.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "ledger/limits.h"
#include "tests/support/temp_dir.h"
#include "transport/rate_limiter.h"

namespace ledger::transport {
namespace {

constexpr std::string_view kWriterToken = "writer-token-0123456789";
constexpr std::string_view kReaderToken = "reader-token-0123456789";
constexpr std::string_view kAdminToken = "admin-token-0123456789";

std::unique_ptr<Authenticator> ParseOk(std::string_view text) {
  auto auth = Authenticator::Parse(text, "tokens", 0);
  EXPECT_TRUE(auth.has_value()) << (auth ? "" : auth.error().message);
  return auth ? std::move(*auth) : nullptr;
}

std::string ParseError(std::string_view text) {
  auto auth = Authenticator::Parse(text, "tokens", 0);
  EXPECT_FALSE(auth.has_value()) << text;
  if (auth) return "";
  EXPECT_EQ(auth.error().code, "invalid_tokens_file");
  EXPECT_EQ(auth.error().message.find(kWriterToken), std::string::npos) << "token leaked";
  return auth.error().message;
}

TEST(AuthenticatorTest, ParsesClientsRolesAndComments) {
  auto auth = ParseOk(
      "# the clients\n"
      "\n"
      "writer-token-0123456789 shop writer   # the shop\n"
      "  reader-token-0123456789\tauditor reader\r\n"
      "admin-token-0123456789 ops admin,reader rate=5/10\n");
  ASSERT_NE(auth, nullptr);
  EXPECT_EQ(auth->ClientCount(), 3u);

  const Client* writer = auth->Authenticate(kWriterToken);
  ASSERT_NE(writer, nullptr);
  EXPECT_EQ(writer->client_id, "shop");
  EXPECT_TRUE(writer->CanWrite());
  EXPECT_TRUE(writer->CanRead());
  EXPECT_FALSE(writer->IsAdmin());
  EXPECT_EQ(writer->limiter, nullptr);

  const Client* reader = auth->Authenticate(kReaderToken);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->client_id, "auditor");
  EXPECT_FALSE(reader->CanWrite());
  EXPECT_TRUE(reader->CanRead());

  const Client* admin = auth->Authenticate(kAdminToken);
  ASSERT_NE(admin, nullptr);
  EXPECT_TRUE(admin->IsAdmin());
  EXPECT_TRUE(admin->CanWrite());
  ASSERT_NE(admin->limiter, nullptr);
  EXPECT_DOUBLE_EQ(admin->limiter->limit().per_second, 5);
  EXPECT_DOUBLE_EQ(admin->limiter->limit().burst, 10);
}

TEST(AuthenticatorTest, UnknownTokensAreRefused) {
  auto auth = ParseOk("writer-token-0123456789 shop writer\n");
  ASSERT_NE(auth, nullptr);
  EXPECT_EQ(auth->Authenticate(""), nullptr);
  EXPECT_EQ(auth->Authenticate("writer-token-012345678"), nullptr);
  EXPECT_EQ(auth->Authenticate("writer-token-01234567890"), nullptr);
  EXPECT_EQ(auth->Authenticate("WRITER-token-0123456789"), nullptr);
}

TEST(AuthenticatorTest, MalformedLinesNameTheLine) {
  const std::string ok = "writer-token-0123456789 shop writer\n";
  EXPECT_EQ(ParseError(ok + "\n# c\nonly-two-words-here-xx shop\n"),
            "tokens line 4: expected '<token> <client-id> <role>[,<role>...] [rate=N[/B]]'");
  EXPECT_EQ(ParseError(ok + "admin-token-0123456789 ops admin rate=1 extra\n").substr(0, 13),
            "tokens line 2");
  EXPECT_EQ(ParseError(ok + "admin-token-0123456789 ops root\n"),
            "tokens line 2: unknown role 'root' (roles: writer, reader, admin)");
  EXPECT_EQ(ParseError(ok + "admin-token-0123456789 ops admin,\n"),
            "tokens line 2: unknown role '' (roles: writer, reader, admin)");
  EXPECT_EQ(ParseError(ok + "short shop2 writer\n"),
            "tokens line 2: token must be at least 16 printable characters");
  EXPECT_EQ(ParseError(ok + "admin-token-0123456789 bad/id admin\n").substr(0, 25),
            "tokens line 2: client id ");
  EXPECT_EQ(ParseError(ok + "admin-token-0123456789 " + std::string(kClientIdBytesMax + 1, 'a') +
                       " admin\n")
                .substr(0, 25),
            "tokens line 2: client id ");
  EXPECT_EQ(ParseError(ok + ok), "tokens line 2: duplicate token");
  EXPECT_EQ(ParseError(ok + "admin-token-0123456789 shop admin\n"),
            "tokens line 2: duplicate client id 'shop' (first on line 1)");
  for (const char* rate : {"rate=", "rate=0", "rate=-1", "rate=x", "rate=1/0", "rate=1/0.5",
                           "rate=1/", "limit=5", "rate=1/2/3"}) {
    EXPECT_EQ(ParseError(ok + "admin-token-0123456789 ops admin " + rate + "\n").substr(0, 30),
              "tokens line 2: expected rate=<")
        << rate;
  }
  EXPECT_EQ(ParseError("# nothing\n\n"), "tokens: defines no client");
}

TEST(AuthenticatorTest, RateDefaultsBurstToTheRate) {
  auto auth = ParseOk(
      "writer-token-0123456789 shop writer rate=0.5\n"
      "admin-token-0123456789 ops admin rate=20\n");
  ASSERT_NE(auth, nullptr);
  EXPECT_DOUBLE_EQ(auth->Authenticate(kWriterToken)->limiter->limit().burst, 1);
  EXPECT_DOUBLE_EQ(auth->Authenticate(kAdminToken)->limiter->limit().burst, 20);
}

TEST(AuthenticatorTest, BearerTokenParsing) {
  EXPECT_EQ(Authenticator::BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(Authenticator::BearerToken("bearer  abc "), "abc");
  EXPECT_EQ(Authenticator::BearerToken("BEARER abc"), "abc");
  EXPECT_FALSE(Authenticator::BearerToken("Basic abc").has_value());
  EXPECT_FALSE(Authenticator::BearerToken("Bearer").has_value());
  EXPECT_FALSE(Authenticator::BearerToken("Bearer   ").has_value());
  EXPECT_FALSE(Authenticator::BearerToken("abc").has_value());
}

TEST(AuthenticatorTest, LoadsFilesAndReportsMissingOnes) {
  testing::TempDir dir;
  std::ofstream(dir.Sub("tokens")) << "writer-token-0123456789 shop writer\n";
  auto auth = Authenticator::LoadFile(dir.Sub("tokens"), 0);
  ASSERT_TRUE(auth.has_value());
  EXPECT_NE((*auth)->Authenticate(kWriterToken), nullptr);
  auto missing = Authenticator::LoadFile(dir.Sub("nope"), 0);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().kind, ErrorKind::kUnavailable);
}

TEST(DefaultTokensFileTest, CreatesAPrivateAdminTokenOnce) {
  testing::TempDir dir;
  const std::string path = dir.Sub("tokens");
  ASSERT_EQ(CreateDefaultTokensFile(path).value(), true);
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);

  std::ifstream file(path);
  std::stringstream contents;
  contents << file.rdbuf();
  const std::string text = contents.str();
  auto auth = Authenticator::Parse(text, path, 0);
  ASSERT_TRUE(auth.has_value()) << auth.error().message;
  ASSERT_EQ((*auth)->ClientCount(), 1u);
  // The one token is 64 lowercase hex characters.
  const std::size_t line_start = text.find('\n') + 1;
  const std::string token = text.substr(line_start, text.find(' ', line_start) - line_start);
  EXPECT_EQ(token.size(), 64u);
  EXPECT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos);
  const Client* admin = (*auth)->Authenticate(token);
  ASSERT_NE(admin, nullptr);
  EXPECT_EQ(admin->client_id, "admin");
  EXPECT_TRUE(admin->IsAdmin());

  ASSERT_EQ(CreateDefaultTokensFile(path).value(), false);  // Exists: left alone.
  std::ifstream again(path);
  std::stringstream after;
  after << again.rdbuf();
  EXPECT_EQ(after.str(), text);
}

TEST(DefaultTokensFileTest, TokensDiffer) {
  testing::TempDir dir;
  ASSERT_TRUE(CreateDefaultTokensFile(dir.Sub("a")).value());
  ASSERT_TRUE(CreateDefaultTokensFile(dir.Sub("b")).value());
  std::ifstream a(dir.Sub("a")), b(dir.Sub("b"));
  std::stringstream text_a, text_b;
  text_a << a.rdbuf();
  text_b << b.rdbuf();
  EXPECT_NE(text_a.str(), text_b.str());
}

// --- Rate limiter ----------------------------------------------------------------------------

TEST(RateLimiterTest, AllowsTheBurstThenRefillsAtTheRate) {
  RateLimiter limiter(RateLimit{2, 3}, 0);
  EXPECT_EQ(limiter.TryAcquire(0), 0);
  EXPECT_EQ(limiter.TryAcquire(0), 0);
  EXPECT_EQ(limiter.TryAcquire(0), 0);
  EXPECT_EQ(limiter.TryAcquire(0), 1);  // Half a second until the next token: Retry-After 1.
  EXPECT_EQ(limiter.TryAcquire(499'999), 1);
  EXPECT_EQ(limiter.TryAcquire(500'000), 0);
  EXPECT_EQ(limiter.TryAcquire(500'000), 1);
  // A long pause refills only up to the burst.
  EXPECT_EQ(limiter.TryAcquire(100'000'000), 0);
  EXPECT_EQ(limiter.TryAcquire(100'000'000), 0);
  EXPECT_EQ(limiter.TryAcquire(100'000'000), 0);
  EXPECT_EQ(limiter.TryAcquire(100'000'000), 1);
}

TEST(RateLimiterTest, RetryAfterCoversSlowRates) {
  RateLimiter limiter(RateLimit{0.1, 1}, 0);
  EXPECT_EQ(limiter.TryAcquire(0), 0);
  EXPECT_EQ(limiter.TryAcquire(0), 10);
  EXPECT_EQ(limiter.TryAcquire(5'000'000), 5);
  EXPECT_EQ(limiter.TryAcquire(10'000'000), 0);
}

TEST(RateLimiterTest, ClockGoingBackwardsDoesNotMint) {
  RateLimiter limiter(RateLimit{1, 1}, 1'000'000);
  EXPECT_EQ(limiter.TryAcquire(1'000'000), 0);
  EXPECT_EQ(limiter.TryAcquire(0), 1);
  EXPECT_EQ(limiter.TryAcquire(1'500'000), 1);
  EXPECT_EQ(limiter.TryAcquire(2'000'000), 0);
}

}  // namespace
}  // namespace ledger::transport
