"""OAuth 2 client-credentials tokens (``POST /oauth/access_token``) and bearer authentication."""
