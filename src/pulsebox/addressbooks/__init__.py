"""Mailing lists ("books") and their contacts (an email in a book): document 004, Mailing lists."""
