"""Balance and plan, from the account's ledger (document 004, Balance; spec README, resolved conflicts)."""
