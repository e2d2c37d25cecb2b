"""The HE prediction service over HTTP: the server scores ciphertexts, the client decrypts.

Endpoints (standard library ``http.server``; one thread per request):

- ``GET /info``: the model's shape, link, depth and the CKKS parameters a
  client must use (JSON); never the weights.
- ``POST /context``: the client's public context (bytes, no secret key);
  answers its fingerprint. The server keeps the last few contexts.
- ``POST /predict``: an encrypted batch in veil's wire format
  (:mod:`veil.crypto.he.packing`); answers the encrypted outputs.

A bad request (unknown context, another context's ciphertexts, a truncated or
corrupted body, a wrong number of features) gets status 400 and one line of
JSON; the log has one line per request (method, path, status, size, time) and
never a value: the server holds no plaintext to leak. Threat model: the
server is honest but curious; integrity across a network needs TLS in front.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from veil.crypto.he.context import HEContext, HEParameters
from veil.crypto.he.models import HEModel, apply_link
from veil.crypto.he.packing import EncryptedBatch, decrypt, encrypt, parse_message
from veil.errors import DataError, ParameterError, ProtocolError, VeilError

__all__ = ["HEClient", "HEServer"]

logger = logging.getLogger("veil.crypto.service")

#: Largest request body accepted (bytes): 1,000 samples of 100 features are ~33 MB.
MAX_BODY = 1 << 30
#: Public contexts kept at once (each ~1.4 MB at N = 8192).
MAX_CONTEXTS = 16


class HEServer:
    """Serve encrypted predictions of ``model`` on ``host:port`` (port 0: a free one).

    Parameters
    ----------
    model
        The model to evaluate on ciphertexts.
    host, port
        Where to listen; 127.0.0.1 by default (reach it from elsewhere through
        a TLS reverse proxy).
    max_body
        Largest request accepted, in bytes.
    """

    def __init__(
        self,
        model: HEModel,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_body: int = MAX_BODY,
    ) -> None:
        self.model = model
        self.parameters = model.parameters()
        self.max_body = max_body
        self._contexts: OrderedDict[str, HEContext] = OrderedDict()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        handler = type("Handler", (_Handler,), {"service": self})
        try:
            self.httpd = ThreadingHTTPServer((host, port), handler)
        except OSError as err:
            raise ParameterError(f"cannot listen on {host}:{port}: {err.strerror}") from None
        self.httpd.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def serve_forever(self) -> None:
        """Serve until :meth:`shutdown` (or Ctrl-C in the CLI)."""
        self.httpd.serve_forever()

    def start(self) -> HEServer:
        """Serve in a background thread (tests, notebooks); returns self."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
        self.httpd.server_close()

    def __enter__(self) -> HEServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # The request handlers' logic: bytes in, bytes out, VeilError for a bad request.

    def register(self, body: bytes) -> dict[str, str]:
        context = HEContext.from_public_bytes(body, self.parameters)
        with self._lock:
            self._contexts[context.fingerprint] = context
            self._contexts.move_to_end(context.fingerprint)
            while len(self._contexts) > MAX_CONTEXTS:
                self._contexts.popitem(last=False)
        return {"fingerprint": context.fingerprint}

    def predict(self, body: bytes) -> bytes:
        header, _ = parse_message(body)
        with self._lock:
            context = self._contexts.get(str(header["fingerprint"]))
        if context is None:
            raise ProtocolError(
                "unknown context: POST the public context to /context first "
                "(or it was evicted: register it again)"
            )
        batch = EncryptedBatch.from_bytes(body, context)
        try:
            result = self.model.evaluate(batch, context)
        except VeilError:
            raise
        except Exception as err:  # TenSEAL: scale or level errors from foreign parameters
            raise ProtocolError(
                f"evaluation failed ({type(err).__name__}): the context's parameters differ "
                "from those announced at /info"
            ) from None
        return result.to_bytes()


