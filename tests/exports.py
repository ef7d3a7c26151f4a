"""The exported-members guard (as httpx's ``tests/test_exported_members.py``), written once.

Each package's ``test_exports.py`` keeps its own module list and runs this check over it.
"""

from __future__ import annotations

import importlib


def assert_exported_members_exist(name: str) -> None:
    """Module ``name`` lists no name twice in ``__all__`` and has every name it lists."""
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(exported) == len(set(exported)), "duplicate names in __all__"
    for member in exported:
        assert hasattr(module, member), f"{name}.{member}"
