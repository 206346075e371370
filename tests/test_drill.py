"""The index drill (bench/drill.py), shortened for CI: a random history of adds, removes, changes, merges and full
rebuilds, the articles folder named four ways; the index never loses an article and stays within 1.5x a fresh
build on disk. The full 1,000-step drill's result is in the README."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .cli_harness import process_env
from .conftest import ROOT


@pytest.mark.slow
def test_a_random_history_never_loses_an_article_nor_grows_past_one_and_a_half_fresh_builds(tmp_path):
    # Issue 15, findings 1 and 3: the same folder spelled otherwise emptied the index, and removed articles' disk
    # was never given back.
    command = [sys.executable, str(ROOT / "bench" / "drill.py"), "--steps", "70", "--seed", "7", "--work",
               str(tmp_path / "drill")]
    done = subprocess.run(command, capture_output=True, text=True, env=process_env(), timeout=600, check=False)
    result = json.loads(done.stdout.splitlines()[-1])
    assert done.returncode == 0, result.get("problem", done.stderr)
    assert result["ok"]
    assert result["steps"] == 70
    assert all(result["kinds"].values()), result["kinds"]
    assert result["max_ratio_bytes"] <= 1.5
    assert result["max_ratio_blocks"] <= 1.5
