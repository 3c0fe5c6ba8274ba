"""Logging set-up: every formatted record, traceback included, goes through the URL redactor.

FFmpeg puts the URL it was given into its error texts (PyAV's ``err_check(filename=...)``), so a traceback
of a failed RTSP session carries the camera's password unless the formatter removes it.
"""

from __future__ import annotations

import logging
import sys

from cctv.redact import redact_text


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    # Alembic announces each of its plugins at INFO on every start; the migration lines themselves stay.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
