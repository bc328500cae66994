import csv
from dataclasses import asdict, fields
from datetime import date, timedelta

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from legacy_monolith.reporting import queries


def _range(request) -> tuple[date, date]:
    today = timezone.localdate()
    try:
        start = date.fromisoformat(request.GET["start"])
    except (KeyError, ValueError):
        start = today - timedelta(days=30)
    try:
        end = date.fromisoformat(request.GET["end"])
    except (KeyError, ValueError):
        end = today
    return start, end


REPORTS = {
    "sales-by-category": lambda request: queries.sales_by_category(*_range(request)),
    "daily-sales": lambda request: queries.daily_sales(*_range(request)),
    "top-customers": lambda request: queries.top_customers(20),
    "low-stock": lambda request: queries.low_stock(),
    "coupons": lambda request: queries.coupon_effectiveness(),
}


def run_report(kind: str, request) -> list:
    try:
        return REPORTS[kind](request)
    except KeyError:
        raise Http404(f"no report {kind!r}") from None


@staff_member_required
def dashboard(request):
    start, end = _range(request)
    return render(request, "reporting/dashboard.html", {
        "start": start, "end": end,
        "categories": queries.sales_by_category(start, end),
        "days": queries.daily_sales(start, end),
        "customers": queries.top_customers(10),
        "low_stock": queries.low_stock()[:20],
        "coupons": queries.coupon_effectiveness(),
        "kinds": sorted(REPORTS),
    })


@staff_member_required
def export_csv(request, kind):
    rows = run_report(kind, request)
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{kind}-{timezone.localdate()}.csv"'
    writer = csv.writer(response)
    if rows:
        writer.writerow([f.name for f in fields(rows[0])])
        writer.writerows(asdict(r).values() for r in rows)
    return response
