from django.dispatch import Signal

payment_captured = Signal()  # kwargs: payment
payment_refunded = Signal()  # kwargs: refund
