from django.conf import settings
from django.db import models


class ReportRun(models.Model):
    kind = models.CharField(max_length=50)
    params = models.JSONField(default=dict)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True)
    row_count = models.PositiveIntegerField(default=0)


class DailySalesSnapshot(models.Model):
    day = models.DateField(unique=True)
    orders_count = models.PositiveIntegerField()
    revenue = models.DecimalField(max_digits=14, decimal_places=2)
    units_sold = models.PositiveIntegerField()
    top_category = models.ForeignKey("catalog.Category", null=True, on_delete=models.SET_NULL)
