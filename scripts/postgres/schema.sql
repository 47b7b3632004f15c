-- PostgreSQL as an event store for the ledger's command mix (scripts/bench-postgres).
--
-- The same durable facts ledgerd keeps: an append-only event log with a stream index, one
-- idempotency record per accepted command, the balance of every (account, asset), orders (for
-- refunds) and campaigns (budget and per-user limits). Each command is one transaction through
-- one of the functions in functions.sql.

-- The log. `position` comes from the sequence: unique and increasing in the order positions are
-- taken, not in commit order, and with gaps where a command was rejected (unlike ledgerd's
-- gap-free, hash-chained positions).
CREATE TABLE events (
  position        bigserial   PRIMARY KEY,
  stream          text        NOT NULL,
  type            text        NOT NULL,
  recorded_at     timestamptz NOT NULL DEFAULT now(),
  idempotency_key text        NOT NULL,
  payload         jsonb       NOT NULL
);
-- Reading one stream in order ("account/user:42", "order/o-17"), as ledgerd's stream index does.
CREATE INDEX events_by_stream ON events (stream, position);

-- One row per accepted command, keyed like ledgerd's idempotency records ("order/<id>",
-- "key/<client>|<Idempotency-Key>", ...). A repeated key with the same fingerprint is answered
-- as a replay (nothing written); with another fingerprint it is a conflict.
CREATE TABLE idempotency (
  key         text   PRIMARY KEY,
  position    bigint NOT NULL,
  fingerprint bytea  NOT NULL
);

-- Current balance per (account, asset); `version` counts the events that posted to the row.
-- fillfactor 80 leaves room on each page so that balance updates stay HOT (heap-only tuples:
-- the new row version goes on the same page and no index entry is written).
CREATE TABLE balances (
  account text   NOT NULL,
  asset   text   NOT NULL,
  balance bigint NOT NULL,
  version bigint NOT NULL,
  PRIMARY KEY (account, asset)
) WITH (fillfactor = 80);

-- House accounts ("platform:..." and "external:...": the platform's own accounts and the outside
-- world) are hot: every settlement pays platform:fees, every top-up comes from external:topup,
-- every voucher from external:marketing. As single rows they would serialize the mix, each
-- command waiting for the previous one's commit to release the row lock (measured with single
-- rows: most backends waiting in Lock:transactionid). So their balance is kept in `slots` rows
-- (the setting ledger.house_slots, default 32 here), each connection posting to its own slot
-- (backend pid mod slots); the account's balance is the sum over its slots, and a protected
-- house account (platform:...) keeps every slot >= 0, so its sum never goes below zero.
-- This is the usual remedy for hot accounts in a relational ledger ("balance buckets").
CREATE TABLE house_balances (
  account text    NOT NULL,
  asset   text    NOT NULL,
  slot    integer NOT NULL,
  balance bigint  NOT NULL,
  version bigint  NOT NULL,
  PRIMARY KEY (account, asset, slot)
) WITH (fillfactor = 50);

-- Every account's balance per asset, house accounts summed over their slots.
CREATE VIEW account_balances AS
SELECT account, asset, balance FROM balances
UNION ALL
SELECT account, asset, sum(balance)::bigint FROM house_balances GROUP BY account, asset;

-- Settled orders with their lines (split lines first, the merchant's remainder last), so that a
-- refund can reverse each line pro rata, as ledgerd's RefundOrder does.
CREATE TABLE orders (
  order_id      text     PRIMARY KEY,
  merchant      text     NOT NULL,
  payer         text     NOT NULL,
  asset         text     NOT NULL,
  gross         bigint   NOT NULL,
  refunded      bigint   NOT NULL DEFAULT 0,
  line_accounts text[]   NOT NULL,
  line_kinds    text[]   NOT NULL,
  line_amounts  bigint[] NOT NULL
) WITH (fillfactor = 80);

-- Voucher campaigns: `granted` counts grants against `budget` (grants, as in ledgerd). The
-- funding account is external: a grant credits the user before it debits the funding account
-- (locking order, functions.sql), so that debit must never be refused.
CREATE TABLE campaigns (
  campaign_id     text        PRIMARY KEY,
  asset           text        NOT NULL,
  unit_amount     bigint      NOT NULL,
  budget          bigint      NOT NULL,
  granted         bigint      NOT NULL DEFAULT 0,
  per_user_limit  bigint      NOT NULL,
  valid_from      timestamptz NOT NULL,
  valid_until     timestamptz NOT NULL,
  funding_account text        NOT NULL CHECK (funding_account LIKE 'external:%')
) WITH (fillfactor = 50);

-- Grants per (campaign, user), for the per-user limit.
CREATE TABLE voucher_grants (
  campaign_id  text   NOT NULL,
  user_account text   NOT NULL,
  grants       bigint NOT NULL,
  PRIMARY KEY (campaign_id, user_account)
);
