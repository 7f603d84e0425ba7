"""Provider webhook payloads as each provider documents them, one builder per event.

Each builder returns the documented example (fields and values as the page
shows them), with the message id, recipient and outbox id a test needs
substituted. Pages (read 2026-11-27):

* Resend — https://resend.com/docs/webhooks/emails/bounced (and the sibling
  pages ``delivered``, ``delivery_delayed``, ``complained``, ``failed``, ``opened``):
  ``{"type", "created_at", "data": {"email_id", "from", "to", "subject",
  "created_at", "tags", "bounce"?}}``.
* Postmark — https://postmarkapp.com/developer/webhooks/delivery-webhook,
  https://postmarkapp.com/developer/webhooks/bounce-webhook,
  https://postmarkapp.com/developer/webhooks/spam-complaint-webhook,
  https://postmarkapp.com/developer/webhooks/open-tracking-webhook.
* SendGrid — https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event
  (the "example of each type of event" array; ids as in its examples).
* Mailgun — https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/webhook-payloads
  (Delivered, Permanent Failure, Temporary Failure, Complained, Opened events).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["mailgun", "postmark", "resend", "sendgrid"]
__all__ += ["acs", "event_grid_validation", "ses", "sparkpost"]  # the second block below

RESEND_EVENTS = {
    "delivered": "email.delivered",
    "deferred": "email.delivery_delayed",
    "bounced": "email.bounced",
    "complained": "email.complained",
    "rejected": "email.failed",
    "unknown": "email.opened",
}


def resend(event: str, *, email_id: str, to: str, outbox_id: str | None = None) -> dict[str, Any]:
    """Resend's payload for ``event`` (a normalised name, or ``unknown`` for an open)."""
    data: dict[str, Any] = {
        "broadcast_id": "8b146471-e88e-4322-86af-016cd36fd216",
        "created_at": "2024-11-22T23:41:11.894719+00:00",
        "email_id": email_id,
        "from": "Acme <onboarding@resend.dev>",
        "to": [to],
        "subject": "Sending this example",
        "tags": {"category": "confirm_email"} | ({"outbox_id": outbox_id} if outbox_id else {}),
    }
    if event == "bounced":
        data["bounce"] = {
            "message": (
                "The recipient's email address is on the suppression list because it has a "
                "recent history of producing hard bounces."
            ),
            "subType": "Suppressed",
            "type": "Permanent",
        }
    return {"type": RESEND_EVENTS[event], "created_at": "2024-11-22T23:41:12.126Z", "data": data}


def postmark(
    event: str,
    *,
    message_id: str,
    to: str,
    outbox_id: str | None = None,
    bounce: str = "HardBounce",
) -> dict[str, Any]:
    """Postmark's payload: delivered, bounced, complained, or ``unknown`` (an open)."""
    metadata = {"a_key": "a_value"} | ({"outbox_id": outbox_id} if outbox_id else {})
    if event == "delivered":
        return {
            "RecordType": "Delivery",
            "ServerID": 23,
            "MessageStream": "outbound",
            "MessageID": message_id,
            "Recipient": to,
            "Tag": "welcome-email",
            "DeliveredAt": "2021-02-21T16:34:52Z",
            "Details": "Test delivery webhook details",
            "Metadata": metadata,
        }
    if event == "unknown":
        return {
            "RecordType": "Open",
            "MessageStream": "outbound",
            "Metadata": metadata,
            "FirstOpen": True,
            "Recipient": to,
            "MessageID": message_id,
            "ReceivedAt": "2019-11-05T16:33:54.9070259Z",
            "Platform": "WebMail",
            "ReadSeconds": 5,
            "Tag": "welcome-email",
            "UserAgent": "Mozilla/5.0 (Windows NT 6.1; WOW64)",
        }
    complaint = event == "complained"
    return {
        "RecordType": "SpamComplaint" if complaint else "Bounce",
        "MessageStream": "outbound",
        "ID": 42 if complaint else 4323372036854775807,
        "Type": "SpamComplaint" if complaint else bounce,
        "TypeCode": 512 if complaint else (1 if bounce == "HardBounce" else 4096),
        "Name": "Spam complaint" if complaint else "Hard bounce",
        "Tag": "Test",
        "MessageID": message_id,
        "Metadata": metadata,
        "ServerID": 23,
        "Description": (
            "The server was unable to deliver your message (ex: unknown user, mailbox not found)."
        ),
        "Details": "Test bounce details",
        "Email": to,
        "From": "sender@example.com",
        "BouncedAt": "2019-11-05T16:33:54.9070259Z",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Test subject",
        "Content": "<Full dump of bounce>",
    }


