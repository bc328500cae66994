from django.conf import settings
from django.db import models

from legacy_monolith.core.models import TimeStampedModel


class EmailTemplate(models.Model):
    key = models.SlugField(unique=True)
    subject = models.CharField(max_length=200)
    body = models.TextField(help_text="Django template syntax")

    def __str__(self) -> str:
        return self.key


class Notification(TimeStampedModel):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    to_email = models.EmailField()
    template = models.ForeignKey(EmailTemplate, null=True, on_delete=models.SET_NULL)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)


class NotificationPreference(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, related_name="notification_preference", on_delete=models.CASCADE)
    email_orders = models.BooleanField(default=True)
    email_marketing = models.BooleanField(default=False)
    email_back_in_stock = models.BooleanField(default=True)
