"""The admin UI's campaign pages (``/ui/campaigns``): the list with each campaign's status and progress;
the form that makes one (a list or a segment, HTML with a live preview or a template, a sender, a
schedule, the tracking and UTM switches, a test send), read by the API's own parser; editing a
scheduled campaign or a draft and cancelling one, by the API's rules; and the report: per-status
figures, opens and clicks over time, clicks per link, opens by country, and the recipients behind each
figure, a keyset page at a time."""
