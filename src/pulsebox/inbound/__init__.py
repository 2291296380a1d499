"""Inbound SMTP: the listener that takes bounces (RFC 3464 DSNs), complaints (RFC 5965 ARF) and
mailto unsubscribes (RFC 2369) addressed to the VERP and List-Unsubscribe addresses we send with.

``listener`` is the network shell (aiosmtpd), ``service`` the decision, ``dsn`` and ``arf`` pure
parsers over the stdlib ``email`` package, ``mime`` their shared helpers.
"""
