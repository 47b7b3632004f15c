// The search tests' fixture: a real ledger over HTTP (http_fixture.h), writes through the command
// API, and an independent model of the documents each index must hold. The model derives every
// document from the event the write API returned for a command (its position, recorded_at,
// postings and payload) by the rules of docs/search.md, never from the search engine, so the
// tests compare the engine against a second implementation of those rules.
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tests/transport/http_fixture.h"
#include "transport/rfc3339.h"

namespace ledger::transport::testing {

struct ExpectedDoc {
  std::string record_id, type, order_id, merchant, account, counterparty, kind, category, asset,
      ref, memo;
  std::int64_t amount = 0;
  std::int64_t position = 0;
  std::int64_t occurred_at_us = 0;
  std::uint32_t ordinal = 0;  // Index order: the document number.

  // occurred_at in epoch milliseconds (what ranges, sorts and histograms use).
  [[nodiscard]] std::int64_t OccurredMs() const {
    return occurred_at_us / 1000 - (occurred_at_us % 1000 < 0 ? 1 : 0);
  }
  // A keyword or text field by name ("" when absent).
  [[nodiscard]] const std::string& Text(std::string_view field) const {
    static const std::string kNone;
    const std::map<std::string_view, const std::string*> fields = {{"record_id", &record_id},
                                                                   {"type", &type},
                                                                   {"order_id", &order_id},
                                                                   {"merchant", &merchant},
                                                                   {"account", &account},
                                                                   {"counterparty", &counterparty},
                                                                   {"kind", &kind},
                                                                   {"category", &category},
                                                                   {"asset", &asset},
                                                                   {"ref", &ref},
                                                                   {"memo", &memo}};
    const auto it = fields.find(field);
    return it == fields.end() ? kNone : *it->second;
  }
  // A long or date field by name (dates in ms).
  [[nodiscard]] std::int64_t Number(std::string_view field) const {
    if (field == "amount") return amount;
    if (field == "position") return position;
    return OccurredMs();
  }
};

using DocPredicate = std::function<bool(const ExpectedDoc&)>;

// The documents of both indexes, built from the events the write API returned.
class SearchModel {
 public:
  void Add(const rapidjson::Value& event) {
    const std::string type = event["type"].GetString();
    const std::int64_t position = event["position"].GetInt64();
    auto recorded = ParseRfc3339(event["recorded_at"].GetString());
    ASSERT_TRUE(recorded.has_value());
    const rapidjson::Value& payload = event["payload"];
    std::int64_t occurred = *recorded;
    if (type == "OrderSettled") {
      auto at = ParseRfc3339(payload["occurred_at"].GetString());
      ASSERT_TRUE(at.has_value());
      if (*at != 0) occurred = *at;
    }
    AddSettlements(type, position, occurred, payload);
    AddEntries(type, position, occurred, event["postings"], payload);
  }

  [[nodiscard]] const std::vector<ExpectedDoc>& Docs(std::string_view index) const {
    return index == "settlements" ? settlements_ : entries_;
  }
  [[nodiscard]] std::vector<const ExpectedDoc*> Where(std::string_view index,
                                                      const DocPredicate& predicate) const {
    std::vector<const ExpectedDoc*> found;
    for (const ExpectedDoc& doc : Docs(index)) {
      if (predicate(doc)) found.push_back(&doc);
    }
    return found;
  }

 private:
  static std::string Str(const rapidjson::Value& object, const char* name) {
    const auto it = object.FindMember(name);
    return it == object.MemberEnd() || !it->value.IsString() ? std::string()
                                                             : it->value.GetString();
  }

  ExpectedDoc Base(std::string type, std::int64_t position, std::size_t line,
                   std::int64_t occurred) const {
    ExpectedDoc doc;
    doc.record_id = std::to_string(position) + "." + std::to_string(line);
    doc.type = std::move(type);
    doc.position = position;
    doc.occurred_at_us = occurred;
    return doc;
  }

  void Push(std::vector<ExpectedDoc>& index, ExpectedDoc doc) {
    doc.ordinal = static_cast<std::uint32_t>(index.size());
    index.push_back(std::move(doc));
  }

