-- 5% of the mix, half each, as ledger-bench mix:
-- RefundOrder: 10% of the gross of one of the orders settled while seeding (seed order k has
--   gross 100 + (k * 7919) mod 99901, see seed.sql), back from its split lines and merchant to
--   the payer. (ledger-bench refunds an order its connection settled; pgbench keeps no state.)
-- PayOut: 0.01..0.50 CNY from a merchant to its bank account external:bank:b-<merchant>.
\set kind random(0, 1)
\set id random(1, 4611686018427387903)
\if :kind = 0
\set order random(1, :seed_orders)
\set amount greatest((100 + (:order * 7919) % 99901) / 10, 1)
SELECT refund_order('seed-' || :order, 'r-' || :id, :amount);
\else
\set merchant random(0, :merchants - 1)
\set amount random(1, 50)
SELECT pay_out('p-' || :id, 'merchant:' || :merchant, 'CNY', :amount, 'b-' || :merchant);
\endif
