// Checks on commands a test saw acknowledged over HTTP (POST /v1/assets/changes with an
// Idempotency-Key that is also the command's ref), after a crash, a restart or a full disk.
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "transport/http_client.h"

namespace ledger::transport::testing {

struct AckedCommand {
  std::string key;   // Idempotency-Key and ref.
  std::string body;  // The JSON body sent.
  std::uint64_t position = 0;
  std::int64_t amount = 0;
};

// The event at the command's position is that command (its ref is the key), and sending the
// command again with its key is a replay at the same position, not a new event.
inline void ExpectAckedCommandIntact(HttpClient& client, const AckedCommand& command,
                                     std::string_view token) {
  auto event = client.Send("GET", "/v1/events/" + std::to_string(command.position), {}, token);
  ASSERT_TRUE(event.has_value());
  ASSERT_EQ(event->result_int(), 200u) << command.key;
  EXPECT_NE(event->body().find("\"ref\":\"" + command.key + "\""), std::string::npos)
      << "event " << command.position << " is not " << command.key << ": " << event->body();
  auto retry = client.Send("POST", "/v1/assets/changes", command.body, token,
                           {{"Idempotency-Key", command.key}});
  ASSERT_TRUE(retry.has_value());
  ASSERT_EQ(retry->result_int(), 200u) << command.key << ": " << retry->body();
  rapidjson::Document json;
  json.Parse(retry->body().c_str());
  ASSERT_FALSE(json.HasParseError()) << retry->body();
  EXPECT_TRUE(json["replayed"].GetBool()) << command.key;
  EXPECT_EQ(json["position"].GetUint64(), command.position) << command.key;
}

}  // namespace ledger::transport::testing
