"""Alerts sent to people: channels (webhook, e-mail, WeCom and DingTalk robots), the messages in the site's
language, and the dispatcher that watches new alerts and sends each once per channel (docs/notifications.md)."""

from monitor.notify.channels import DeliveryError, send
from monitor.notify.dispatcher import Dispatcher
from monitor.notify.messages import Message, compose

__all__ = ["DeliveryError", "Dispatcher", "Message", "compose", "send"]
