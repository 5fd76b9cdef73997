"""`python -m killmatrix.outside.load_probe ALGORITHM SPEC`: import an outside target in a sandboxed child.

Exit 0 when the target imports and names a callable; otherwise print one line saying why on stdout
and exit 3. Run confined (killmatrix/sandbox/confinement.py, by the caller) and under the write guard like
every other child that touches outside code, so module level code gets no more rights than the
functions it defines.
"""

from __future__ import annotations

import os
import sys

from killmatrix.outside.adapters import load_callable, parse_spec
from killmatrix.plugins.sandbox_plugin import LOG_ENV, ROOTS_ENV
from killmatrix.sandbox import write_guard

LOAD_FAILED = 3


def main(argv: list[str]) -> int:
    algorithm, spec_text = argv
    write_guard.install(os.environ[ROOTS_ENV].split(os.pathsep), os.environ[LOG_ENV])
    write_guard.set_context("<loading the target>")
    try:
        load_callable(parse_spec(spec_text, algorithm))
    except BaseException as exc:  # noqa: BLE001 (outside code may raise anything, SystemExit included)
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)
        return LOAD_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
