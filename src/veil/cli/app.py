"""The `veil` command: one typer app; each command group lives in its own module."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click
import typer

from veil.errors import VeilError

__all__ = ["app", "fail", "main"]

app = typer.Typer(
    name="veil",
    help="Privacy-preserving data science: assess, anonymize, release with DP.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """veil: privacy-preserving data science, from assessment to protected release."""


def fail(message: str) -> None:
    """Stop the command with one line on stderr and exit status 2 (a user mistake)."""
    raise VeilError(message)


def _one_line(message: str) -> str:
    return " ".join(message.split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; a :class:`VeilError` becomes one line on stderr and exit status 2."""
    command = typer.main.get_command(app)
    try:
        command.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except VeilError as err:
        print(f"error: {_one_line(str(err))}", file=sys.stderr)
        return 2
    except click.exceptions.ClickException as err:
        # click's own errors (a bad number, a missing option) are one line too, with
        # the hint to --help instead of the whole usage block.
        hint = ""
        if isinstance(err, click.UsageError) and err.ctx is not None:
            hint = f" (see `{err.ctx.command_path} --help`)"
        print(f"error: {_one_line(err.format_message())}{hint}", file=sys.stderr)
        return 2 if isinstance(err, click.UsageError) else err.exit_code
    except click.exceptions.Exit as err:
        return err.exit_code
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        return 1
    return 0
