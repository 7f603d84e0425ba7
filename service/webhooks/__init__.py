"""Provider delivery webhooks: verified events about sent emails, recorded in the outbox.

:mod:`service.webhooks.base` says what one provider's webhook is;
:mod:`service.webhooks.receive` is everything shared (which providers have a
route, the replay window, recording, alarms). The route itself is
:mod:`service.api.webhooks`.
"""
