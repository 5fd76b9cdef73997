"""A pytest plugin (`-p killmatrix.plugins.transplant_plugin`) that puts the reference in place of the user's function.

After collection every test module is imported and has bound the user's function under whatever
name it chose (`from flash import attention as fa`, `import flash` then `flash.attention`). The
plugin finds the function object in the user's module and, in every module namespace that holds
that object, binds the reference instead: the reference as imported from PYTHONPATH, which for a
named-mutant run is a mutated copy of the tree, so the user's tests now test that mutant. When the
user's API differs from the contract, `--transplant-adapter FILE` names a file whose
`to_user(reference_fn)` returns a callable with the user's API.

What this cannot reach: a reference kept before collection ended in a closure, a default argument
or a container (a `CASES = [(attention, ...)]` table); such a test keeps calling the user's code
and so kills nothing, which the baseline run against the reference does not reveal.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import pytest


def load_file_module(path: Path, name: str):
    """Import a file as module `name` (its folder first on sys.path, so it can import its siblings)."""
    path = Path(path)
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _package_name(path: Path) -> str | None:
    """The most qualified name `path` imports under from sys.path (`impl.attention_bwd`, not `attention_bwd`): the
    name the code under test and the suite's fixtures import it by. None when no sys.path entry holds it."""
    names = []
    for entry in sys.path:
        base = Path(entry or ".").resolve()
        if path.is_relative_to(base):
            parts = path.relative_to(base).with_suffix("").parts
            if all((base.joinpath(*parts[:i]) / "__init__.py").is_file() for i in range(1, len(parts))):
                names.append(".".join(parts))
    return max(names, key=lambda name: name.count("."), default=None)


def user_module(path: Path):
    """The already imported module whose file is `path`; imported if no test imported it, by its package-qualified
    name when it lives in a package on sys.path (a second copy under its bare stem would be another module, and
    what replaced its functions would reach nobody), else by its stem."""
    path = Path(path).resolve()
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve() == path:
            return module
    name = _package_name(path)
    if name is not None:
        return importlib.import_module(name)
    sys.path.insert(0, str(path.parent))
    return importlib.import_module(path.stem)


def rebind(original: object, replacement: object) -> int:
    """Bind `replacement` wherever a module namespace holds `original`; the number of bindings changed."""
    changed = 0
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for name, value in list(namespace.items()):
            if value is original:
                namespace[name] = replacement
                changed += 1
    return changed


def reference_callable(reference: str) -> Callable:
    module_name, _, func = reference.partition(":")
    return getattr(importlib.import_module(module_name), func)


def pytest_addoption(parser):
    group = parser.getgroup("killmatrix transplant")
    group.addoption("--transplant-file", help="the user's implementation file (its staged copy)")
    group.addoption("--transplant-func", help="the user's function in it")
    group.addoption("--transplant-reference", help="module:func of the reference to put in its place")
    group.addoption("--transplant-adapter", default=None, help="a file with to_user(reference_fn)")


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    config = session.config
    file, func = config.getoption("transplant_file"), config.getoption("transplant_func")
    if not file:
        return
    module = user_module(Path(file))
    original = getattr(module, func)
    replacement = reference_callable(config.getoption("transplant_reference"))
    adapter = config.getoption("transplant_adapter")
    if adapter:
        replacement = load_file_module(Path(adapter), "killmatrix_user_adapter").to_user(replacement)
    rebind(original, replacement)