class _Handler(BaseHTTPRequestHandler):
    service: HEServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # http.server's own lines; veil logs one line per request in _send

    def _send(self, status: int, body: bytes, kind: str, started: float, note: str = "") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        try:
            size_in = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            size_in = -1
        # Sizes, status and veil's own error text only: never a byte of the body.
        logger.info(
            "%s %s %d %d bytes in, %d bytes out, %.3f s%s",
            self.command,
            self.path,
            status,
            size_in,
            len(body),
            time.perf_counter() - started,
            f" ({note})" if note else "",
        )

    def _error(self, status: int, message: str, started: float) -> None:
        body = json.dumps({"error": message}).encode()
        self._send(status, body, "application/json", started, note=message)

    def do_GET(self) -> None:
        started = time.perf_counter()
        if self.path != "/info":
            self._error(404, f"no such endpoint {self.path!r}: GET /info", started)
            return
        body = json.dumps(self.service.model.info()).encode()
        self._send(200, body, "application/json", started)

    def do_POST(self) -> None:
        started = time.perf_counter()
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._error(411, "a Content-Length header is required", started)
            return
        if length > self.service.max_body:
            self.close_connection = True
            self._error(413, f"request of {length} bytes exceeds {self.service.max_body}", started)
            return
        body = self.rfile.read(length)
        if len(body) != length:
            self.close_connection = True
            self._error(400, "the request body is truncated", started)
            return
        try:
            if self.path == "/context":
                reply = json.dumps(self.service.register(body)).encode()
                self._send(200, reply, "application/json", started)
            elif self.path == "/predict":
                self._send(200, self.service.predict(body), "application/octet-stream", started)
            else:
                self._error(404, f"no such endpoint {self.path!r}: /context, /predict", started)
        except VeilError as err:
            self._error(400, " ".join(str(err).split()), started)


class HEClient:
    """The client of an :class:`HEServer`: generates the keys, encrypts, posts, decrypts.

    The secret key never leaves this object. One key pair per client, made
    with the parameters the server announces at ``/info``.

    Parameters
    ----------
    url
        The server, e.g. ``http://127.0.0.1:8750``.
    timeout
        Seconds to wait for each HTTP exchange.
    """

    def __init__(self, url: str, *, timeout: float = 300.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.info: dict[str, Any] = json.loads(self._request("GET", "/info", None))
        self.parameters = HEParameters.from_dict(self.info["parameters"])
        self.keys = HEContext.generate(self.parameters)
        reply = json.loads(self._request("POST", "/context", self.keys.public_bytes))
        if reply.get("fingerprint") != self.keys.fingerprint:
            raise ProtocolError("the server registered another context than the one sent")

    def _request(self, method: str, path: str, body: bytes | None) -> bytes:
        req = urllib.request.Request(self.url + path, data=body, method=method)
        if body is not None:
            req.add_header("Content-Type", "application/octet-stream")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.read()
        except urllib.error.HTTPError as err:
            try:
                message = json.loads(err.read()).get("error", "")
            except (ValueError, AttributeError):
                message = ""
            raise ProtocolError(
                f"the server refused {method} {path} ({err.code}): {message or err.reason}"
            ) from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise ProtocolError(f"cannot reach the HE server at {self.url}: {reason}") from None

    @property
    def outputs(self) -> list[str]:
        return list(self.info["outputs"])

    @property
    def feature_names(self) -> list[str] | None:
        return self.info.get("feature_names")

    def predict(self, X: Any) -> np.ndarray:
        """Encrypted predictions for the rows of ``X`` (samples x features).

        Returns
        -------
        numpy.ndarray
            samples x outputs: probabilities for classifiers, predictions otherwise.
        """
        X = np.asarray(X, dtype=np.float64)
        n = int(self.info["n_features"])
        if X.ndim != 2 or X.shape[1] != n:
            raise DataError(f"the server's model takes {n} features per row; got shape {X.shape}")
        body = encrypt(self.keys, X).to_bytes()
        reply = self._request("POST", "/predict", body)
        result = EncryptedBatch.from_bytes(reply, self.keys)
        if result.n_samples != X.shape[0] or result.n_columns != len(self.outputs):
            raise ProtocolError("the server answered another shape than the request's")
        outputs = decrypt(self.keys, result)
        return apply_link(str(self.info["link"]), outputs)
