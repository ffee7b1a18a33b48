"""Files the project reads are checked on load: one line naming the file and the problem, exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sim.model.schemas import ConfigError
from sim.runs.config import one_line
from sim.runs.sweep import expected_keys

SCAMSIM = str(Path(sys.executable).parent / "scamsim")

MULTIRUN = {
    "broken YAML": ("hydra: [unclosed\n", "multirun.yaml, line 2: not valid YAML (expected ',' or ']'"),
    "not a mapping": ("- 1\n", "not the record of a sweep (it needs hydra.sweeper.params"),
    "params not a mapping": (
        "hydra: {sweeper: {params: 3}, overrides: {task: []}}\n",
        "not the record of a sweep",
    ),
    "bad override": (
        "hydra: {overrides: {task: ['police.raid_capacity=[1']}}\n",
        "the sweep's overrides do not parse",
    ),
    "not text": ("\udcff\udcfe\n", "not readable as YAML"),
}


@pytest.mark.parametrize("case", sorted(MULTIRUN))
def test_a_corrupt_multirun_yaml_is_a_one_line_error_naming_it(tmp_path, case):
    text, message = MULTIRUN[case]
    (tmp_path / "multirun.yaml").write_bytes(text.encode("utf-8", errors="surrogateescape"))
    with pytest.raises(ConfigError) as err:
        expected_keys(tmp_path)
    assert str(err.value).startswith(str(tmp_path / "multirun.yaml"))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_collect_on_a_corrupt_multirun_yaml_exits_2_with_one_line(tmp_path):
    (tmp_path / "multirun.yaml").write_text("hydra: [unclosed\n")
    proc = subprocess.run([SCAMSIM, "collect", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("scamsim collect: error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "runs.parquet").exists()


def test_a_yaml_error_is_one_line_naming_file_and_line(tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_text("name: crackdown\ndescription: [unclosed\n")
    with pytest.raises(yaml.YAMLError) as err, path.open() as f:
        yaml.safe_load(f)
    expected = f"{path}, line 3: not valid YAML (expected ',' or ']', but got '<stream end>')"
    assert one_line(err.value) == expected
