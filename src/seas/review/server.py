"""The review page's server: the standard library's threaded HTTP server on 127.0.0.1.

Chosen over a web framework because the page needs four routes and no templates, sessions or
uploads, and a dependency would be one more thing to install for a local, single-user tool. Routes:
``/`` (the page), ``/pairs.json`` (every defect pair of the tree with its scores and decision),
``/file/<folder>/<image|mask>/<NNNN>.png`` (the pair's PNGs, names checked against the manifests)
and ``POST /decision`` (``{"folder", "index", "decision"}``, saved before the reply).
"""

from __future__ import annotations

import contextlib
import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

from seas.errors import SeasError
from seas.generate.outputs import read_manifest
from seas.review.decisions import read_decisions, record_decision

__all__ = ["ReviewServer", "review_pairs"]


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
        elif self.path.startswith("/file/"):
            parts = self.path[len("/file/") :].split("/")
            known = self.server.files()
            if len(parts) == 3 and tuple(parts) in known:
                self._send(HTTPStatus.OK, (self.server.tree.joinpath(*parts)).read_bytes(), "image/png")
            else:
                self._send(HTTPStatus.NOT_FOUND, b"not a pair file", "text/plain")
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

    def do_POST(self) -> None:
        """Save one decision; the reply comes after it is on disk."""
        if self.path != "/decision":
            self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
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

    def __init__(self, tree: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.tree = tree
        self.page = resources.files("seas.review").joinpath("page.html").read_bytes()
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
