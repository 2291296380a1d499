"""One email address across all of an account's mailing lists: document 004, Email address."""
