from django.dispatch import Signal

low_stock = Signal()  # kwargs: stock_item
