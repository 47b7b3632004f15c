# The binary command protocol (docs/protocol.md). Every frame on the wire, in both directions, is
# a 4-byte little-endian length N followed by N bytes: one unpacked Cap'n Proto message whose root
# is `Frame`. N is a multiple of 8 and at most kBinaryFrameBytesMax (ledger/limits.h).
#
# Evolution rules are those of events.capnp: fields and union members are only ever added, with
# new ordinals; nothing is renumbered, retyped, removed or reused. A union member the server does
# not know is refused as `unknown_frame` / `unknown_command`, never guessed at.
@0xc17dd52b5ef4d6fe;

$import "/capnp/c++.capnp".namespace("ledger::wire");

const protocolVersion :UInt32 = 1;

struct Frame {
  union {
    unset @0 :Void;                 # A frame with no member set: refused as malformed.
    hello @1 :Hello;                # client -> server, first frame of a connection, exactly once
    welcome @2 :Welcome;            # server -> client, answer to hello
    batch @3 :CommandBatch;         # client -> server
    results @4 :BatchResults;       # server -> client, one per batch, in the order sent
    error @5 :ConnectionError;      # server -> client, last frame before the server closes
  }
}

struct Hello {
  version @0 :UInt32;               # protocolVersion the client speaks.
  token @1 :Text;                   # Bearer token, as for HTTP; authenticates the connection.
}

struct Welcome {
  version @0 :UInt32;               # protocolVersion the server speaks.
  clientId @1 :Text;                # The client the token belongs to.
  batchCommandsMax @2 :UInt32;      # Commands per batch the server accepts.
  frameBytesMax @3 :UInt32;         # Bytes per frame (after the length prefix).
  batchesInFlightMax @4 :UInt32;    # Batches the server reads ahead per connection.
}

struct CommandBatch {
  requestId @0 :UInt64;             # Echoed in the batch's results; the client's choice.
  commands @1 :List(Command);       # 1..batchCommandsMax.
}

# One command: the envelope ids HTTP takes from headers, and the body HTTP takes from JSON.
# Text fields follow the JSON fields of the same name (transport/README.md); a required Text
# field that is not set is refused as "missing required field", an empty one is decided as HTTP
# decides "".
struct Command {
  idempotencyKey @0 :Text;          # Optional: 1..128 printable ASCII bytes when set.
  correlationId @1 :Text;           # Optional.
  causationId @2 :Text;             # Optional.
  body :union {
    unset @3 :Void;                 # Refused: "command has no body".
    changeAsset @4 :ChangeAsset;
    transfer @5 :Transfer;
    settleOrder @6 :SettleOrder;
    refundOrder @7 :RefundOrder;
    payOut @8 :PayOut;
    openAccount @9 :OpenAccount;
    createCampaign @10 :CreateCampaign;
    grantVoucher @11 :GrantVoucher;
    redeemVoucher @12 :RedeemVoucher;
  }
}

struct KeyValue {
  key @0 :Text;
  value @1 :Text;
}

struct ChangeAsset {
  account @0 :Text;
  asset @1 :Text;
  amount @2 :Int64;                 # > 0 credits, < 0 debits.
  source @3 :Text;
  counterparty @4 :Text;            # Optional: defaults to "external:<source>".
  reason @5 :Text;
  ref @6 :Text;
  expectedVersion :union {
    none @7 :Void;
    value @8 :UInt64;
  }
}

struct Posting {
  from @0 :Text;
  to @1 :Text;
  asset @2 :Text;
  amount @3 :Int64;
}

struct ExpectedVersion {
  account @0 :Text;
  version @1 :UInt64;
}

struct Transfer {
  postings @0 :List(Posting);
  ref @1 :Text;                     # Optional.
  metadata @2 :List(KeyValue);      # Optional.
  expectedVersions @3 :List(ExpectedVersion);
}

struct Split {
  to @0 :Text;
  kind @1 :Text;
  share :union {
    unset @2 :Void;                 # Refused: a split has exactly one of bps and amount.
    bps @3 :Int64;
    amount @4 :Int64;
  }
}

struct SettleOrder {
  orderId @0 :Text;
  merchant @1 :Text;
  payer @2 :Text;
  asset @3 :Text;
  gross @4 :Int64;
  splits @5 :List(Split);
  occurredAt :union {
    none @6 :Void;                  # The time the ledger records it.
    micros @7 :Int64;               # Microseconds since the Unix epoch, UTC.
  }
}

struct RefundOrder {
  orderId @0 :Text;
  refundId @1 :Text;
  amount @2 :Int64;
}

struct PayOut {
  payoutId @0 :Text;
  merchant @1 :Text;
  asset @2 :Text;
  amount @3 :Int64;
  bankAccount @4 :Text;
  expectedVersion :union {
    none @5 :Void;
    value @6 :UInt64;
  }
}

struct OpenAccount {
  account @0 :Text;
  allowNegative @1 :Bool;
  frozen @2 :Bool;
  metadata @3 :List(KeyValue);
}

enum CampaignKind {
  unset @0;                         # Refused.
  coupon @1;
  balance @2;
}

struct CreateCampaign {
  campaignId @0 :Text;
  kind @1 :CampaignKind;
  asset @2 :Text;
  unitAmount @3 :Int64;
  budget @4 :Int64;
  perUserLimit @5 :Int64;
  validFrom @6 :Int64;              # Microseconds since the Unix epoch, UTC.
  validUntil @7 :Int64;
  fundingAccount @8 :Text;
}

struct GrantVoucher {
  campaignId @0 :Text;
  grantId @1 :Text;
  user @2 :Text;
}

struct RedeemVoucher {
  campaignId @0 :Text;
  redemptionId @1 :Text;
  user @2 :Text;
  orderId @3 :Text;                 # Optional.
}

struct BatchResults {
  requestId @0 :UInt64;
  # One result per command of the batch, in order. Empty when `refused` is set.
  results @1 :List(CommandResult);
  # Set when the whole batch was refused before any command of it was submitted (overloaded,
  # rate limited, too many commands, shutting down): nothing of it was decided or written.
  refused @2 :Rejection;
}

struct CommandResult {
  union {
    accepted @0 :Accepted;
    rejected @1 :Rejection;
  }
}

# The command's event is durable. `replayed`: the command repeated an earlier one (same
# idempotency key and body) and this is the event the first one appended.
struct Accepted {
  position @0 :UInt64;
  streamVersion @1 :UInt64;
  eventType @2 :UInt16;             # ledger::EventType, as in events.capnp's Event.type.
  replayed @3 :Bool;
  hash @4 :Data;                    # The event's 32-byte chain hash.
}

# The same codes and messages as the HTTP API's errors; `httpStatus` is the status HTTP would
# have answered, so one error table serves both protocols.
struct Rejection {
  code @0 :Text;
  message @1 :Text;
  httpStatus @2 :UInt16;
  retryAfterSeconds @3 :UInt32;     # > 0 for overloaded and rate_limited.
}

# Sent before the server closes a connection it cannot continue: a malformed, truncated,
# oversized or unknown frame, a failed hello, a timeout, shutdown.
struct ConnectionError {
  code @0 :Text;
  message @1 :Text;
}
