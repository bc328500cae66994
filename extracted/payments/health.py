"""The payments service is ready when its database answers and its migrations are applied."""

from extracted.seam.health import check_database, check_migrations, probes

healthz, readyz = probes({"database": check_database, "migrations": check_migrations})
