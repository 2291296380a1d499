"""Web push (document 002 "Web Push Notifications"): websites with their VAPID keys, browsers' subscriptions,
push campaigns sent over RFC 8030 with RFC 8291 encryption, and what browsers report back."""
