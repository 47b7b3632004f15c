-- GrantVoucher, 10% of the mix, as ledger-bench mix: one coupon of one of the 16 campaigns to a
-- user chosen among all users (budget and per-user limit checked, the campaign's coupon asset
-- credited to the user from external:marketing).
\set campaign random(0, :campaigns - 1)
\set user_number random(0, :users - 1)
\set grant random(1, 4611686018427387903)
SELECT grant_voucher('campaign-' || :campaign, 'g-' || :grant, 'user:' || :user_number);
