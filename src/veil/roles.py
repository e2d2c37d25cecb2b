"""Column roles: which columns identify, which quasi-identify, which are sensitive.

One small dataclass passed through every job, so that the anonymity metrics,
the anonymizers and the reports agree on what each column is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from veil.errors import ColumnError, ParameterError

__all__ = ["Roles", "as_column_list"]


def as_column_list(columns: str | Iterable[str] | None, *, what: str) -> list[str]:
    """Normalise a column argument: one name, a comma-separated string, or a sequence.

    Raises :class:`ParameterError` for a non-string entry or a repeated name.
    """
    if columns is None:
        return []
    if isinstance(columns, str):
        names = [c.strip() for c in columns.split(",") if c.strip()]
    else:
        names = list(columns)
    for name in names:
        if not isinstance(name, str):
            raise ParameterError(
                f"{what} must be column names (strings); got {name!r} of type {type(name).__name__}"
            )
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ParameterError(f"column {name!r} is listed twice among the {what}")
        seen.add(name)
    return names


@dataclass(frozen=True)
class Roles:
    """The role of each named column of a table.

    Parameters
    ----------
    quasi
        Quasi-identifiers: columns an attacker can link with outside data
        (age, ZIP code, sex...).
    sensitive
        Sensitive attributes: what must not be learnt about a person.
    identifier
        Direct identifiers (name, record number): dropped or pseudonymized.
    insensitive
        Everything else the user names explicitly; unnamed columns are insensitive.
    """

    quasi: Sequence[str] = field(default_factory=tuple)
    sensitive: Sequence[str] = field(default_factory=tuple)
    identifier: Sequence[str] = field(default_factory=tuple)
    insensitive: Sequence[str] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for name in ("quasi", "sensitive", "identifier", "insensitive"):
            object.__setattr__(
                self, name, tuple(as_column_list(getattr(self, name), what=f"{name} columns"))
            )
        owner: dict[str, str] = {}
        for role in ("quasi", "sensitive", "identifier", "insensitive"):
            for col in getattr(self, role):
                if col in owner:
                    raise ColumnError(
                        f"column {col!r} is given two roles ({owner[col]} and {role}); "
                        "give each column one role"
                    )
                owner[col] = role

    @property
    def named(self) -> tuple[str, ...]:
        """Every column that has a role, in role order."""
        return (*self.identifier, *self.quasi, *self.sensitive, *self.insensitive)

    def check_against(self, columns: Sequence[str]) -> None:
        """Raise :class:`ColumnError` naming any role column the table lacks."""
        present = set(columns)
        for col in self.named:
            if col not in present:
                shown = ", ".join(columns[:30]) + (", ..." if len(columns) > 30 else "")
                raise ColumnError(f"column {col!r} not found; columns are: {shown}")

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "quasi": list(self.quasi),
            "sensitive": list(self.sensitive),
            "identifier": list(self.identifier),
            "insensitive": list(self.insensitive),
        }
