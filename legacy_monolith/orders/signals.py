"""Signals other apps listen to; senders are the Order model."""

from django.dispatch import Signal

order_placed = Signal()  # kwargs: order
order_status_changed = Signal()  # kwargs: order, old_status, new_status
