"""Per-epoch progress: a rich bar on stderr, a user's callback, or nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from veil.errors import ParameterError

__all__ = ["EpochProgress"]


class EpochProgress:
    """Reports ``(epoch, metrics)``: epoch 0 before the first step, then 1..epochs after each.

    ``progress`` is False (silent), True (a rich progress bar on stderr) or a
    callable ``f(epoch, metrics)``.
    """

    def __init__(
        self, progress: bool | Callable[[int, dict[str, Any]], None], epochs: int, what: str
    ) -> None:
        if not (isinstance(progress, bool) or callable(progress)):
            raise ParameterError(
                f"progress must be True, False or a callable(epoch, metrics); got {progress!r}"
            )
        self.callback = progress if callable(progress) else None
        self.bar: Any = None
        if progress is True:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self.task = self.bar.add_task(what, total=epochs, status="")
            self.bar.start()

    def __call__(self, epoch: int, metrics: dict[str, Any]) -> None:
        if self.callback is not None:
            self.callback(epoch, dict(metrics))
        if self.bar is not None and epoch > 0:
            status = f"loss {metrics['loss']:.4f}" if "loss" in metrics else ""
            self.bar.update(self.task, completed=epoch, status=status)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
