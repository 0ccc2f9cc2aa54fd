"""Rank heads as plug-ins: a registry from ``model.rank_head.type`` to a ``RankHead`` class.

Adding a head is one new file: a ``RankHead`` subclass decorated with
``@register_rank_head``. Files in this folder are found and imported on first lookup;
a head defined elsewhere (a test, a user's package) registers when its module is imported.
Then ``model.rank_head.type: NAME`` selects it for training, export, runtime and node.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from foir360_core.models.heads.base import RankHead, RankTargets, one_image

RANK_HEADS: dict[str, type[RankHead]] = {}


def register_rank_head(cls: type[RankHead]) -> type[RankHead]:
    """Class decorator: make ``cls`` selectable as ``model.rank_head.type: cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a `name` to be registered")
    known = RANK_HEADS.get(cls.name)
    if known is not None and known.__qualname__ != cls.__qualname__:
        raise ValueError(f"rank head {cls.name!r} is already registered by {known.__module__}")
    RANK_HEADS[cls.name] = cls
    return cls


@functools.cache
def _load_builtins() -> None:
    """Import every head file of this folder once (each registers itself)."""
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_") and module.name != "base":
            importlib.import_module(f"{__name__}.{module.name}")


def head_class(name: str) -> type[RankHead]:
    """The registered head called ``name``; the error lists the known ones."""
    _load_builtins()
    if name not in RANK_HEADS:
        raise ValueError(f"unknown rank head {name!r}; registered: {sorted(RANK_HEADS)} "
                         "(a new head registers with @register_rank_head)")
    return RANK_HEADS[name]


def registered_heads() -> list[str]:
    _load_builtins()
    return sorted(RANK_HEADS)


def resolve_rank_head(section: dict) -> dict:
    """A ``model.rank_head`` section with its head's defaults filled in (keys kept)."""
    cls = head_class(str(section.get("type", "")))
    return {**cls.defaults, **section}


__all__ = [
    "RANK_HEADS",
    "RankHead",
    "RankTargets",
    "head_class",
    "one_image",
    "register_rank_head",
    "registered_heads",
    "resolve_rank_head",
]
