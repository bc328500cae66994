"""A small saga for the engine's tests: hold a seat (local), charge a card at a ledger server
(remote, idempotent by key), confirm (local). Its effects are rows the tests can count: SiteSetting
"seat:<run>" and the ledger's charges."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from extracted.seam.saga import Context, Saga, Step, StepFailed
from legacy_monolith.core.models import SiteSetting

PATH = "tests.extracted.saga_toy.TOY"
LEDGER_URL = {"url": ""}


class Ledger(ThreadingHTTPServer):
    """Charges by idempotency key, as a payment API keeps them: the same key charges once."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _LedgerHandler)
        self.charges: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def live(self) -> list[dict]:
        return [c for c in self.charges.values() if c["status"] == "charged"]

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _LedgerHandler(BaseHTTPRequestHandler):
    server: Ledger

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"] or 0)) or b"{}")
        with self.server.lock:
            if self.path == "/charge":
                key = self.headers["Idempotency-Key"]
                if body.get("card") == "declined":
                    return self._answer(402, {"detail": "card declined"})
                charge = self.server.charges.setdefault(
                    key, {"ref": body["ref"], "status": "charged"}
                )
                return self._answer(201, charge)
            if self.path == "/refund":
                for charge in self.server.charges.values():
                    if charge["ref"] == body["ref"]:
                        charge["status"] = "refunded"
                return self._answer(200, {})
        self._answer(404, {})

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def hold_seat(ctx: Context) -> dict:
    SiteSetting.objects.create(key=f"seat:{ctx.run_id}", value="held")
    return {"seat": f"seat:{ctx.run_id}"}


def release_seat(ctx: Context) -> None:
    SiteSetting.objects.filter(key=ctx.data.get("seat", "-")).delete()


def charge(ctx: Context) -> dict:
    response = httpx.post(f"{LEDGER_URL['url']}/charge", json={"ref": str(ctx.run_id), "card": ctx.data["card"]},
                          headers={"Idempotency-Key": ctx.key("charge")}, timeout=2)  # fmt: skip
    if response.status_code == 402:
        raise StepFailed(response.json()["detail"])
    response.raise_for_status()
    return {"charged": True}


def refund(ctx: Context) -> None:
    httpx.post(
        f"{LEDGER_URL['url']}/refund", json={"ref": str(ctx.run_id)}, timeout=2
    ).raise_for_status()


def confirm(ctx: Context) -> dict:
    SiteSetting.objects.filter(key=ctx.data["seat"]).update(value="sold")
    return {}


TOY = Saga(
    "toy",
    [
        Step("hold_seat", hold_seat, compensation=release_seat),
        Step("charge", charge, compensation=refund, local=False, timeout_s=1.5),
        Step("confirm", confirm),
    ],
)
