"""The catalog service's probes: ready when its database answers, its migrations are applied and
the broker (the seam's events) is reachable."""

from extracted.seam.health import check_broker, check_database, check_migrations, probes, run_checks

__all__ = ["healthz", "readyz", "run_checks"]

healthz, readyz = probes(
    {"database": check_database, "migrations": check_migrations, "broker": check_broker}
)
