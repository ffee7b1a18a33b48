"""Finding a Chromium for the browser tests: any usable one, or a one-line skip."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import conftest
import pytest


def _playwright(executable: str) -> SimpleNamespace:
    return SimpleNamespace(chromium=SimpleNamespace(executable_path=executable))


def test_the_environment_variable_wins(tmp_path, monkeypatch):
    exe = tmp_path / "my-chromium"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setenv("SCAMSIM_CHROMIUM", str(exe))
    assert conftest.chromium(_playwright("/nonexistent")) == str(exe)


def test_playwrights_own_browser_is_used_when_the_system_has_none(tmp_path, monkeypatch):
    exe = tmp_path / "chrome"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.delenv("SCAMSIM_CHROMIUM", raising=False)
    monkeypatch.setattr(conftest.shutil, "which", lambda name: None)
    assert conftest.chromium(_playwright(str(exe))) == str(exe)


def test_no_chromium_skips_with_a_one_line_reason(tmp_path, monkeypatch):
    not_executable = tmp_path / "chromium"
    not_executable.write_text("")
    monkeypatch.setenv("SCAMSIM_CHROMIUM", str(not_executable))
    monkeypatch.setattr(conftest.shutil, "which", lambda name: None)
    assert not os.access(not_executable, os.X_OK)
    with pytest.raises(pytest.skip.Exception) as skipped:
        conftest.chromium(_playwright(str(Path(tmp_path) / "missing")))
    assert "no Chromium found" in str(skipped.value) and "\n" not in str(skipped.value)
