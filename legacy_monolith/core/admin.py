from django.contrib import admin

from legacy_monolith.core.models import AuditEntry, SiteSetting

admin.site.register(SiteSetting, list_display=("key", "value"), search_fields=("key",))
admin.site.register(AuditEntry, list_display=("created_at", "actor", "action", "content_type", "object_id"),
                    list_filter=("action", "content_type"))
