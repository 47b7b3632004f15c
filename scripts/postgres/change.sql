-- ChangeAsset, 60% of the mix, as ledger-bench mix: 9 in 10 credit 1.00..500.00 CNY to a user
-- chosen among all users, from external:topup; 1 in 10 debit 0.01..5.00 CNY of a funded payer,
-- to external:spend (refused below zero). The idempotency key is random in 1..2^62: unique
-- within any run (a repeat would be answered as a replay or a conflict, not as an error).
\set debit random(0, 9) = 0
\set key random(1, 4611686018427387903)
\if :debit
\set user_number random(0, :payers - 1)
\set amount -1 * random(1, 500)
SELECT change_asset('bench', :key, 'user:' || :user_number, 'CNY', :amount, 'spend');
\else
\set user_number random(0, :users - 1)
\set amount random(100, 50000)
SELECT change_asset('bench', :key, 'user:' || :user_number, 'CNY', :amount, 'topup');
\endif