SENDGRID_EVENTS = {
    "delivered": {"event": "delivered", "response": "250 OK"},
    "deferred": {"event": "deferred", "response": "400 try again later", "attempt": "5"},
    "bounced": {
        "event": "bounce",
        "reason": "500 unknown recipient",
        "status": "5.0.0",
        "type": "bounce",
        "bounce_classification": "Invalid Address",
    },
    "rejected": {"event": "dropped", "reason": "Bounced Address", "status": "5.0.0"},
    "complained": {"event": "spamreport"},
    "unknown": {"event": "open", "useragent": "Mozilla/4.0", "ip": "255.255.255.255"},
}


def sendgrid(
    event: str, *, message_id: str, to: str, event_id: str, outbox_id: str | None = None
) -> dict[str, Any]:
    """One event of SendGrid's array; ``message_id`` is the ``X-Message-Id`` of the send."""
    item: dict[str, Any] = {
        "email": to,
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "category": "cat facts",
        "sg_event_id": event_id,
        "sg_message_id": f"{message_id}.filter0001.16648.5515E0B88.0",
        **SENDGRID_EVENTS[event],
    }
    if outbox_id:
        item["outbox_id"] = outbox_id
    return item


def mailgun(
    event: str, *, message_id: str, to: str, event_id: str, outbox_id: str | None = None
) -> dict[str, Any]:
    """Mailgun's ``event-data`` for ``event``; ``message_id`` is the Message-ID without brackets."""
    data: dict[str, Any] = {
        "id": event_id,
        "timestamp": 1770146431.6585283,
        "log-level": "info",
        "envelope": {"transport": "smtp", "sender": "sender@sample.mailgun.com", "targets": to},
        "flags": {"is-authenticated": True, "is-test-mode": False},
        "message": {
            "headers": {
                "to": to,
                "message-id": message_id,
                "from": "Sample Sender <sender@sample.mailgun.com>",
                "subject": "Sample webhook payload",
            },
            "size": 341,
        },
        "recipient": to,
        "recipient-domain": to.rpartition("@")[2],
        "tags": ["webhook_payload"],
        "user-variables": {"outbox_id": outbox_id} if outbox_id else {},
    }
    if event == "delivered":
        data |= {
            "event": "delivered",
            "delivery-status": {"code": 250, "message": "OK", "description": ""},
        }
    elif event in ("bounced", "deferred"):
        permanent = event == "bounced"
        data |= {
            "event": "failed",
            "severity": "permanent" if permanent else "temporary",
            "reason": "bounce" if permanent else "generic",
            "delivery-status": {
                "code": 550 if permanent else 452,
                "message": "No such user" if permanent else "Mailbox full",
                "description": "",
                "attempt-no": 1,
                "bounce-code": "5.1.1" if permanent else "4.2.2",
            },
        }
    elif event == "rejected":
        data |= {"event": "failed", "severity": "permanent", "reason": "suppress-bounce"}
    elif event == "complained":
        data |= {"event": "complained"}
    else:
        data |= {"event": "opened", "geolocation": {"country": "US"}}
    return data


# --- SparkPost, Azure Communication Services (Event Grid), Amazon SES (SNS) ---------------
# Pages (read 2026-11-27):
# * SparkPost — https://developers.sparkpost.com/api/webhooks/ and the event samples of
#   https://developers.sparkpost.com/api/events/ (GET /api/v1/events/samples).
# * ACS — https://learn.microsoft.com/en-us/azure/event-grid/communication-services-email-events
#   and https://learn.microsoft.com/en-us/azure/event-grid/webhook-event-delivery.
# * SES — https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-examples.html.

