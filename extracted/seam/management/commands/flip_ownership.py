import getpass
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from extracted.seam import settings as seam_settings
from extracted.seam.events import SeamError
from extracted.seam.flip import ProxyRoutes, flip


class Command(BaseCommand):
    help = (
        "Move a domain's ownership: hold writes, drain, reconcile, switch, release (docs/seam.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("domain")
        parser.add_argument(
            "--to",
            required=True,
            help="the new owner: 'service' (the peer), 'monolith', or a side's name",
        )
        parser.add_argument("--reason", default="", help="why, for the audit")
        parser.add_argument(
            "--deadline", type=float, default=5.0, help="seconds the hold may last at most"
        )
        parser.add_argument(
            "--proxy-admin",
            default=os.environ.get("FIGKIT_ADMIN_URL"),
            help="the strangler proxy's admin API, to move the write routes with the flip",
        )
        parser.add_argument("--proxy-route", action="append", default=[], dest="proxy_routes",
                            help="a proxy route that carries the domain's writes (repeat for more)")  # fmt: skip

    def handle(
        self,
        *args,
        domain,
        to,
        reason="",
        deadline=5.0,
        proxy_admin=None,
        proxy_routes=(),
        **options,
    ):
        token = seam_settings.token()
        if not token:
            raise CommandError(
                "set SEAM_TOKEN (the same on both sides) to let this side change the peer's ownership"
            )
        proxy = None
        if proxy_routes:
            if not proxy_admin:
                raise CommandError("--proxy-route needs --proxy-admin (or FIGKIT_ADMIN_URL)")
            proxy = ProxyRoutes(proxy_admin, _admin_token(), list(proxy_routes))
        try:
            config = seam_settings.domain(domain)
            if to == "service" or (to == "monolith" and seam_settings.service_name() != "monolith"):
                to = config.peer
            actor = os.environ.get("FIGKIT_ACTOR") or getpass.getuser()
            result = flip(
                config,
                to,
                actor=actor,
                reason=reason,
                token=token,
                deadline_s=deadline,
                proxy=proxy,
            )
        except SeamError as exc:
            raise CommandError(f"flip aborted, writes resumed: {exc}") from None
        steps = ", ".join(f"{name} {ms:.0f} ms" for name, ms in result.steps_ms.items())
        self.stdout.write(
            f"{domain} is now owned by {result.to_owner}; writes were held {result.pause_ms:.0f} ms ({steps})"
        )


def _admin_token() -> str:
    """The proxy's admin token, found the way `figkit routes` finds it."""
    if token := os.environ.get("FIGKIT_ADMIN_TOKEN"):
        return token.strip()
    file = os.environ.get("FIGKIT_ADMIN_TOKEN_FILE")
    if file and Path(file).exists():
        return Path(file).read_text().strip()
    raise CommandError(
        "the proxy's admin token is needed: set FIGKIT_ADMIN_TOKEN or FIGKIT_ADMIN_TOKEN_FILE"
    )
