from datetime import date, timedelta

from celery import shared_task
from django.utils import timezone

from legacy_monolith.reporting.models import DailySalesSnapshot, ReportRun
from legacy_monolith.reporting.queries import daily_sales, sales_by_category


@shared_task(name="reporting.build_daily_sales_snapshot")
def build_daily_sales_snapshot(day_iso: str | None = None) -> int:
    day = date.fromisoformat(day_iso) if day_iso else timezone.localdate() - timedelta(days=1)
    run = ReportRun.objects.create(kind="daily_sales_snapshot", params={"day": day.isoformat()})
    totals = daily_sales(day, day)
    categories = sales_by_category(day, day)
    orders = totals[0].orders if totals else 0
    DailySalesSnapshot.objects.update_or_create(
        day=day,
        defaults={
            "orders_count": orders,
            "revenue": totals[0].revenue if totals else 0,
            "units_sold": sum(c.units for c in categories),
            "top_category_id": categories[0].category_id if categories else None,
        },
    )
    ReportRun.objects.filter(pk=run.pk).update(finished_at=timezone.now(), row_count=len(categories))
    return orders
