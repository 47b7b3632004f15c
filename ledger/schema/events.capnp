# The stored form of every ledger event. See docs/events.md for the evolution rules:
# fields and union members are only ever added (with new ordinals), never renumbered, retyped,
# removed or reused. Each event is stored as a single-segment canonical Cap'n Proto message with
# `hash` left unset; the hash is SHA-256(prevHash || those bytes) and is stored beside them.
@0xc4d2e9b6a1f3870d;

$import "/capnp/c++.capnp".namespace("ledger::schema");

struct KeyValue {
  key @0 :Text;
  value @1 :Text;
}

struct Posting {
  from @0 :Text;
  to @1 :Text;
  asset @2 :Text;
  amount @3 :Int64;
}

struct SettlementLine {
  to @0 :Text;
  kind @1 :Text;
  amount @2 :Int64;
  bps @3 :Int32 = -1;
}

enum CampaignKind {
  unspecified @0;
  coupon @1;
  balance @2;
}

struct AccountOpened {
  account @0 :Text;
  allowNegative @1 :Bool;
  frozen @2 :Bool;
  metadata @3 :List(KeyValue);
}

struct AssetChanged {
  account @0 :Text;
  asset @1 :Text;
  amount @2 :Int64;
  counterparty @3 :Text;
  source @4 :Text;
  reason @5 :Text;
  ref @6 :Text;
}

struct Transferred {
  ref @0 :Text;
  metadata @1 :List(KeyValue);
}

struct OrderSettled {
  orderId @0 :Text;
  merchant @1 :Text;
  payer @2 :Text;
  asset @3 :Text;
  gross @4 :Int64;
  lines @5 :List(SettlementLine);
  occurredAt @6 :Int64;  # Microseconds since the Unix epoch, UTC.
}

struct OrderRefunded {
  orderId @0 :Text;
  refundId @1 :Text;
  merchant @2 :Text;
  payer @3 :Text;
  asset @4 :Text;
  amount @5 :Int64;
  refundedTotal @6 :Int64;
  lines @7 :List(SettlementLine);
}

struct MerchantPaidOut {
  payoutId @0 :Text;
  merchant @1 :Text;
  asset @2 :Text;
  amount @3 :Int64;
  bankAccount @4 :Text;
}

struct CampaignCreated {
  campaignId @0 :Text;
  kind @1 :CampaignKind;
  asset @2 :Text;
  unitAmount @3 :Int64;
  budget @4 :Int64;
  perUserLimit @5 :Int64;
  validFrom @6 :Int64;   # Microseconds since the Unix epoch, UTC.
  validUntil @7 :Int64;
  fundingAccount @8 :Text;
  ownerClient @9 :Text;
}

struct VoucherGranted {
  campaignId @0 :Text;
  grantId @1 :Text;
  user @2 :Text;
  asset @3 :Text;
  amount @4 :Int64;
}

struct VoucherRedeemed {
  campaignId @0 :Text;
  redemptionId @1 :Text;
  user @2 :Text;
  orderId @3 :Text;
  asset @4 :Text;
  amount @5 :Int64;
}

# The root struct of every stored event.
struct Event {
  position @0 :UInt64;
  stream @1 :Text;
  streamVersion @2 :UInt64;
  type @3 :UInt16;          # ledger::EventType; mirrors the union's member.
  recordedAt @4 :Int64;     # Microseconds since the Unix epoch, UTC.
  clientId @5 :Text;
  idempotencyKey @6 :Text;
  correlationId @7 :Text;
  causationId @8 :Text;
  prevHash @9 :Data;        # 32 bytes.
  hash @10 :Data;           # 32 bytes; unset in the stored, hashed bytes.
  postings @11 :List(Posting);

  payload :union {
    accountOpened @12 :AccountOpened;
    assetChanged @13 :AssetChanged;
    transferred @14 :Transferred;
    orderSettled @15 :OrderSettled;
    orderRefunded @16 :OrderRefunded;
    merchantPaidOut @17 :MerchantPaidOut;
    campaignCreated @18 :CampaignCreated;
    voucherGranted @19 :VoucherGranted;
    voucherRedeemed @20 :VoucherRedeemed;
  }
}
