"""The admin UI's contacts section: a contact's page (``/ui/contacts/{email}``: one address across the
signed-in account, its status, variables and date added in each list, whether it is on the blacklist and
the SMTP unsubscribe list, the campaigns sent to it with what it did with each, and its newest 100 events:
copies sent, opens, clicks, unsubscribes, bounces and complaints), the page's two actions (remove the
address from one list; put it on or take it off the blacklist), and a list's CSV export
(``/ui/lists/{id}/export.csv``, optionally one segment's contacts), streamed a keyset batch of 5,000
contacts at a time, each batch its own short read, every cell a spreadsheet could run as a formula
escaped, and readable as it is by the UI's own CSV import."""
