"""Runs inside the catalog service's settings, in its own process (the test process has the
monolith's): `python -m tests.extracted.catalog_probe COMMAND`, states as JSON on stdin, the
result as JSON on stdout.

- load:        apply the states, as the seam's inbox would (not captured, not refused)
- roundtrip:   migrate, then for each state check state(apply(s)) == s, and what apply keeps
- role R E:    make this side the catalog's owner or follower at epoch E, as a flip would
- state KEY:   the product's state as the domain reads it, and its outbox events
"""

from __future__ import annotations

import json
import os
import sys

os.environ["DJANGO_SETTINGS_MODULE"] = "extracted.catalog.settings"


def main(argv: list[str]) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from extracted.catalog.domain import CATALOG
    from extracted.seam import ownership
    from extracted.seam.events import canonical
    from extracted.seam.models import OutboxEvent

    command, *args = argv

    def states() -> list[tuple]:
        given = json.loads(sys.stdin.read())
        return [
            (aggregate, aggregate.type.validate(payload))
            for aggregate in CATALOG.aggregates
            for payload in given.get(aggregate.name, [])
        ]

    if command == "load":
        loaded = states()
        with transaction.atomic(), ownership.applying():
            for aggregate, state in loaded:
                aggregate.apply(state)
        return {"loaded": len(loaded)}

    if command == "roundtrip":
        call_command("migrate", interactive=False, verbosity=0)
        report: dict = {"mismatches": [], "checked": 0}
        given = states()
        for aggregate, state in given:
            for _ in range(2):  # a second apply of the same state changes nothing
                with transaction.atomic(), ownership.applying():
                    aggregate.apply(state)
                back = aggregate.state(state.id)
                if back != state or canonical(back) != canonical(state):
                    report["mismatches"].append(
                        {"sent": canonical(state).decode(), "read": canonical(back).decode()}
                    )
                report["checked"] += 1
        # A consumer's batch: the states of one aggregate type applied together (apply_many),
        # over what the single applies left (the changed ones differ from their first state).
        for aggregate in CATALOG.aggregates:
            # reversed: where a key comes twice, the first given (the unchanged) state wins now
            batch = [state for a, state in reversed(given) if a is aggregate]
            with transaction.atomic(), ownership.applying():
                aggregate.apply_all(batch)
            latest = {state.id: state for state in batch}
            for key, state in latest.items():
                back = aggregate.state(key)
                if back != state or canonical(back) != canonical(state):
                    report["mismatches"].append(
                        {
                            "batch": True,
                            "sent": canonical(state).decode(),
                            "read": canonical(back).decode(),
                        }
                    )
        report["keys"] = {a.name: list(a.keys()) for a in CATALOG.aggregates}
        product = CATALOG.aggregate("catalog.product")
        with transaction.atomic(), ownership.applying():
            product.remove(999_999)  # absent: no error
        report["absent"] = canonical(product.state(999_999)).decode()
        return report

    if command == "role":
        ownership.set_role("catalog", args[0], epoch=int(args[1]))
        return {"role": ownership.role("catalog")}

    if command == "state":
        key = int(args[0])
        product = CATALOG.aggregate("catalog.product")
        state = product.state(key)
        events = OutboxEvent.objects.filter(aggregate_type=product.name, aggregate_id=str(key))
        return {
            "state": None if state is None else state.model_dump(mode="json"),
            "events": [e.payload for e in events.order_by("seq")],
        }

    raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
