"""The admin UI's web push pages (``/ui/push``): the account's websites with their snippet (the script
tag, the service worker a site serves at its root, the appkey and VAPID public key), their subscribers
(a page of 50, newest first, keyset-paged; activated or deactivated as ``POST /push/subscriptions/state``
does), their variables, and push campaigns (SendPulse: push tasks): created through the API's own
request parser for ``POST /push/tasks``, listed newest first with their sends' counts."""
