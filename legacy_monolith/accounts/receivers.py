from django.db.models.signals import post_save
from django.dispatch import receiver

from legacy_monolith.accounts.models import CustomerProfile, User
from legacy_monolith.notifications.models import NotificationPreference


@receiver(post_save, sender=User, dispatch_uid="accounts.create_profile")
def create_profile_and_preferences(sender, instance, created, **kwargs):
    """Every new user gets a profile and default notification preferences (a cross-app write)."""
    if created:
        CustomerProfile.objects.get_or_create(user=instance)
        NotificationPreference.objects.get_or_create(user=instance)
