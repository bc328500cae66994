from django.shortcuts import get_object_or_404, render

from legacy_monolith.shipping.models import Shipment


def track(request, tracking_number):
    shipment = get_object_or_404(
        Shipment.objects.select_related("method__carrier", "order").prefetch_related("tracking_events"),
        tracking_number=tracking_number,
    )
    return render(request, "shipping/track.html", {"shipment": shipment})
