"""Sphinx configuration: the nlfast API reference, from the docstrings.

Built by ``make docs`` (``sphinx-build -W``: any warning fails) into
build/docs/.  autodoc imports the installed package (``make venv``).
"""

from __future__ import annotations

from typing import Any

import nlfast

project = "nlfast"
author = "the nlfast authors"
copyright = "2026, the nlfast authors"
release = version = nlfast.__version__

extensions = ["sphinx.ext.autodoc"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_default_options = {"members": True, "show-inheritance": True}

exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path: list[str] = []


def _list_numbers(app: Any, what: str, name: str, obj: Any, options: Any,
                  lines: list[str]) -> None:
    """Lists the numbers of nlfast.family and nlfast.rtnl under their module
    docstrings: they come from C headers at build time and carry no doc
    comments of their own, so autodoc would show none of them."""
    if what != "module" or name not in ("nlfast.family", "nlfast.rtnl"):
        return
    if name == "nlfast.family":
        names = obj.names()
    else:
        names = sorted(n for n, v in vars(obj).items()
                       if n.isupper() and not n.startswith("_") and isinstance(v, int))
    lines += ["", "The names and values in this build:", ""]
    lines += [f"- ``{n}`` = ``{getattr(obj, n)!r}``" for n in names]


def setup(app: Any) -> None:
    app.connect("autodoc-process-docstring", _list_numbers)
