"""The admin UI's templates pages (``/ui/templates``): the account's templates and the system ones,
newest first; creating one and editing its body read the form exactly as ``POST /template`` and
``POST /template/edit/{id}`` read their requests (the same checks and messages: the ``id`` changes on
every edit while ``real_id`` stays, the language cannot change, system templates are read-only), with a
live preview of the HTML in a sandboxed frame (``static/ui.js``). Named ``mailtemplates`` because
``web/templates`` is the folder of the pages' Jinja2 templates."""
