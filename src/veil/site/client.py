"""The scientist's client of a veil data site: search, mocks, DP queries, code requests.

Everything goes through the site's HTTP API with the scientist's token; the
client never sees a row of the real data. Answers come back as plain Python
(lists, dicts) and pandas DataFrames for mocks.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from veil.errors import VeilError

__all__ = ["Client", "SiteError"]


class SiteError(VeilError):
    """The site refused a request: ``status`` is the HTTP status, the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"site refused ({status}): {message}")
        self.status = status
        self.detail = message


class Client:
    """A scientist's connection to a data site.

    Parameters
    ----------
    url
        The site's address, e.g. ``http://127.0.0.1:8642``.
    token
        The API token the owner gave you (``veil_...``).
    timeout
        Seconds to wait for an answer (code requests run on the mock first).

    Examples
    --------
    >>> site = Client("http://127.0.0.1:8642", token="veil_...")    # doctest: +SKIP
    >>> site.count("patients", epsilon=0.1)["values"]               # doctest: +SKIP
    """

    def __init__(self, url: str, *, token: str, timeout: float = 120.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as err:
            raise SiteError(0, f"cannot reach {self.url}: {err}") from None
        if response.is_success:
            return response.json()
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise SiteError(response.status_code, str(detail))

    # -- the catalogue ----------------------------------------------------------------

    def search(self, text: str = "") -> list[dict[str, Any]]:
        """Datasets whose name, description or columns mention every word of ``text``."""
        return self._call("GET", "/datasets", params={"q": text})

    def metadata(self, dataset: str) -> dict[str, Any]:
        """Description, columns (name, type, role) and mock kind of ``dataset``."""
        return self._call("GET", f"/datasets/{dataset}")

    def mock(self, dataset: str) -> Any:
        """The dataset's mock as a pandas DataFrame: write and test your code on it."""
        import pandas as pd

        payload = self._call("GET", f"/datasets/{dataset}/mock")
        return pd.DataFrame(payload["data"], columns=payload["columns"])

    def budget(self, dataset: str) -> dict[str, Any]:
        """Your budget on ``dataset``: epsilon and delta granted, spent and left."""
        return self._call("GET", f"/datasets/{dataset}/budget")

    # -- DP queries -------------------------------------------------------------------

    def query(
        self,
        dataset: str,
        statistic: str,
        column: str | None = None,
        *,
        epsilon: float,
        delta: float = 0.0,
        bounds: Sequence[float] | None = None,
        bins: int | None = None,
        categories: Sequence[Any] | None = None,
        q: float | None = None,
        by: Sequence[str] | str = (),
        mechanism: str = "laplace",
        alpha: float = 0.05,
    ) -> dict[str, Any]:
        """A DP ``statistic`` of ``dataset``, charged to your budget (see :mod:`veil.dp`).

        Returns the noisy ``values`` (with ``labels`` for histograms and groups),
        their ``ci_low``/``ci_high`` at level 1 - ``alpha``, and the loss spent.
        """
        body: dict[str, Any] = {
            "statistic": statistic,
            "column": column,
            "epsilon": epsilon,
            "delta": delta,
            "mechanism": mechanism,
            "alpha": alpha,
            "by": [by] if isinstance(by, str) else list(by),
        }
        if bounds is not None:
            body["bounds"] = list(bounds)
        if bins is not None:
            body["bins"] = bins
        if categories is not None:
            body["categories"] = list(categories)
        if q is not None:
            body["q"] = q
        return self._call("POST", f"/datasets/{dataset}/queries", json=body)

    def count(self, dataset: str, *, epsilon: float, **kwargs: Any) -> dict[str, Any]:
        """DP number of rows (per group with ``by=``)."""
        return self.query(dataset, "count", epsilon=epsilon, **kwargs)

    def sum(
        self, dataset: str, column: str, *, bounds: Sequence[float], epsilon: float, **kwargs: Any
    ) -> dict[str, Any]:
        """DP sum of ``column`` clamped to ``bounds``."""
        return self.query(dataset, "sum", column, bounds=bounds, epsilon=epsilon, **kwargs)

    def mean(
        self, dataset: str, column: str, *, bounds: Sequence[float], epsilon: float, **kwargs: Any
    ) -> dict[str, Any]:
        """DP mean of ``column`` clamped to ``bounds``."""
        return self.query(dataset, "mean", column, bounds=bounds, epsilon=epsilon, **kwargs)

    def histogram(
        self, dataset: str, column: str, *, epsilon: float, **kwargs: Any
    ) -> dict[str, Any]:
        """DP counts per bin (``bins`` over ``bounds``) or per category."""
        return self.query(dataset, "histogram", column, epsilon=epsilon, **kwargs)

    def quantile(
        self,
        dataset: str,
        column: str,
        q: float,
        *,
        bounds: Sequence[float],
        epsilon: float,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """DP ``q``-quantile of ``column`` within ``bounds``."""
        return self.query(
            dataset, "quantile", column, q=q, bounds=bounds, epsilon=epsilon, **kwargs
        )

    # -- code requests ----------------------------------------------------------------

    def request_code(
        self,
        dataset: str,
        code: str | Callable[..., Any],
        *,
        function: str | None = None,
        description: str = "",
    ) -> dict[str, Any]:
        """Send a function over the table (a pandas DataFrame) for the owner's review.

        ``code`` is the source defining the function (``function``, "analysis"
        by default) or the function itself (its source is sent). The site runs
        it on the mock first and refuses code that fails there.
        """
        if callable(code):
            function = function or code.__name__
            code = textwrap.dedent(inspect.getsource(code))
        body = {"code": code, "function": function or "analysis", "description": description}
        return self._call("POST", f"/datasets/{dataset}/code-requests", json=body)

    def requests(self) -> list[dict[str, Any]]:
        """Your code requests, newest first."""
        return self._call("GET", "/code-requests")

    def request(self, request_id: int) -> dict[str, Any]:
        """One of your code requests and its state."""
        return self._call("GET", f"/code-requests/{int(request_id)}")

    def result(self, request_id: int) -> Any:
        """The released result of an approved request, or :class:`SiteError` saying its state."""
        state = self.request(request_id)
        if state["status"] != "approved":
            why = f": {state['reason']}" if state.get("reason") else ""
            raise SiteError(409, f"code request {request_id} is {state['status']}{why}")
        return state["result"]
