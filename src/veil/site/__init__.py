"""Remote data science: a data site where outside scientists query data under a budget.

The owner keeps the data on their own server and publishes metadata and a
mock; scientists search the catalogue, ask DP queries charged to their own
budget in the privacy ledger, and send code that runs on the real data only
after the owner read it, and whose result leaves only once the owner approved
it (after PySyft's remote data science, Ziller et al. 2021)::

    from veil.site import Client

    site = Client("http://127.0.0.1:8642", token="veil_...")
    site.search("diabetes")
    site.mock("diabetes")                                  # a DataFrame, no real row
    site.mean("diabetes", "bmi", bounds=(10, 60), epsilon=0.1)
    job = site.request_code("diabetes", "def analysis(df):\\n    return len(df)\\n")
    site.result(job["id"])                                 # once the owner approved it

The owner runs ``veil site serve`` and manages datasets, accounts, budgets and
requests with ``veil site ...`` or :class:`DataSite`.
"""

from __future__ import annotations

from veil.site.client import Client, SiteError
from veil.site.config import SiteConfig
from veil.site.datasite import DataSite, NotFoundError

__all__ = ["Client", "DataSite", "NotFoundError", "SiteConfig", "SiteError", "create_app"]


def create_app(site: DataSite | SiteConfig) -> object:
    """The site's FastAPI app (imported on use: the client needs no server packages)."""
    from veil.site.app import create_app as _create

    return _create(site)