  void AddSettlements(const std::string& type, std::int64_t position, std::int64_t occurred,
                      const rapidjson::Value& payload) {
    if (type == "OrderSettled" || type == "OrderRefunded") {
      const rapidjson::Value& lines = payload["lines"];
      for (rapidjson::SizeType i = 0; i < lines.Size(); ++i) {
        ExpectedDoc doc = Base(type, position, i, occurred);
        doc.order_id = Str(payload, "order_id");
        doc.merchant = Str(payload, "merchant");
        doc.account = Str(lines[i], "to");
        doc.counterparty = Str(payload, "payer");
        doc.kind = Str(lines[i], "kind");
        doc.category = type == "OrderSettled" && doc.kind == "merchant" ? "income" : "other";
        doc.asset = Str(payload, "asset");
        const std::int64_t amount = lines[i]["amount"].GetInt64();
        doc.amount = type == "OrderSettled" ? amount : -amount;
        doc.ref = type == "OrderSettled" ? doc.order_id : Str(payload, "refund_id");
        Push(settlements_, std::move(doc));
      }
    } else if (type == "MerchantPaidOut") {
      ExpectedDoc doc = Base(type, position, 0, occurred);
      doc.merchant = Str(payload, "merchant");
      doc.account = doc.merchant;
      doc.counterparty = Str(payload, "bank_account");
      doc.kind = "payout";
      doc.category = "expenditure";
      doc.asset = Str(payload, "asset");
      doc.amount = -payload["amount"].GetInt64();
      doc.ref = Str(payload, "payout_id");
      Push(settlements_, std::move(doc));
    }
  }

  // The kind of posting `j` (docs/search.md, entries index).
  static std::string EntryKind(const std::string& type, const rapidjson::Value& postings,
                               rapidjson::SizeType j, const rapidjson::Value& payload) {
    if (type == "AssetChanged") {
      const std::string source = Str(payload, "source");
      return source.empty() ? "asset_change" : source;
    }
    if (type == "Transferred") return "transfer";
    if (type == "MerchantPaidOut") return "payout";
    if (type == "VoucherGranted") return "voucher_grant";
    if (type == "VoucherRedeemed") return "voucher_redemption";
    if (type == "OrderRefunded" && j + 1 == postings.Size()) return "refund";
    if (type == "OrderSettled" && j == 0) return "payment";
    // A split posting: the j-th split line with a positive amount (settled: after the payment
    // posting; refunded: from the first posting on).
    const rapidjson::Value& lines = payload["lines"];
    rapidjson::SizeType wanted = type == "OrderSettled" ? j - 1 : j;
    for (rapidjson::SizeType i = 0; i < lines.Size(); ++i) {
      if (lines[i]["amount"].GetInt64() <= 0 || Str(lines[i], "kind") == "merchant") continue;
      if (wanted-- == 0) return Str(lines[i], "kind");
    }
    ADD_FAILURE() << "no split line for posting " << j << " of a " << type;
    return "";
  }

  static std::string EntryRef(const std::string& type, const rapidjson::Value& payload) {
    if (type == "AssetChanged" || type == "Transferred") return Str(payload, "ref");
    if (type == "OrderSettled") return Str(payload, "order_id");
    if (type == "OrderRefunded") return Str(payload, "refund_id");
    if (type == "MerchantPaidOut") return Str(payload, "payout_id");
    if (type == "VoucherGranted") return Str(payload, "grant_id");
    if (type == "VoucherRedeemed") return Str(payload, "redemption_id");
    return "";
  }

  static std::string EntryMemo(const std::string& type, const rapidjson::Value& payload) {
    if (type == "AssetChanged") return Str(payload, "reason");
    if (type != "Transferred" || !payload.HasMember("metadata")) return "";
    return Str(payload["metadata"], "memo");
  }

