from django.contrib import admin

from legacy_monolith.reporting.models import DailySalesSnapshot, ReportRun

admin.site.register(ReportRun, list_display=("kind", "started_at", "finished_at", "row_count"))
admin.site.register(DailySalesSnapshot, list_display=("day", "orders_count", "revenue", "units_sold"))