SPARKPOST_EVENTS: dict[str, dict[str, Any]] = {
    "delivered": {"type": "delivery", "queue_time": "12", "outbound_tls": "1"},
    "deferred": {
        "type": "delay",
        "bounce_class": "21",
        "error_code": "454",
        "reason": "454 4.4.4 [internal] no MX or A for domain",
        "raw_reason": "454 4.4.4 [internal] no MX or A for domain",
        "num_retries": "1",
    },
    "bounced": {
        "type": "bounce",
        "bounce_class": "10",
        "error_code": "554",
        "reason": "000 Example Remote MTA Bounce Message",
        "raw_reason": "000 Example Remote MTA Bounce Message",
    },
    "rejected": {
        "type": "policy_rejection",
        "bounce_class": "25",
        "error_code": "554",
        "reason": "550 5.7.1 Unsubscribed recipient",
        "remote_addr": "127.0.0.1",
    },
    "complained": {"type": "spam_complaint", "fbtype": "abuse", "report_by": "server.email.com"},
    "unknown": {"type": "injection", "ip_address": "127.0.0.1"},
}


def sparkpost(
    event: str,
    *,
    transmission_id: str,
    to: str,
    event_id: str,
    outbox_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One element of SparkPost's batch: ``{"msys": {"message_event": {...}}}``."""
    data: dict[str, Any] = {
        "campaign_id": "Example Campaign Name",
        "customer_id": "1",
        "delv_method": "esmtp",
        "event_id": event_id,
        "friendly_from": "sender@example.com",
        "injection_time": "2016-04-18T14:25:07.000Z",
        "ip_pool": "Example-Ip-Pool",
        "message_id": "000443ee14578172be22",
        "msg_from": "sender@example.com",
        "msg_size": "1337",
        "rcpt_meta": {"customKey": "customValue"} | ({"outbox_id": outbox_id} if outbox_id else {}),
        "rcpt_tags": ["male", "US"],
        "rcpt_to": to,
        "raw_rcpt_to": to,
        "rcpt_type": "cc",
        "routing_domain": to.rpartition("@")[2],
        "sending_ip": "127.0.0.1",
        "subject": "Summer deals are here!",
        "template_id": "my-template",
        "template_version": "1",
        "timestamp": "1460989507",
        "transmission_id": transmission_id,
        **SPARKPOST_EVENTS[event],
        **extra,
    }
    if event == "complained":
        data.pop("rcpt_type")
    return {"msys": {"track_event" if event == "unknown" else "message_event": data}}


ACS_STATUSES = {
    "delivered": "Delivered",
    "bounced": "Bounced",
    "rejected": "Suppressed",
    "unknown": "Expanded",
}


def acs(status: str, *, message_id: str, to: str, event_id: str) -> dict[str, Any]:
    """An ``EmailDeliveryReportReceived`` Event Grid event with ``status`` (ACS's own word)."""
    return {
        "id": event_id,
        "topic": (
            "/subscriptions/{subscription-id}/resourceGroups/{group-name}/providers/"
            "microsoft.communication/communicationservices/{communication-services-resource-name}"
        ),
        "subject": f"sender/senderid@azure.com/message/{message_id}",
        "data": {
            "sender": "senderid@azure.com",
            "recipient": to,
            "messageId": message_id,
            "status": status,
            "deliveryStatusDetails": {"statusMessage": "Status Message"},
            "deliveryAttemptTimeStamp": "2020-09-18T00:22:20.2855749+00:00",
        },
        "eventType": "Microsoft.Communication.EmailDeliveryReportReceived",
        "dataVersion": "1.0",
        "metadataVersion": "1",
        "eventTime": "2020-09-18T00:22:20.822Z",
    }


def event_grid_validation(code: str) -> list[dict[str, Any]]:
    """Event Grid's subscription validation event, as its webhook page shows it."""
    return [
        {
            "id": "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
            "topic": (
                "/subscriptions/xx/resourceGroups/xx/providers/Microsoft.Storage/storageAccounts/xx"
            ),
            "subject": "",
            "data": {
                "validationCode": code,
                "validationUrl": (
                    "https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/myeventsub/"
                    "validate?id=0000000000-0000-0000-0000-00000000000000"
                    "&t=2022-10-28T04:23:35.1981776Z&apiVersion=2018-05-01-preview&token=1A1A1A1A"
                ),
            },
            "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "eventTime": "2022-10-28T04:23:35.1981776Z",
            "metadataVersion": "1",
            "dataVersion": "1",
        }
    ]


SES_MAIL_TIMESTAMP = "2017-08-05T00:40:02.012Z"
SES_EVENTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "bounced": (
        "Bounce",
        "bounce",
        {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": "{to}",
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": "2017-08-05T00:41:02.669Z",
            "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
            "reportingMTA": "dsn; mta.example.com",
        },
    ),
    "complained": (
        "Complaint",
        "complaint",
        {
            "complainedRecipients": [{"emailAddress": "{to}"}],
            "timestamp": "2017-08-05T00:41:02.669Z",
            "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
            "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
            "complaintFeedbackType": "abuse",
            "arrivalDate": "2017-08-05T00:41:02.669Z",
        },
    ),
    "delivered": (
        "Delivery",
        "delivery",
        {
            "timestamp": "2016-10-19T23:21:04.133Z",
            "processingTimeMillis": 11893,
            "recipients": ["{to}"],
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "mta.example.com",
        },
    ),
    "rejected": ("Reject", "reject", {"reason": "Bad content"}),
    "deferred": (
        "DeliveryDelay",
        "deliveryDelay",
        {
            "timestamp": "2020-06-16T00:15:40.641Z",
            "delayType": "TransientCommunicationFailure",
            "expirationTime": "2020-06-16T00:25:40.914Z",
            "delayedRecipients": [
                {
                    "emailAddress": "{to}",
                    "status": "4.4.1",
                    "diagnosticCode": "smtp; 421 4.4.1 Unable to connect to remote host",
                }
            ],
        },
    ),
    "unknown": (
        "Open",
        "open",
        {
            "ipAddress": "192.0.2.1",
            "timestamp": "2017-08-09T22:00:19.652Z",
            "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 10_3_3 like Mac OS X)",
        },
    ),
}


