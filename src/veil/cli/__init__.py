"""Command line interface: thin modules over the library, one per command group."""

from __future__ import annotations

import sys

from veil.cli import anonymize as _anonymize  # noqa: F401  registers `veil anonymize`
from veil.cli import assess as _assess  # noqa: F401  registers `veil assess`
from veil.cli import audit as _audit  # noqa: F401  registers `veil audit`
from veil.cli import crypto as _crypto  # noqa: F401  registers `veil crypto`
from veil.cli import dp as _dp  # noqa: F401  registers `veil dp`
from veil.cli import federate as _federate  # noqa: F401  registers `veil federate`
from veil.cli import latent as _latent  # noqa: F401  registers `veil latent`
from veil.cli import ledger as _ledger  # noqa: F401  registers `veil ledger`
from veil.cli import pii as _pii  # noqa: F401  registers `veil pii`
from veil.cli import site as _site  # noqa: F401  registers `veil site`
from veil.cli import synth as _synth  # noqa: F401  registers `veil synth`
from veil.cli import train as _train  # noqa: F401  registers `veil train`
from veil.cli.app import app
from veil.cli.app import main as _main

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the `veil` script."""
    sys.exit(_main())
