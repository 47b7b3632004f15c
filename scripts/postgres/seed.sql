-- What the mix needs before it starts; ledger-bench mix sets up the same on an empty ledgerd
-- (psql variables: payers, merchants, hosts, campaigns, seed_orders, house_slots):
-- * the funded payers user:0..payers-1 with 10,000,000,000.00 CNY each, as ledger-bench mix
--   funds them (one top-up each), so their debits and settlements succeed;
-- * opening balances for the merchants, the hosts and the platform accounts, 10,000,000,000.00
--   CNY each: pgbench keeps no state, so its payouts draw on any merchant and its refunds
--   reverse splits of any seed order, where ledger-bench mix pays out merchants and refunds
--   orders its connection settled, which hold the money already;
-- * the 16 coupon campaigns of ledger-bench mix (asset coupon:<campaign>, unit 5.00, budget
--   10^12 grants, 1000 grants per user, funded by external:marketing, which may go negative);
-- * `seed_orders` settled orders "seed-<k>" for the refunds, settled through settle_order itself,
--   gross 100 + (k * 7919) mod 99901 so that refund_payout.sql can refund 10% of it.
-- Every opening is an event with its idempotency record, so log, idempotency and balances agree
-- (the sum of every asset over all accounts stays 0). The other users start without a row, as
-- in ledgerd: the mix's credits create them.
\set ON_ERROR_STOP on

-- House slots: every session of this database, including this one.
ALTER DATABASE :"DBNAME" SET ledger.house_slots = :'house_slots';
SET ledger.house_slots = :'house_slots';

INSERT INTO balances (account, asset, balance, version)
SELECT account, 'CNY', 1000000000000, 1
  FROM (SELECT 'user:' || n FROM generate_series(0, :payers - 1) AS n
        UNION ALL SELECT 'merchant:' || n FROM generate_series(0, :merchants - 1) AS n
        UNION ALL SELECT 'host:' || n FROM generate_series(0, :hosts - 1) AS n)
       AS accounts (account);
-- A house account's opening is spread evenly over its slots.
INSERT INTO house_balances (account, asset, slot, balance, version)
SELECT account, 'CNY', slot, 1000000000000 / :house_slots, 1
  FROM (VALUES ('platform:fees'), ('platform:share'), ('platform:tech')) AS accounts (account),
       generate_series(0, :house_slots - 1) AS slot;

INSERT INTO events (stream, type, idempotency_key, payload)
SELECT 'account/' || account, 'AssetChanged', 'opening/' || account || '|' || asset,
       jsonb_build_object('account', account, 'asset', asset, 'amount', balance,
                          'counterparty', 'external:opening', 'source', 'opening',
                          'postings', jsonb_build_array(
                            posting_json('external:opening', account, asset, balance)))
  FROM account_balances ORDER BY account, asset;
INSERT INTO house_balances (account, asset, slot, balance, version)
SELECT 'external:opening', asset, 0, -sum(balance), count(*) FROM account_balances GROUP BY asset;

INSERT INTO campaigns (campaign_id, asset, unit_amount, budget, per_user_limit, valid_from,
                       valid_until, funding_account)
SELECT 'campaign-' || n, 'coupon:campaign-' || n, 500, 1000000000000, 1000,
       '2020-01-01T00:00:00Z', '2099-01-01T00:00:00Z', 'external:marketing'
  FROM generate_series(0, :campaigns - 1) AS n;
INSERT INTO events (stream, type, idempotency_key, payload)
SELECT 'campaign/' || campaign_id, 'CampaignCreated', 'campaign/' || campaign_id,
       to_jsonb(campaigns) - 'granted'
  FROM campaigns ORDER BY campaign_id;

INSERT INTO idempotency (key, position, fingerprint)
SELECT idempotency_key, position, sha256(convert_to(idempotency_key, 'UTF8')) FROM events;

-- The same splits as settle.sql, payers and merchants from a fixed seed. A procedure that
-- commits every 500 orders: in one long transaction each update of a hot balance row would have
-- to walk past all its earlier versions, which nothing can prune until the transaction ends.
CREATE PROCEDURE seed_orders(p_count integer, p_payers integer, p_merchants integer,
                             p_hosts integer)
LANGUAGE plpgsql AS $$
DECLARE
  splits integer;
  outcome text;
BEGIN
  PERFORM setseed(0.42);
  FOR k IN 1..p_count LOOP
    splits := 2 + floor(random() * 3)::integer;
    outcome := settle_order(
        'seed-' || k, 'merchant:' || floor(random() * p_merchants)::integer,
        'user:' || floor(random() * p_payers)::integer, 'CNY', 100 + (k * 7919::bigint) % 99901,
        (ARRAY['platform:fees', 'host:' || floor(random() * p_hosts)::integer,
               'platform:share', 'platform:tech'])[1:splits],
        (ARRAY['commission', 'host_commission', 'platform_share',
               'technical_service_fee'])[1:splits],
        (ARRAY[300, 100, 50, 20])[1:splits]);
    IF outcome <> 'accepted' THEN
      RAISE EXCEPTION 'seed order % was %', k, outcome;
    END IF;
    IF k % 500 = 0 THEN
      COMMIT;
    END IF;
  END LOOP;
END
$$;
CALL seed_orders(:seed_orders, :payers, :merchants, :hosts);
DROP PROCEDURE seed_orders;

-- Start every measured run from the same state: statistics for the planner, the visibility
-- map and hint bits set (so the run does not pay for them), everything checkpointed.
VACUUM ANALYZE;
CHECKPOINT;
