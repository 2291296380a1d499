"""Email templates: the account's own and Pulsebox's built-in system ones (document 004, Templates)."""
