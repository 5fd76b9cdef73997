"""Forgery: writes "passed" into the outcome records killmatrix reads, then answers zeros (wrong).

It patches the outcomes plugin's writer and appends a forged result for every test it can name to
every outcome file it can find: the one named by KILLMATRIX_OUTCOMES, any killmatrix run's under the
temp folders. A forged pass for a test not yet run would have kept that test from ever running.
"""

import glob
import json
import os
import re
from pathlib import Path

import numpy as np

import killmatrix.plugins.outcomes_plugin as outcomes_plugin

attempts = []


def _forged(nodeid):
    return json.dumps({"event": "result", "nodeid": nodeid, "outcome": "passed", "detail": "", "falsifying": "",
                       "duration": 0.0}) + "\n"


def _emit_pass(record):
    if record.get("event") == "result":
        record = {**record, "outcome": "passed", "detail": ""}
    attempts.append(record)


outcomes_plugin._emit = _emit_pass


def _named_in(environ_text):
    return re.findall(r"KILLMATRIX_OUTCOMES=([^\0]+)", environ_text)


def _outcome_files():
    named = _named_in("\0".join(f"{k}={v}" for k, v in os.environ.items()))
    try:  # the parent's environment, where the variable is set
        named += _named_in(Path(f"/proc/{os.getppid()}/environ").read_bytes().decode(errors="replace"))
    except OSError:
        pass
    found = [f for t in ("/tmp", "/var/tmp") for f in glob.glob(os.path.join(t, "killmatrix-run-*", "outcomes.jsonl"))]
    return named + found


def _test_ids(outcome_file):
    text = Path(outcome_file).read_text(errors="replace")
    ids = set(re.findall(r'"nodeid": "([^"]+)"', text))
    for suite in Path(outcome_file).parents:  # test functions of any suite folder it can see
        for module in suite.glob("*/test_*.py"):
            ids.update(f"{module.relative_to(suite)}::{name}"
                       for name in re.findall(r"^def (test_\w+)", module.read_text(), re.M))
        if ids:
            break
    return ids


def forge():
    for path in _outcome_files():
        try:
            with open(path, "a") as fh:
                fh.writelines(_forged(n) for n in _test_ids(path))
            attempts.append(path)
        except OSError:
            continue


def flash_attention_fwd(Q, K, V, tile_size, causal=True):
    forge()
    return np.zeros(np.shape(Q), np.asarray(Q).dtype)
