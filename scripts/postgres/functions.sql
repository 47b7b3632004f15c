-- One function per command of the mix; each call is one transaction (pgbench sends it as a
-- single autocommit statement), so a command costs one round trip, as it would in a service
-- that keeps its write logic next to the data. Every function returns the outcome as text:
--   accepted   the command's event, balances and idempotency record are written
--   replayed   the idempotency key was used before with the same fingerprint (nothing written)
--   conflict   the key was used before by a different command (nothing written)
--   rejected   a business rule refused it (insufficient funds, budget, limit): nothing written
--   not_found  the order or campaign does not exist: nothing written
--   invalid    malformed arguments: nothing written
-- Business outcomes are return values, not errors, so a pgbench client never aborts on them and
-- every error pgbench counts is a real failure (deadlock, lost connection, bug).
--
-- Rows are locked in one global order, which keeps these functions free of deadlocks:
--   1. an order row (refunds), or a campaign row and then its per-user grant row (grants);
--   2. the user's balance row (a command touches at most one user);
--   3. the other protected balance rows (merchant:, host:, platform:...), by account and asset;
--   4. the external rows (external:..., which may go negative), by account and asset.
-- So in every command but a refund the only balance change that can be refused, a protected
-- debit, is the first balance change, and nothing has to be undone when it is refused; a refund
-- applies its postings in a subtransaction instead.
--
-- The code keeps statements and expressions few on purpose: PL/pgSQL prepares each one once per
-- session but sets its expressions up again in every transaction, which is most of the CPU a
-- command costs here.
--
-- Amounts are integers in the asset's smallest unit. Overflow raises an error (PostgreSQL checks
-- bigint arithmetic), which pgbench would count as a failure; the benchmark's amounts are far
-- from it.

-- Claims `p_key` for a new command: takes the next event position and inserts the idempotency
-- row. Returns the position, or NULL if the key exists (see repeated_outcome). A concurrent
-- command with the same key waits on the primary key until the first commits or rolls back.
CREATE FUNCTION claim_key(p_key text, p_fingerprint bytea) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  claimed bigint;
BEGIN
  INSERT INTO idempotency (key, position, fingerprint)
  VALUES (p_key, nextval('events_position_seq'), p_fingerprint)
  ON CONFLICT (key) DO NOTHING
  RETURNING position INTO claimed;
  RETURN claimed;
END
$$;

-- The outcome of a command whose key was used before: a replay of the same command, or a
-- conflict with another one.
CREATE FUNCTION repeated_outcome(p_key text, p_fingerprint bytea) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN fingerprint = p_fingerprint THEN 'replayed' ELSE 'conflict' END
    FROM idempotency WHERE key = p_key;
$$;

-- Releases a key claimed by this transaction when the command is refused after the claim.
CREATE FUNCTION release_key(p_key text) RETURNS void
LANGUAGE sql AS $$
  DELETE FROM idempotency WHERE key = p_key;
$$;

