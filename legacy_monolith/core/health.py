"""The monolith's probes, as the extracted services have them (extracted/seam/health.py):
`/healthz` says the process answers; `/readyz` says it can serve: its database answers, every
migration is applied and the broker its tasks and the seam's events go through is reachable.
`/api/health` stays for the JSON API's old clients."""

from extracted.seam.health import check_broker, check_database, check_migrations, probes

healthz, readyz = probes(
    {"database": check_database, "migrations": check_migrations, "broker": check_broker}
)
