"""Public endpoints answering the signed links in every message: open pixel, click redirect,
unsubscribe page and one-click POST (RFC 8058), double-opt-in confirmation."""
