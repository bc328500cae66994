from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from legacy_monolith.notifications.models import Notification, NotificationPreference

FIELDS = ("email_orders", "email_marketing", "email_back_in_stock")


@login_required
def preferences(request):
    pref, _ = NotificationPreference.objects.get_or_create(user=request.user)
    if request.method == "POST":
        for field in FIELDS:
            setattr(pref, field, request.POST.get(field) == "on")
        pref.save()
        request.user.marketing_opt_in = pref.email_marketing
        request.user.save(update_fields=["marketing_opt_in"])
        messages.success(request, "Preferences saved.")
        return redirect("notifications:preferences")
    recent = Notification.objects.filter(user=request.user).select_related("template").order_by("-created_at")[:10]
    return render(request, "notifications/preferences.html", {"pref": pref, "fields": FIELDS, "recent": recent})