  void AddEntries(const std::string& type, std::int64_t position, std::int64_t occurred,
                  const rapidjson::Value& postings, const rapidjson::Value& payload) {
    const bool order = type == "OrderSettled" || type == "OrderRefunded";
    for (rapidjson::SizeType j = 0; j < postings.Size(); ++j) {
      ExpectedDoc doc = Base(type, position, j, occurred);
      doc.account = Str(postings[j], "to");
      doc.counterparty = Str(postings[j], "from");
      doc.asset = Str(postings[j], "asset");
      doc.amount = postings[j]["amount"].GetInt64();
      doc.kind = EntryKind(type, postings, j, payload);
      if (type == "OrderSettled") doc.category = j == 0 ? "income" : "other";
      if (type == "MerchantPaidOut") doc.category = "expenditure";
      if (doc.category.empty()) doc.category = "other";
      if (order || type == "MerchantPaidOut") doc.merchant = Str(payload, "merchant");
      if (order || type == "VoucherRedeemed") doc.order_id = Str(payload, "order_id");
      doc.ref = EntryRef(type, payload);
      doc.memo = EntryMemo(type, payload);
      Push(entries_, std::move(doc));
    }
  }

  std::vector<ExpectedDoc> settlements_;
  std::vector<ExpectedDoc> entries_;
};

// The lower-cased tokens of `text` as docs/search.md defines them (runs of ASCII letters and
// digits and of non-ASCII bytes).
inline std::vector<std::string> Tokens(std::string_view text) {
  std::vector<std::string> tokens;
  std::string current;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || byte >= 0x80) {
      current.push_back(static_cast<char>(std::tolower(byte)));
    } else if (!current.empty()) {
      tokens.push_back(std::move(current));
      current.clear();
    }
  }
  if (!current.empty()) tokens.push_back(std::move(current));
  return tokens;
}

// Lucene 8 BM25 (k1 1.2, b 0.75) of `query`'s tokens in the memo of `doc`, over `docs` (the
// documents with a memo define N and the average length). 0 if no token matches.
inline double Bm25(const std::vector<ExpectedDoc>& docs, const ExpectedDoc& doc,
                   std::string_view query) {
  double with_field = 0, total_length = 0;
  for (const ExpectedDoc& other : docs) {
    if (other.memo.empty()) continue;
    with_field += 1;
    total_length += static_cast<double>(Tokens(other.memo).size());
  }
  const std::vector<std::string> mine = Tokens(doc.memo);
  const double length = static_cast<double>(mine.size());
  const double average = total_length / with_field;
  double score = 0;
  std::set<std::string> seen;
  for (const std::string& token : Tokens(query)) {
    if (!seen.insert(token).second) continue;  // A repeated query token counts once per doc.
    const double tf = static_cast<double>(std::count(mine.begin(), mine.end(), token));
    if (tf == 0) continue;
    double holding = 0;
    for (const ExpectedDoc& other : docs) {
      const auto theirs = Tokens(other.memo);
      if (std::find(theirs.begin(), theirs.end(), token) != theirs.end()) holding += 1;
    }
    const double idf = std::log(1 + (with_field - holding + 0.5) / (holding + 0.5));
    score += idf * tf / (tf + 1.2 * (1 - 0.75 + 0.75 * length / average));
  }
  return score;
}

// A split of a settlement command.
struct Split {
  std::string to;
  std::string kind;
  std::int64_t amount = 0;  // Fixed amount (the tests use no bps, so lines are known exactly).
};

class SearchTest : public HttpTest {
 protected:
  // Sends a write and feeds the event it returns to the model; the event's position.
  std::uint64_t Write(std::string_view target, const std::string& body) {
    const HttpResponse response = Post(target, body, kAdminToken);
    EXPECT_EQ(response.result_int(), 201u) << target << " " << body << " -> " << response.body();
    if (response.result_int() != 201u) return last_position_;
    const rapidjson::Document json = Json(response);
    model_.Add(json["event"]);
    last_position_ = json["position"].GetUint64();
    return last_position_;
  }

