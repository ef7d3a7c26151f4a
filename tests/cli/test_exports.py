"""Every CLI module's public names exist, and every verb module plugs into the parser."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import cli
from cli.main import VERB_MODULES, build_parser

MODULES = sorted(m.name for m in pkgutil.iter_modules(cli.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(f"cli.{name}")
    for exported in getattr(module, "__all__", ()):
        assert hasattr(module, exported), f"cli.{name}.{exported}"


def test_every_verb_module_registers_a_handler() -> None:
    parser = build_parser()
    verbs = next(a for a in parser._actions if hasattr(a, "choices") and a.choices and "get" in a.choices)
    for name in ("get", "apply", "create", "delete", "describe", "label", "annotate",
                 "api-resources", "version", "config", "completion"):
        assert name in verbs.choices
        assert verbs.choices[name].get_default("handler") is not None
    assert set(VERB_MODULES) - {"rollout"} <= set(MODULES)