def ses(event: str, *, message_id: str, to: str, outbox_id: str | None = None) -> dict[str, Any]:
    """SES's event record (the SNS ``Message``) for ``event``, from a configuration set."""
    kind, key, detail = SES_EVENTS[event]
    detail = json.loads(json.dumps(detail).replace("{to}", to))
    tags: dict[str, list[str]] = {
        "ses:configuration-set": ["ConfigSet"],
        "ses:source-ip": ["192.0.2.0"],
        "ses:from-domain": ["example.com"],
        "ses:caller-identity": ["ses_user"],
    }
    if outbox_id:
        tags["outbox_id"] = [outbox_id]
    return {
        "eventType": kind,
        key: detail,
        "mail": {
            "timestamp": SES_MAIL_TIMESTAMP,
            "source": "Sender Name <sender@example.com>",
            "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
            "sendingAccountId": "123456789012",
            "messageId": message_id,
            "destination": [to],
            "headersTruncated": False,
            "commonHeaders": {
                "from": ["Sender Name <sender@example.com>"],
                "to": [to],
                "messageId": message_id,
                "subject": "Message sent from Amazon SES",
            },
            "tags": tags,
        },
    }


# --- brevo, mailjet, mailersend --------------------------------------------------------
# Pages (read 2026-11-27):
# * Brevo — https://developers.brevo.com/docs/transactional-webhooks: the "Sent" example
#   below, field for field; every other event's section lists the same fields, with
#   ``event`` its name and, on failures, a ``reason`` (the reason texts here are ours).
# * Mailjet — https://dev.mailjet.com/email/guides/webhooks/ (github.com/mailjet/
#   api-documentation, guides/_event-api.md): the sample sent, bounce, blocked, spam and
#   open events; deferred is a soft bounce with the error table's ``greylisted``.
# * MailerSend — https://developers.mailersend.com/api/v1/webhooks.html: the
#   ``activity.sent`` example's envelope for every activity type; the bounce ``meta``
#   (``bounce_reason``, ``bounce_code``) is not on that page and is ours.

__all__ += ["brevo", "mailersend", "mailjet"]

