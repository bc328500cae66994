from django.contrib import admin

from legacy_monolith.payments.models import Invoice, Payment, Refund

admin.site.register(Payment, list_display=("reference", "order", "amount", "status", "captured_at"),
                    list_filter=("status", "provider"), search_fields=("reference", "order__number"))
admin.site.register(Refund, list_display=("payment", "amount", "reason", "created_at"))
admin.site.register(Invoice, list_display=("number", "order", "total", "issued_at"), search_fields=("number",))
