"""The SMTP (transactional) service and the outbox all mail goes through."""
