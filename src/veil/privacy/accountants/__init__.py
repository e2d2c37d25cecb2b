"""Accountants: each composes privacy losses into the epsilon spent at a delta.

One module per accountant behind one interface (:class:`Accountant`), each
registered in :data:`ACCOUNTANTS` by its name: ``basic``, ``zcdp``, ``rdp``,
``pld``. A new accountant is a new module with a class decorated by
:func:`register`, imported below.
"""

from __future__ import annotations

from veil.privacy.accountants.base import ACCOUNTANTS, Accountant, get_accountant, register
from veil.privacy.accountants.basic import BasicAccountant
from veil.privacy.accountants.pld import PLDAccountant
from veil.privacy.accountants.rdp import RDPAccountant
from veil.privacy.accountants.zcdp import ZCDPAccountant

__all__ = [
    "ACCOUNTANTS",
    "Accountant",
    "BasicAccountant",
    "PLDAccountant",
    "RDPAccountant",
    "ZCDPAccountant",
    "get_accountant",
    "register",
]
