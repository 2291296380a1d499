"""The account's blacklist: addresses no send path may mail (document 004, Blacklist)."""
