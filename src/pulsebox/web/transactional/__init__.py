"""The admin UI's pages of the SMTP service (``/ui/log``, ``/ui/unsubscribes``): the transactional log
(the messages ``POST /smtp/emails`` accepted, newest first, with the filters of ``GET /smtp/emails`` and
a few of ours, keyset paged; a message's page with each copy, its outcome, the receiving server's
answer, its opens, clicks, unsubscribes and bounces, and its captured copy) and the SMTP unsubscribe
list (``/smtp/unsubscribe``: listed newest first by keyset, searched by address, added to with a
comment, removed from). Campaign copies and Pulsebox's own notices are not in the log: they are not
the SMTP service's (``GET /smtp/emails`` leaves them out too)."""
