"""The review page's server: the standard library's threaded HTTP server on 127.0.0.1.

Chosen over a web framework because the pages need a handful of routes and no templates, sessions or
uploads, and a dependency would be one more thing to install for a local, single-user tool. Routes:
``/`` (the page), ``/pairs.json`` (every defect pair of the tree with its scores and decision),
``/file/<folder>/<image|mask>/<NNNN>.png`` (the pair's PNGs, names checked against the manifests)
and ``POST /decision`` (``{"folder", "index", "decision"}``, saved before the reply); with a
:class:`~seas.review.painting.MaskPainter`, ``/paint`` (the mask painting page), ``/paint.json``,
``/normal/<n>.png`` and ``POST /paint`` (``{"type", "bits"}``: base64 of R*R bytes, saved before the reply).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

from seas.errors import SeasError
from seas.generate.outputs import read_manifest
from seas.review.decisions import read_decisions, record_decision
from seas.review.painting import MaskPainter

__all__ = ["ReviewServer", "review_pairs"]

_NORMAL = re.compile(r"^/normal/(\d+)\.png$")


def review_pairs(tree: Path) -> list[dict[str, Any]]:  # Any: JSON
    """Every defect pair under ``tree`` (folders sorted, manifest order) with its scores and decision."""
    decisions = read_decisions(tree) or {}
    out = []
    for manifest in sorted(tree.glob("*/manifest.jsonl")):
        folder = manifest.parent.name
        for record in read_manifest(manifest.parent):
            if "mask" not in record:
                continue  # normal images have no mask to judge
            index = int(record["index"])
            out.append(
                {
                    "folder": folder,
                    "index": index,
                    "image": f"/file/{folder}/{record['image']}",
                    "mask": f"/file/{folder}/{record['mask']}",
                    "scores": record.get("scores", {}),
                    "decision": decisions.get((folder, index), "none"),
                }
            )
    return out


class _Handler(BaseHTTPRequestHandler):
    server: ReviewServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal shows the page's address, not every request."""

    def _send(self, status: HTTPStatus, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        # The page may drop a request it no longer needs (a picture of a card filtered away).
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def _json(self, value: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def do_GET(self) -> None:
        """The page, the pair list or one of the pairs' PNGs."""
        if self.path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, self.server.page, "text/html; charset=utf-8")
        elif self.path == "/pairs.json":
            self._json({"tree": str(self.server.tree), "pairs": self.server.refresh()})
        elif self.server.painter is not None and self.path in ("/paint", "/paint.json"):
            self._paint_get()
        elif self.server.painter is not None and (found := _NORMAL.match(self.path)):
            index = int(found.group(1))
            if index < len(self.server.painter.normals):
                self._send(HTTPStatus.OK, self.server.painter.picture(index), "image/png")
            else:
                self._send(HTTPStatus.NOT_FOUND, b"no such normal image", "text/plain")
        elif self.path.startswith("/file/"):
            parts = self.path[len("/file/") :].split("/")
            known = self.server.files()
            if len(parts) == 3 and tuple(parts) in known:
                self._send(HTTPStatus.OK, (self.server.tree.joinpath(*parts)).read_bytes(), "image/png")
            else:
                self._send(HTTPStatus.NOT_FOUND, b"not a pair file", "text/plain")
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

    def _paint_get(self) -> None:
        painter = self.server.painter
        assert painter is not None  # checked by the caller
        if self.path == "/paint":
            self._send(HTTPStatus.OK, self.server.paint_page, "text/html; charset=utf-8")
            return
        self._json(
            {
                "resolution": painter.resolution,
                "types": painter.types,
                "normals": len(painter.normals),
                "out": str(painter.out),
                "saved": painter.saved(),
            }
        )

    def _paint_post(self, body: Any) -> None:  # Any: JSON
        painter = self.server.painter
        assert painter is not None  # checked by the caller
        try:
            path = painter.save(str(body["type"]), base64.b64decode(str(body["bits"]), validate=True))
        except (KeyError, TypeError, binascii.Error, SeasError) as exc:
            self._json({"ok": False, "error": str(exc)}, HTTPStatus.BAD_REQUEST)
            return
        self._json({"ok": True, "path": str(path), "saved": painter.saved()})

    def do_POST(self) -> None:
        """Save one decision (or, on /paint, one painted mask); the reply comes after it is on disk."""
        if self.path not in ("/decision", "/paint") or (self.path == "/paint" and self.server.painter is None):
            self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        except (json.JSONDecodeError, ValueError) as exc:
            self._json({"ok": False, "error": str(exc)}, HTTPStatus.BAD_REQUEST)
            return
        if self.path == "/paint":
            self._paint_post(body)
            return
        try:
            folder, index, decision = str(body["folder"]), int(body["index"]), str(body["decision"])
            if (folder, index) not in self.server.pair_keys():
                missing = f"no pair {folder}/{index}"
                raise KeyError(missing)
            with self.server.lock:
                record_decision(self.server.tree, folder, index, decision)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, SeasError) as exc:
            self._json({"ok": False, "error": str(exc)}, HTTPStatus.BAD_REQUEST)
            return
        self._json({"ok": True})


class ReviewServer(ThreadingHTTPServer):
    """Serves the review of one pair tree (``<out>/<product>``) until :meth:`shutdown`."""

    daemon_threads = True

    def __init__(self, tree: Path, host: str = "127.0.0.1", port: int = 0, painter: MaskPainter | None = None) -> None:
        self.tree = tree
        self.painter = painter
        self.page = resources.files("seas.review").joinpath("page.html").read_bytes()
        self.paint_page = resources.files("seas.review").joinpath("paint.html").read_bytes()
        self.lock = threading.Lock()
        self._keys: set[tuple[str, int]] = set()
        self._files: set[tuple[str, ...]] = set()
        self.refresh()
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        """The page's address."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"

    def refresh(self) -> list[dict[str, Any]]:  # Any: JSON
        """Read the pairs again (each page load does), remembering which pairs and files it may serve."""
        pairs = review_pairs(self.tree)
        self._keys = {(p["folder"], p["index"]) for p in pairs}
        self._files = {tuple(p[k][len("/file/") :].split("/")) for p in pairs for k in ("image", "mask")}
        return pairs

    def pair_keys(self) -> set[tuple[str, int]]:
        """(folder, index) of every pair under review."""
        return self._keys

    def files(self) -> set[tuple[str, ...]]:
        """(folder, kind, file name) of every PNG the page may ask for."""
        return self._files
