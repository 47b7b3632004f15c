-- SettleOrder, 20% of the mix, as ledger-bench mix: a funded payer pays 1.00..1000.00 CNY to one
-- of the merchants, with 2..4 splits (3..5 lines with the merchant's remainder): platform:fees
-- 300 bps (commission), host:<h> 100 bps (host_commission), platform:share 50 bps
-- (platform_share), platform:tech 20 bps (technical_service_fee). Keep it in step with the seed
-- orders in seed.sql. pgbench reads ":name" as a variable even inside a string literal, hence
-- 'platform:' || 'fees'; the ::text casts let the server type the parameters inside ARRAY[].
\set payer random(0, :payers - 1)
\set merchant random(0, :merchants - 1)
\set host random(0, :hosts - 1)
\set gross random(100, 100000)
\set splits random(2, 4)
\set order random(1, 4611686018427387903)
SELECT settle_order('o-' || :order, 'merchant:' || :merchant, 'user:' || :payer, 'CNY', :gross,
  (ARRAY['platform:' || 'fees', 'host:'::text || :host, 'platform:' || 'share',
         'platform:' || 'tech'])[1:(:splits)],
  (ARRAY['commission', 'host_commission', 'platform_share', 'technical_service_fee'])[1:(:splits)],
  (ARRAY[300, 100, 50, 20])[1:(:splits)]);