BREVO_EVENTS = {
    "delivered": "delivered",
    "deferred": "deferred",
    "bounced": "hard_bounce",
    "complained": "spam",
    "rejected": "blocked",
    "unknown": "click",
}
BREVO_REASONS = {
    "deferred": "421 Service temporarily unavailable",
    "hard_bounce": "550 5.1.1 mailbox unavailable",
    "soft_bounce": "452 4.2.2 mailbox full",
    "blocked": "blocked : due to blacklist user",
}


def brevo(
    event: str, *, message_id: str, to: str, outbox_id: str | None = None, name: str | None = None
) -> dict[str, Any]:
    """Brevo's event (``name`` overrides the documented event name, e.g. ``soft_bounce``)."""
    brevo_name = name or BREVO_EVENTS[event]
    item: dict[str, Any] = {
        "event": brevo_name,
        "email": to,
        "id": 12345,
        "date": "2020-10-09 00:00:00",
        "ts": 1604933619,
        "message-id": message_id,
        "ts_event": 1604933654,
        "subject": "My first Transactional",
        "X-Mailin-custom": outbox_id or "some_custom_header",
        "sending_ip": "xxx.xxx.xxx.xxx",
        "ts_epoch": 1604933654,
        "template_id": 22,
        "mirror_link": "https://app-smtp.brevo.com/log/preview/1a2000f4-4e33-23aa-ab68-900dxxx9152c",
        "contact_id": 8,
        "tags": ["transac_messages"],
    }
    if brevo_name in BREVO_REASONS:
        item["reason"] = BREVO_REASONS[brevo_name]
    return item


MAILJET_EVENTS: dict[str, dict[str, Any]] = {
    "delivered": {
        "event": "sent",
        "mj_message_id": "19421777835146490",
        "smtp_reply": "sent (250 2.0.0 OK 1433333948 fa5si855896wjc.199 - gsmtp)",
    },
    "bounced": {
        "event": "bounce",
        "blocked": False,
        "hard_bounce": True,
        "error_related_to": "recipient",
        "error": "user unknown",
        "comment": (
            "Host or domain name not found. Name service error for"
            " name=lbjsnrftlsiuvbsren.com type=A: Host not found"
        ),
    },
    "deferred": {
        "event": "bounce",
        "blocked": False,
        "hard_bounce": False,
        "error_related_to": "domain",
        "error": "greylisted",
    },
    "rejected": {"event": "blocked", "error_related_to": "recipient", "error": "user unknown"},
    "complained": {"event": "spam", "source": "JMRPP"},
    "unknown": {
        "event": "open",
        "ip": "127.0.0.1",
        "geo": "US",
        "agent": "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0",
    },
}


def mailjet(
    event: str, *, message_id: str, to: str, outbox_id: str | None = None
) -> dict[str, Any]:
    """One Mailjet event; ``message_id`` is the ``Message_GUID`` (``MessageUUID`` at send)."""
    return {
        "time": 1430812195,
        "MessageID": 13792286917004336,
        "Message_GUID": message_id,
        "email": to,
        "mj_campaign_id": 0,
        "mj_contact_id": 0,
        "customcampaign": "",
        "CustomID": outbox_id or "helloworld",
        "Payload": "",
        **MAILJET_EVENTS[event],
    }


MAILERSEND_EVENTS = {
    "delivered": "activity.delivered",
    "deferred": "activity.deferred",
    "bounced": "activity.hard_bounced",
    "complained": "activity.spam_complaint",
    "unknown": "activity.sent",
}


def mailersend(
    event: str,
    *,
    message_id: str,
    to: str,
    event_id: str,
    outbox_id: str | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """MailerSend's ``activity.*`` event (``kind`` overrides, e.g. ``activity.soft_bounced``)."""
    kind = kind or MAILERSEND_EVENTS[event]
    bounced = kind.endswith("bounced")
    return {
        "type": kind,
        "created_at": "2025-08-05T21:23:54.000000Z",
        "data": {
            "id": event_id,
            "domain_id": "yv69oxl5kl785kw2",
            "message_id": message_id,
            "email_id": "6892766a8d52ba62543d5e71",
            "type": kind.partition(".")[2],
            "subject": "Test email",
            "email": to,
            "tags": [outbox_id] if outbox_id else ["test", "test2"],
            "meta": {"bounce_reason": "Mailbox full", "bounce_code": 452} if bounced else [],
        },
    }
