from django.contrib import admin

from legacy_monolith.notifications.models import EmailTemplate, Notification, NotificationPreference

admin.site.register(EmailTemplate, list_display=("key", "subject"))
admin.site.register(Notification, list_display=("to_email", "template", "status", "created_at", "sent_at"),
                    list_filter=("status", "template"))
admin.site.register(NotificationPreference, list_display=("user", "email_orders", "email_marketing"))
