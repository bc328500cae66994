from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from legacy_monolith.accounts.models import Address, CustomerProfile, User

admin.site.register(User, UserAdmin)
admin.site.register(Address, list_display=("full_name", "city", "postcode", "country", "user"),
                    search_fields=("full_name", "user__email", "postcode"))
admin.site.register(CustomerProfile, list_display=("user", "loyalty_points", "lifetime_value"),
                    search_fields=("user__email",))
