"""A tiny fake project tree: the machinery's tests run against it, never against the real catalog.

`impl/attention.py` doubles and clamps; the fake suite pins both, except that clamp is checked only
through a session fixture (so mutmut, which maps tests to functions by what each test's own run
touched, credits only the fixture's first user) and `spare` is called by no test.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

FILES = {
    "pyproject.toml": """
        [tool.pytest.ini_options]
        pythonpath = ["."]
        addopts = "-p no:cacheprovider"
        markers = ["flash: flash tests", "beam: beam tests"]

        [tool.mutmut]
        source_paths = ["impl/"]
        also_copy = ["properties/", "conftest.py"]
        pytest_add_cli_args_test_selection = ["properties/"]
        """,
    "conftest.py": '"""Fake root conftest."""\n',
    "impl/__init__.py": "",
    "impl/attention.py": """
        def flash_attention_fwd(x):
            return 2 * x


        def clamp(x):
            return max(x, 0)


        def spare():
            return 1
        """,
    "properties/__init__.py": "",
    "properties/test_fake.py": """
        import pytest

        from impl.attention import clamp, flash_attention_fwd

        pytestmark = pytest.mark.flash


        @pytest.fixture(scope="session")
        def clamped():
            return clamp(-5)


        def test_doubles():
            assert flash_attention_fwd(3) == 6


        def test_zero():
            assert flash_attention_fwd(0) == 0


        def test_negative():
            assert flash_attention_fwd(-2) == -4


        def test_a_fixture_user(clamped):
            assert isinstance(clamped, int)


        def test_clamps_negative(clamped):
            assert clamped == 0
        """,
    "mutation_config/named_flash.toml": """
        [[mutant]]
        id = "flash-triple"
        algorithm = "flash"
        file = "impl/attention.py"
        bug = "Triples instead of doubling."
        killed_by = ["properties/test_fake.py::test_doubles"]
        [[mutant.edit]]
        find = "2 * x"
        replace = "3 * x"
        """,
}


def write_tree(root: Path, files: dict[str, str] = FILES) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


@pytest.fixture
def fake_tree(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "tree")
