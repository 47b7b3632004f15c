-- 5% of the mix: the balances of a user chosen among all users (every asset; none for a user
-- the run has not credited yet), as ledger-bench mix's GET /v1/accounts/user:<n>.
\set user_number random(0, :users - 1)
SELECT asset, balance, version FROM balances WHERE account = 'user:' || :user_number;