  std::uint64_t Settle(const std::string& order_id, const std::string& merchant,
                       const std::string& payer, std::int64_t gross,
                       const std::vector<Split>& splits, const std::string& occurred_at,
                       const std::string& asset = "EUR") {
    std::string body = R"({"order_id":")" + order_id + R"(","merchant":")" + merchant +
                       R"(","payer":")" + payer + R"(","asset":")" + asset + R"(","gross":)" +
                       std::to_string(gross) + R"(,"splits":[)";
    std::int64_t split_total = 0;
    for (std::size_t i = 0; i < splits.size(); ++i) {
      body += std::string(i ? "," : "") + R"({"to":")" + splits[i].to + R"(","kind":")" +
              splits[i].kind + R"(","amount":)" + std::to_string(splits[i].amount) + "}";
      split_total += splits[i].amount;
    }
    body += R"(],"occurred_at":")" + occurred_at + R"("})";
    const std::size_t before = model_.Docs("settlements").size();
    const std::uint64_t position = Write("/v1/settlements", body);
    // The lines are the splits as sent, then the merchant's remainder.
    const auto& docs = model_.Docs("settlements");
    EXPECT_EQ(docs.size(), before + splits.size() + 1);
    if (docs.size() == before + splits.size() + 1) {
      for (std::size_t i = 0; i < splits.size(); ++i) {
        EXPECT_EQ(docs[before + i].amount, splits[i].amount);
      }
      EXPECT_EQ(docs.back().amount, gross - split_total);
    }
    return position;
  }
  std::uint64_t Refund(const std::string& order_id, const std::string& refund_id,
                       std::int64_t amount) {
    return Write("/v1/settlements/" + order_id + "/refunds",
                 R"({"refund_id":")" + refund_id + R"(","amount":)" + std::to_string(amount) + "}");
  }
  std::uint64_t PayOut(const std::string& payout_id, const std::string& merchant,
                       std::int64_t amount, const std::string& bank_account) {
    return Write("/v1/payouts", R"({"payout_id":")" + payout_id + R"(","merchant":")" + merchant +
                                    R"(","asset":"EUR","amount":)" + std::to_string(amount) +
                                    R"(,"bank_account":")" + bank_account + R"("})");
  }
  std::uint64_t Change(const std::string& account, std::int64_t amount, const std::string& source,
                       const std::string& reason, const std::string& ref) {
    return Write("/v1/assets/changes", R"({"account":")" + account +
                                           R"(","asset":"EUR","amount":)" + std::to_string(amount) +
                                           R"(,"source":")" + source + R"(","reason":")" + reason +
                                           R"(","ref":")" + ref + R"("})");
  }
  std::uint64_t TransferWithMemo(const std::string& from, const std::string& to,
                                 std::int64_t amount, const std::string& memo) {
    return Write("/v1/transfers", R"({"postings":[{"from":")" + from + R"(","to":")" + to +
                                      R"(","asset":"EUR","amount":)" + std::to_string(amount) +
                                      R"(}],"ref":"tr-)" + std::to_string(amount) +
                                      R"(","metadata":{"memo":")" + memo + R"("}})");
  }
  void VoucherCampaign() {
    const std::int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
    ASSERT_EQ(Post("/v1/campaigns",
                   R"({"campaign_id":"spring","kind":"coupon","asset":"COUPON","unit_amount":1,)"
                   R"("budget":10,"per_user_limit":5,"valid_from":")" +
                       FormatRfc3339(now - 86'400'000'000) + R"(","valid_until":")" +
                       FormatRfc3339(now + 86'400'000'000) +
                       R"(","funding_account":"external:marketing"})",
                   kAdminToken)
                  .result_int(),
              201u);
    Write("/v1/campaigns/spring/grants", R"({"grant_id":"g1","user":"user:1"})");
    Write("/v1/campaigns/spring/grants", R"({"grant_id":"g2","user":"user:2"})");
    Write("/v1/campaigns/spring/redemptions",
          R"({"redemption_id":"rd1","user":"user:1","order_id":"ord-voucher"})");
  }

  // A fixed data set: 3 merchants, 24 orders with 2 to 4 splits (3 to 5 lines) from late
  // October to early December 2026, refunds (partial and full), payouts, asset changes with
  // reasons, transfers with memos, and a voucher campaign.
  void WriteStandardData() {
    static const char* kMerchants[] = {"merchant:acme", "merchant:blue", "merchant:cafe"};
    static const char* kKinds[] = {"host_commission", "platform_share", "technical_service_fee",
                                   "commission"};
    static const char* kDays[] = {"2026-10-28T09:15:00Z",      "2026-10-31T23:59:59.999Z",
                                  "2026-11-01T00:00:00Z",      "2026-11-01T12:30:00.250+01:00",
                                  "2026-11-03T18:45:10Z",      "2026-11-15T08:00:00.123456Z",
                                  "2026-11-30T23:00:00-02:00", "2026-12-02T07:07:07Z"};
    for (int i = 0; i < 24; ++i) {
      std::vector<Split> splits;
      const int count = 2 + i % 3;
      for (int s = 0; s < count; ++s) {
        splits.push_back({"partner:" + std::to_string((i + s) % 5), kKinds[(i + s) % 4],
                          100 + 37 * ((i * 7 + s * 3) % 11)});
      }
      Settle("ord-" + std::to_string(100 + i), kMerchants[i % 3],
             "external:psp" + std::to_string(i % 2), 10'000 + 250 * i, splits, kDays[i % 8]);
    }
    Refund("ord-100", "rf-1", 2'500);
    Refund("ord-101", "rf-1", 10'250);  // Full.
    Refund("ord-105", "rf-2", 999);
    PayOut("po-1", "merchant:acme", 3'000, "DE89-3704");
    PayOut("po-2", "merchant:cafe", 1'234, "FR76-3000");
    Change("user:1", 5'000, "card", "Monthly top up from card", "tp-1");
    Change("user:2", 700, "bank", "Refund of the coffee order", "tp-2");
    Change("user:3", 12'000, "card", "Salary top up; bonus included", "tp-3");
    Change("user:1", -300, "card", "Card chargeback fee", "tp-4");
    TransferWithMemo("user:1", "user:2", 150, "Dinner split, thanks");
    TransferWithMemo("user:3", "user:1", 2'000, "Rent for november");
    VoucherCampaign();
  }

  // POST /{index}/_search with `body`, after the last write; expects 200 and returns the JSON.
  rapidjson::Document Search(std::string_view index, const std::string& body,
                             const std::string& params = "") {
    const HttpResponse response = SearchResponse(index, body, params);
    EXPECT_EQ(response.result_int(), 200u) << body << " -> " << response.body();
    return Json(response);
  }
  HttpResponse SearchResponse(std::string_view index, const std::string& body,
                              const std::string& params = "", std::string_view route = "_search") {
    std::string target = "/" + std::string(index) + "/" + std::string(route) +
                         "?min_position=" + std::to_string(last_position_);
    if (!params.empty()) target += "&" + params;
    return Send("POST", target, body, kReaderToken);
  }

  // The _id of every hit, in order.
  static std::vector<std::string> HitIds(const rapidjson::Value& json) {
    std::vector<std::string> ids;
    for (const auto& hit : json["hits"]["hits"].GetArray()) ids.push_back(hit["_id"].GetString());
    return ids;
  }
  static std::vector<std::string> Ids(const std::vector<const ExpectedDoc*>& docs) {
    std::vector<std::string> ids;
    for (const ExpectedDoc* doc : docs) ids.push_back(doc->record_id);
    return ids;
  }
  static std::uint64_t Total(const rapidjson::Value& json) {
    return json["hits"]["total"]["value"].GetUint64();
  }

  // Expects `json`'s hits to be exactly `expected` (in order) and the total its size.
  void ExpectHits(const rapidjson::Value& json, const std::vector<const ExpectedDoc*>& expected,
                  const std::string& what) {
    EXPECT_EQ(HitIds(json), Ids(expected)) << what;
    EXPECT_EQ(Total(json), expected.size()) << what;
    EXPECT_STREQ(json["hits"]["total"]["relation"].GetString(), "eq") << what;
  }

  // Ids of `index`'s documents matching `predicate`, in index order, at most `size`.
  std::vector<std::string> Expected(std::string_view index, const DocPredicate& predicate,
                                    std::size_t size = 10'000) const {
    std::vector<std::string> ids = Ids(model_.Where(index, predicate));
    if (ids.size() > size) ids.resize(size);
    return ids;
  }

  SearchModel model_;
  std::uint64_t last_position_ = 0;
};

}  // namespace ledger::transport::testing
