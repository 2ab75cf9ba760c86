-- Subject-matter-expert fraud rules, version 1 (the three rules of the original Databricks fraud blog).
-- Format: each rule is "-- rule: <name>" followed by one Spark SQL boolean expression ending in ";".
-- A transaction is labelled fraud when any rule is true (a rule that evaluates to NULL counts as false).
-- Columns: the transactions contract (type, amount, old_balance_orig, new_balance_orig, old_balance_dest, ...).

-- rule: small_origin_transfer_to_empty_dest
old_balance_orig <= 56900 AND type = 'TRANSFER' AND new_balance_dest <= 105;

-- rule: large_origin_emptied
old_balance_orig > 56900 AND new_balance_orig <= 12;

-- rule: large_origin_very_large_amount
old_balance_orig > 56900 AND new_balance_orig > 12 AND amount > 1160000;
