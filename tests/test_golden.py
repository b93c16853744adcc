"""Same scenario, same seed, same numbers: the three shipped strategies against a stored result.

``tests/golden/three_strategies_seed1_n10.csv`` is the ``replications.csv`` of
``trunksim run scenarios/trunk-based.yaml scenarios/github-flow.yaml scenarios/gitflow.yaml
-n 10 --seed 1``. A change that moves these numbers on purpose regenerates the file
(``python tests/test_golden.py``) and says which numbers moved and why in its commit.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "three_strategies_seed1_n10.csv"
SCENARIOS = [f"scenarios/{name}.yaml" for name in ("trunk-based", "github-flow", "gitflow")]


def produce(out: Path) -> Path:
    """Run the three strategies as the golden file was made; return the replications.csv written."""
    command = [sys.executable, "-m", "trunksim", "run", *SCENARIOS, "-n", "10", "--seed", "1", "-o", str(out), "-q", "--no-plots"]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    return out / "replications.csv"


def test_three_strategies_reproduce_the_golden_replications(tmp_path: Path) -> None:
    produced = produce(tmp_path / "out").read_bytes()
    assert produced == GOLDEN.read_bytes(), "replications.csv moved; if on purpose, regenerate the golden file and say why"


if __name__ == "__main__":  # regenerate
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        GOLDEN.write_bytes(produce(Path(folder) / "out").read_bytes())
    print(f"wrote {GOLDEN}")
