from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models


class TimeStampedModel(models.Model):
    """Abstract base most of the shop's models grew on."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class SiteSetting(models.Model):
    """Key/value knobs the ops team edits in the admin instead of deploying."""

    key = models.CharField(max_length=100, unique=True)
    value = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.key


class AuditEntry(TimeStampedModel):
    """Who did what to which object, written from every app through utils.audit()."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    action = models.CharField(max_length=50)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.CharField(max_length=64)
    target = GenericForeignKey("content_type", "object_id")
    message = models.TextField(blank=True)

    class Meta:
        db_table = "shop_audit_log"
        ordering = ["-created_at"]
        verbose_name_plural = "audit entries"