-- House accounts (see schema.sql) keep their balance in slots of house_balances.
CREATE FUNCTION is_house_account(p_account text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT p_account LIKE 'platform:%' OR p_account LIKE 'external:%';
$$;

-- Only "external:" accounts may go below zero, as in ledgerd.
CREATE FUNCTION is_protected_account(p_account text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT p_account NOT LIKE 'external:%';
$$;

-- The position of an account's rows in the locking order (1 is the order or campaign row).
CREATE FUNCTION lock_class(p_account text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_account LIKE 'user:%' THEN 2
              WHEN p_account LIKE 'external:%' THEN 4
              ELSE 3 END;
$$;

-- The house slot this connection posts to.
CREATE FUNCTION house_slot() RETURNS integer
LANGUAGE sql STABLE AS $$
  SELECT pg_backend_pid() % current_setting('ledger.house_slots')::integer;
$$;

-- Adds `p_delta` to a balance without a check (a credit, or a debit of an external account):
-- the account's row, or this connection's slot of a house account; creates the row if missing.
CREATE FUNCTION add_balance(p_account text, p_asset text, p_delta bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF is_house_account(p_account) THEN
    INSERT INTO house_balances AS h (account, asset, slot, balance, version)
    VALUES (p_account, p_asset, house_slot(), p_delta, 1)
    ON CONFLICT (account, asset, slot)
      DO UPDATE SET balance = h.balance + excluded.balance, version = h.version + 1;
  ELSE
    INSERT INTO balances AS b (account, asset, balance, version)
    VALUES (p_account, p_asset, p_delta, 1)
    ON CONFLICT (account, asset)
      DO UPDATE SET balance = b.balance + excluded.balance, version = b.version + 1;
  END IF;
END
$$;

-- Takes `p_amount` (> 0) from a balance. A protected account must not go below zero: returns
-- false, with nothing changed, if it would. A house account takes it from this connection's
-- slot, or, if that slot is short, from all its slots in turn (drain_house_balance).
CREATE FUNCTION take_balance(p_account text, p_asset text, p_amount bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT is_protected_account(p_account) THEN
    PERFORM add_balance(p_account, p_asset, -p_amount);
  ELSIF is_house_account(p_account) THEN
    UPDATE house_balances SET balance = balance - p_amount, version = version + 1
     WHERE account = p_account AND asset = p_asset AND slot = house_slot()
       AND balance >= p_amount;
    IF FOUND THEN
      RETURN true;
    END IF;
    RETURN drain_house_balance(p_account, p_asset, p_amount);
  ELSE
    UPDATE balances SET balance = balance - p_amount, version = version + 1
     WHERE account = p_account AND asset = p_asset AND balance >= p_amount;
    RETURN FOUND;
  END IF;
  RETURN true;
END
$$;

-- Takes `p_amount` from a protected house account whose own slot is short: locks all its slots
-- (in slot order) and takes from each in turn what it holds, so that none goes below zero.
-- Returns false, with nothing changed, if the slots hold less in total.
CREATE FUNCTION drain_house_balance(p_account text, p_asset text, p_amount bigint)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  held record;
  remaining bigint := p_amount;
  take bigint;
BEGIN
  IF coalesce((SELECT sum(h.balance)
                 FROM (SELECT balance FROM house_balances
                        WHERE account = p_account AND asset = p_asset
                        ORDER BY slot FOR UPDATE) AS h), 0) < p_amount THEN
    RETURN false;
  END IF;
  FOR held IN SELECT h.slot, h.balance FROM house_balances h
               WHERE h.account = p_account AND h.asset = p_asset AND h.balance > 0
               ORDER BY h.slot LOOP
    EXIT WHEN remaining = 0;
    take := least(held.balance, remaining);
    UPDATE house_balances SET balance = balance - take, version = version + 1
     WHERE account = p_account AND asset = p_asset AND slot = held.slot;
    remaining := remaining - take;
  END LOOP;
  RETURN true;
END
$$;

-- One posting as it appears in event payloads. STABLE like jsonb_build_object, so that the
-- planner inlines it (a SQL function declared less volatile than its body is called instead,
-- at some 40 us a call).
CREATE FUNCTION posting_json(p_from text, p_to text, p_asset text, p_amount bigint)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('from', p_from, 'to', p_to, 'asset', p_asset, 'amount', p_amount);
$$;

-- round(numerator / denominator), halves up, for numerator >= 0 and denominator > 0
-- (ledgerd's DivideRoundHalfUp).
CREATE FUNCTION divide_round_half_up(p_numerator bigint, p_denominator bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
  SELECT (2 * p_numerator + p_denominator) / (2 * p_denominator);
$$;

-- ChangeAsset: amount > 0 credits `p_account` from "external:<source>", amount < 0 debits it
-- (refused if the account would go below zero). Idempotency key "key/<client>|<key>".
CREATE FUNCTION change_asset(p_client text, p_idempotency_key text, p_account text,
                             p_asset text, p_amount bigint, p_source text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  key text := 'key/' || p_client || '|' || p_idempotency_key;
  counterparty text := 'external:' || p_source;
  fingerprint bytea := sha256(convert_to(concat_ws('|', 'ChangeAsset', p_client, p_account,
                                                   p_asset, p_amount, p_source), 'UTF8'));
  position bigint;
BEGIN
  IF p_amount = 0 OR p_account = counterparty OR lock_class(p_account) = 4 THEN
    RETURN 'invalid';  -- (an external account would break the locking order)
  END IF;
  position := claim_key(key, fingerprint);
  IF position IS NULL THEN
    RETURN repeated_outcome(key, fingerprint);
  END IF;
  IF p_amount > 0 THEN
    PERFORM add_balance(p_account, p_asset, p_amount);
  ELSIF NOT take_balance(p_account, p_asset, -p_amount) THEN
    PERFORM release_key(key);
    RETURN 'rejected';
  END IF;
  PERFORM add_balance(counterparty, p_asset, -p_amount);
  INSERT INTO events (position, stream, type, idempotency_key, payload)
  VALUES (position, 'account/' || p_account, 'AssetChanged', key,
          jsonb_build_object('account', p_account, 'asset', p_asset, 'amount', p_amount,
                             'counterparty', counterparty, 'source', p_source,
                             'postings', jsonb_build_array(CASE WHEN p_amount > 0
                               THEN posting_json(counterparty, p_account, p_asset, p_amount)
                               ELSE posting_json(p_account, counterparty, p_asset, -p_amount)
                             END)));
  RETURN 'accepted';
END
$$;

-- SettleOrder: the payer pays `p_gross` to the merchant, and the merchant pays each split
-- round(gross * bps / 10000) (halves up); the merchant's line is the remainder. Idempotency key
-- "order/<id>" (an order settles once). The payer is a user, the merchant and the splits are
-- protected non-user accounts (locking order).
CREATE FUNCTION settle_order(p_order_id text, p_merchant text, p_payer text, p_asset text,
                             p_gross bigint, p_split_accounts text[], p_split_kinds text[],
                             p_split_bps integer[]) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  key text := 'order/' || p_order_id;
  fingerprint bytea := sha256(convert_to(concat_ws('|', 'SettleOrder', p_order_id, p_merchant,
      p_payer, p_asset, p_gross, array_to_string(p_split_accounts, ','),
      array_to_string(p_split_kinds, ','), array_to_string(p_split_bps, ',')), 'UTF8'));
  position bigint;
  line_amounts bigint[];
  splits_sum bigint;
  credit record;
BEGIN
  IF p_gross <= 0 OR p_payer = p_merchant OR lock_class(p_payer) <> 2
     OR lock_class(p_merchant) <> 3 OR p_merchant = ANY (p_split_accounts)
     OR cardinality(p_split_kinds) IS DISTINCT FROM cardinality(p_split_accounts)
     OR cardinality(p_split_bps) IS DISTINCT FROM cardinality(p_split_accounts)
     OR EXISTS (SELECT FROM unnest(p_split_accounts, p_split_bps) AS s(account, bps)
                 WHERE bps NOT BETWEEN 1 AND 10000 OR lock_class(account) <> 3) THEN
    RETURN 'invalid';
  END IF;
  line_amounts := ARRAY(SELECT divide_round_half_up(p_gross * bps, 10000)
                          FROM unnest(p_split_bps) WITH ORDINALITY AS s(bps, i) ORDER BY i);
  splits_sum := coalesce((SELECT sum(a) FROM unnest(line_amounts) AS a), 0);
  IF splits_sum > p_gross THEN
    RETURN 'rejected';
  END IF;
  position := claim_key(key, fingerprint);
  IF position IS NULL THEN
    RETURN repeated_outcome(key, fingerprint);
  END IF;
  IF NOT take_balance(p_payer, p_asset, p_gross) THEN
    PERFORM release_key(key);
    RETURN 'rejected';
  END IF;
  -- The merchant keeps gross minus the splits; every line is a credit, in the locking order.
  FOR credit IN SELECT account, sum(amount)::bigint AS amount
                  FROM unnest(p_split_accounts || p_merchant,
                              line_amounts || (p_gross - splits_sum)) AS l(account, amount)
                 WHERE amount > 0 GROUP BY account ORDER BY account LOOP
    PERFORM add_balance(credit.account, p_asset, credit.amount);
  END LOOP;
  INSERT INTO orders (order_id, merchant, payer, asset, gross, line_accounts, line_kinds,
                      line_amounts)
  VALUES (p_order_id, p_merchant, p_payer, p_asset, p_gross, p_split_accounts || p_merchant,
          p_split_kinds || 'merchant'::text, line_amounts || (p_gross - splits_sum));
  INSERT INTO events (position, stream, type, idempotency_key, payload)
  SELECT position, 'order/' || p_order_id, 'OrderSettled', key,
         jsonb_build_object('order_id', p_order_id, 'merchant', p_merchant, 'payer', p_payer,
                            'asset', p_asset, 'gross', p_gross,
                            'lines', jsonb_agg(jsonb_build_object('to', l.account,
                                       'kind', l.kind, 'amount', l.amount, 'bps', l.bps)
                                       ORDER BY l.i),
                            'postings', jsonb_build_array(
                                posting_json(p_payer, p_merchant, p_asset, p_gross))
                                || coalesce(jsonb_agg(posting_json(p_merchant, l.account,
                                       p_asset, l.amount) ORDER BY l.i)
                                       FILTER (WHERE l.amount > 0 AND l.account <> p_merchant),
                                   '[]'))
    FROM unnest(p_split_accounts || p_merchant, p_split_kinds || 'merchant'::text,
                line_amounts || (p_gross - splits_sum), p_split_bps)
         WITH ORDINALITY AS l(account, kind, amount, bps, i);
  RETURN 'accepted';
END
$$;

-- RefundOrder: returns `p_amount` of an order to its payer. Each split line gives back its share
-- with cumulative rounding (after refunds totalling T a line has returned round(line * T /
-- gross)), the merchant the rest, as in ledgerd. Refused beyond the gross, or if an account that
-- gives back is short. Key "refund/<order>|<refund>".
CREATE FUNCTION refund_order(p_order_id text, p_refund_id text, p_amount bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  key text := 'refund/' || p_order_id || '|' || p_refund_id;
  fingerprint bytea := sha256(convert_to(concat_ws('|', 'RefundOrder', p_order_id,
                                                   p_refund_id, p_amount), 'UTF8'));
  position bigint;
  settled orders%ROWTYPE;
  shares bigint[];
  posting record;
BEGIN
  IF p_amount <= 0 THEN
    RETURN 'invalid';
  END IF;
  position := claim_key(key, fingerprint);
  IF position IS NULL THEN
    RETURN repeated_outcome(key, fingerprint);
  END IF;
  SELECT * INTO settled FROM orders WHERE order_id = p_order_id FOR UPDATE;
  IF NOT FOUND OR p_amount > settled.gross - settled.refunded THEN
    PERFORM release_key(key);
    RETURN CASE WHEN settled.order_id IS NULL THEN 'not_found' ELSE 'rejected' END;
  END IF;
  -- Each split line's share of this refund; the merchant's line (the last) gives the rest.
  shares := ARRAY(SELECT divide_round_half_up(line * (settled.refunded + p_amount), settled.gross)
                         - divide_round_half_up(line * settled.refunded, settled.gross)
                    FROM unnest(settled.line_amounts[1:cardinality(settled.line_amounts) - 1])
                         WITH ORDINALITY AS l(line, i) ORDER BY i);
  shares := shares || (p_amount - coalesce((SELECT sum(s) FROM unnest(shares) AS s), 0));
  BEGIN  -- A subtransaction: a refused posting undoes the ones before it.
    FOR posting IN SELECT account, sum(delta)::bigint AS delta
                     FROM (SELECT unnest(settled.line_accounts) AS account,
                                  -unnest(shares) AS delta
                           UNION ALL SELECT settled.payer, p_amount) AS p
                    GROUP BY account
                    ORDER BY lock_class(account), account LOOP
      IF posting.delta >= 0 THEN
        PERFORM add_balance(posting.account, settled.asset, posting.delta);
      ELSIF NOT take_balance(posting.account, settled.asset, -posting.delta) THEN
        RAISE EXCEPTION USING ERRCODE = 'LDG01';
      END IF;
    END LOOP;
  EXCEPTION WHEN SQLSTATE 'LDG01' THEN
    PERFORM release_key(key);
    RETURN 'rejected';
  END;
  UPDATE orders SET refunded = refunded + p_amount WHERE order_id = p_order_id;
  INSERT INTO events (position, stream, type, idempotency_key, payload)
  SELECT position, 'order/' || p_order_id, 'OrderRefunded', key,
         jsonb_build_object('order_id', p_order_id, 'refund_id', p_refund_id,
                            'merchant', settled.merchant, 'payer', settled.payer,
                            'asset', settled.asset, 'amount', p_amount,
                            'refunded_total', settled.refunded + p_amount,
                            'lines', jsonb_agg(jsonb_build_object('to', l.account,
                                       'kind', l.kind, 'amount', l.share) ORDER BY l.i),
                            'postings', coalesce(jsonb_agg(posting_json(l.account,
                                       settled.merchant, settled.asset, l.share) ORDER BY l.i)
                                       FILTER (WHERE l.share > 0
                                               AND l.account <> settled.merchant), '[]')
                                || jsonb_build_array(posting_json(settled.merchant,
                                       settled.payer, settled.asset, p_amount)))
    FROM unnest(settled.line_accounts, settled.line_kinds, shares)
         WITH ORDINALITY AS l(account, kind, share, i);
  RETURN 'accepted';
END
$$;

-- PayOut: the merchant pays `p_amount` to "external:bank:<bank account>"; refused if the
-- merchant's balance is short. Key "payout/<id>".
CREATE FUNCTION pay_out(p_payout_id text, p_merchant text, p_asset text, p_amount bigint,
                        p_bank_account text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  key text := 'payout/' || p_payout_id;
  bank text := 'external:bank:' || p_bank_account;
  fingerprint bytea := sha256(convert_to(concat_ws('|', 'PayOut', p_payout_id, p_merchant,
                                                   p_asset, p_amount, p_bank_account), 'UTF8'));
  position bigint;
BEGIN
  IF p_amount <= 0 OR lock_class(p_merchant) <> 3 THEN
    RETURN 'invalid';
  END IF;
  position := claim_key(key, fingerprint);
  IF position IS NULL THEN
    RETURN repeated_outcome(key, fingerprint);
  END IF;
  IF NOT take_balance(p_merchant, p_asset, p_amount) THEN
    PERFORM release_key(key);
    RETURN 'rejected';
  END IF;
  PERFORM add_balance(bank, p_asset, p_amount);
  INSERT INTO events (position, stream, type, idempotency_key, payload)
  VALUES (position, 'account/' || p_merchant, 'MerchantPaidOut', key,
          jsonb_build_object('payout_id', p_payout_id, 'merchant', p_merchant,
                             'asset', p_asset, 'amount', p_amount,
                             'bank_account', p_bank_account,
                             'postings', jsonb_build_array(
                               posting_json(p_merchant, bank, p_asset, p_amount))));
  RETURN 'accepted';
END
$$;

-- GrantVoucher: counts one grant against the campaign's budget (refused when exhausted or
-- outside its validity) and the user's per-campaign limit, and moves the campaign's unit amount
-- of its asset from the funding account (external: see campaigns in schema.sql) to the user.
-- Key "grant/<campaign>|<grant>".
CREATE FUNCTION grant_voucher(p_campaign_id text, p_grant_id text, p_user text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  key text := 'grant/' || p_campaign_id || '|' || p_grant_id;
  fingerprint bytea := sha256(convert_to(concat_ws('|', 'GrantVoucher', p_campaign_id,
                                                   p_grant_id, p_user), 'UTF8'));
  position bigint;
  campaign record;
BEGIN
  IF lock_class(p_user) <> 2 THEN
    RETURN 'invalid';
  END IF;
  position := claim_key(key, fingerprint);
  IF position IS NULL THEN
    RETURN repeated_outcome(key, fingerprint);
  END IF;
  UPDATE campaigns SET granted = granted + 1
   WHERE campaign_id = p_campaign_id AND granted < budget
     AND now() >= valid_from AND now() < valid_until
  RETURNING asset, unit_amount, per_user_limit, funding_account INTO campaign;
  IF NOT FOUND THEN
    PERFORM release_key(key);
    RETURN CASE WHEN EXISTS (SELECT FROM campaigns WHERE campaign_id = p_campaign_id)
                THEN 'rejected' ELSE 'not_found' END;
  END IF;
  INSERT INTO voucher_grants AS g (campaign_id, user_account, grants)
  VALUES (p_campaign_id, p_user, 1)
  ON CONFLICT (campaign_id, user_account)
    DO UPDATE SET grants = g.grants + 1 WHERE g.grants < campaign.per_user_limit;
  IF NOT FOUND THEN
    UPDATE campaigns SET granted = granted - 1 WHERE campaign_id = p_campaign_id;
    PERFORM release_key(key);
    RETURN 'rejected';
  END IF;
  PERFORM add_balance(p_user, campaign.asset, campaign.unit_amount);
  PERFORM add_balance(campaign.funding_account, campaign.asset, -campaign.unit_amount);
  INSERT INTO events (position, stream, type, idempotency_key, payload)
  VALUES (position, 'campaign/' || p_campaign_id, 'VoucherGranted', key,
          jsonb_build_object('campaign_id', p_campaign_id, 'grant_id', p_grant_id,
                             'user', p_user, 'asset', campaign.asset,
                             'amount', campaign.unit_amount,
                             'postings', jsonb_build_array(posting_json(
                               campaign.funding_account, p_user, campaign.asset,
                               campaign.unit_amount))));
  RETURN 'accepted';
END
$$;
