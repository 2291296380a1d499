"""The admin UI (``/ui``): sign-in per account with server-side sessions, and the pages over the
areas' services (never their repositories)."""
