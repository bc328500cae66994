"""An analyzer bug is a warning, not a crash: the user's analysis goes on without the part that
failed, the warning asks for a report, and the traceback goes to the debug log.

Guards sit at the stage boundaries only (one per file in extraction, one per statement in the
settings reader, one per file's facts in linking), so a bug stays visible and local. The debug
log is the ``analyzer`` logger at DEBUG; ``FIGKIT_DEBUG_LOG=FILE`` appends it to FILE, from the
worker processes too.
"""

from __future__ import annotations

import logging
import os

from analyzer.facts import Warning_

log = logging.getLogger("analyzer")
_configured: set[str] = set()


def debug_log_to_env_file() -> None:
    """Send the ``analyzer`` debug log to ``$FIGKIT_DEBUG_LOG`` (once per process)."""
    target = os.environ.get("FIGKIT_DEBUG_LOG")
    if not target or target in _configured:
        return
    _configured.add(target)
    handler = logging.FileHandler(target, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)


def bug_warning(file: str, line: int | None, what: str, exc: BaseException) -> Warning_:
    """The warning for an unexpected exception while reading ``what`` (a file, a setting)."""
    debug_log_to_env_file()
    log.debug("analyzer bug while reading %s (%s:%s)", what, file, line, exc_info=exc)
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    return Warning_(
        file,
        f"analyzer bug while reading {what}: {type(exc).__name__}: {detail}; please report "
        "(the traceback is in the debug log, FIGKIT_DEBUG_LOG=FILE)",
        line or None,
    )
