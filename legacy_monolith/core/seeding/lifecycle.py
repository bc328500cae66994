"""An order's life from checkout to where it stands today, as timestamps.

Its fate (what will become of it) is drawn first, then every step gets a time; steps that would
come after "now" have not happened yet. That is where pending, paid and shipped orders come
from: they are the recent ones, as in a real shop. The transitions are the ones
`orders.services.ALLOWED` permits. Pure: no database, no Django models.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

# Out of 1,000 orders. "withdrawn": paid, then refunded before dispatch; "lost": the carrier
# lost the parcel and the order was refunded; "unpaid": a bank transfer that never came;
# "declined": the card was refused and the order cancelled.
FATES = {"delivered": 865, "withdrawn": 55, "unpaid": 40, "declined": 25, "lost": 15}
TRANSFER_SHARE = 0.10  # the rest pay by card, captured at checkout
UNPAID_AFTER = timedelta(days=7)


@dataclass(frozen=True)
class Step:
    status: str
    at: datetime


@dataclass(frozen=True)
class Life:
    fate: str
    by_transfer: bool
    steps: tuple[Step, ...]
    declined_at: datetime | None = None
    paid_at: datetime | None = None
    label_at: datetime | None = None  # the parcel was packed and got its tracking number
    shipped_at: datetime | None = None
    hub_at: datetime | None = None
    delivered_at: datetime | None = None
    lost_at: datetime | None = None
    refunded_at: datetime | None = None
    cancelled_at: datetime | None = None

    @property
    def status(self) -> str:
        return self.steps[-1].status

    @property
    def updated_at(self) -> datetime:
        return self.steps[-1].at

    def status_at(self, moment: datetime) -> str | None:
        status = None
        for step in self.steps:
            if step.at > moment:
                break
            status = step.status
        return status

    @property
    def shipment_status(self) -> str | None:
        if self.label_at is None:
            return None
        if self.lost_at is not None:
            return "lost"
        if self.delivered_at is not None:
            return "delivered"
        return "in_transit" if self.shipped_at is not None else "ready"


def plan_life(
    rng: random.Random, placed: datetime, now: datetime, *, eta_days: int, digital_only: bool
) -> Life:
    fate = rng.choices(list(FATES), list(FATES.values()))[0]
    if digital_only and fate == "lost":
        fate = "delivered"
    by_transfer = fate == "unpaid" or (fate != "declined" and rng.random() < TRANSFER_SHARE)

    def hours(low: float, high: float) -> timedelta:
        return timedelta(seconds=int(rng.uniform(low, high) * 3600))

    plan: dict[str, datetime] = {}
    if fate == "declined":
        plan["declined"] = placed + timedelta(seconds=rng.randint(10, 45))
        plan["cancelled"] = plan["declined"] + timedelta(minutes=rng.randint(2, 30))
    elif fate == "unpaid":
        plan["cancelled"] = placed + UNPAID_AFTER + hours(0, 12)
    else:
        plan["paid"] = placed + (
            hours(3, 72) if by_transfer else timedelta(seconds=rng.randint(20, 120))
        )
        if fate == "withdrawn":
            plan["refunded"] = plan["paid"] + hours(1, 20)
        elif digital_only:
            plan["shipped"] = plan["paid"] + timedelta(seconds=rng.randint(30, 90))
            plan["delivered"] = plan["shipped"] + timedelta(minutes=rng.randint(1, 10))
        else:
            plan["label"] = plan["paid"] + hours(1, 20)
            plan["shipped"] = plan["label"] + hours(1, 6)
            plan["hub"] = plan["shipped"] + hours(6, 20)
            if fate == "lost":
                plan["lost"] = plan["shipped"] + hours(7 * 24, 10 * 24)
                plan["refunded"] = plan["lost"] + hours(24, 72)
            else:
                due = plan["shipped"] + hours(eta_days * 24 - 10, eta_days * 24 + 30)
                plan["delivered"] = max(due, plan["hub"] + hours(2, 6))

    happened = {key: at for key, at in plan.items() if at <= now}
    steps = [Step("pending", placed)]
    steps += sorted(
        (
            Step(status, happened[status])
            for status in ("paid", "cancelled", "shipped", "delivered", "refunded")
            if status in happened
        ),
        key=lambda step: step.at,
    )
    return Life(
        fate=fate,
        by_transfer=by_transfer,
        steps=tuple(steps),
        declined_at=happened.get("declined"),
        paid_at=happened.get("paid"),
        label_at=happened.get("label"),
        shipped_at=happened.get("shipped"),
        hub_at=happened.get("hub"),
        delivered_at=happened.get("delivered"),
        lost_at=happened.get("lost"),
        refunded_at=happened.get("refunded"),
        cancelled_at=happened.get("cancelled"),
    )
