"""Settings are validated with the key named: types, bounds, booleans, unknown keys with a
suggestion; `molehunt config check`; `--wait SECONDS` on the writer lock."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest

from conftest import copy_fixture
from molehunt.config import Settings, check_memory_limit, max_threads
from molehunt.errors import ConfigError
from molehunt.store.workspace import Workspace
from test_cli import _molehunt


def _load(tmp_path: Path, text: str) -> Settings:
    (tmp_path / "molehunt.toml").write_text(text, "utf-8")
    return Settings.load(tmp_path)


@pytest.mark.parametrize(("text", "message"), [
    ("threads = 100000", f"threads must be a whole number from 1 to {max_threads()}"),
    ("threads = 0", "threads must be a whole number from 1"),
    ("threads = true", "threads must be a whole number from 1"),
    ("threads = 2.5", "threads must be a whole number from 1"),
    ('psychometric_enabled = "false"',
     'psychometric_enabled must be true or false (without quotes), not "false"'),
    ("psychometric_enabled = 0", "psychometric_enabled must be true or false"),
    ('[detectors.snooper]\nenabled = "false"',
     'detectors.snooper.enabled must be true or false (without quotes), not "false"'),
    ('memory_limit = "lots"', 'memory_limit must be a size such as "2GB"'),
    ('memory_limit = "100"', 'memory_limit must be a size such as "2GB"'),
    ('memory_limit = "2 parsecs"', 'memory_limit must be a size such as "2GB"'),
    ("memory_limit = 2", 'memory_limit must be a size such as "2GB"'),
    ('memory_limit = "10KB"', "memory_limit must be at least 1MB"),
    ('memory_limit = "150%"', "memory_limit as a percentage must be above 0"),
    ("content_min_hits = true", "content_min_hits must be a positive integer"),
    ("thread = 2", "unknown setting 'thread' (did you mean 'threads'?)"),
    ("psychometric = true\ncolour = 1",
     "unknown settings 'colour', 'psychometric' (did you mean 'psychometric_enabled'?)"),
])
def test_bad_settings_name_their_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, text + "\n")
    assert message in str(raised.value)
    assert str(raised.value).startswith(str(tmp_path / "molehunt.toml") + ": ")


def test_good_settings_load(tmp_path: Path) -> None:
    settings = _load(tmp_path, f'threads = {max_threads()}\npsychometric_enabled = true\n'
                               'memory_limit = "512 MiB"\n[detectors.snooper]\nenabled = false\n')
    assert settings.threads == max_threads() and settings.psychometric_enabled
    assert settings.memory_limit == "512 MiB"
    assert settings.detectors == {"snooper": {"enabled": False}}
    for good in ("2GB", "1.5gb", "1MB", "50%", "1 TiB"):
        assert check_memory_limit(good) == good


def test_to_toml_loads_to_the_same_settings(tmp_path: Path) -> None:
    text = ('company_domains = ["dtaa.com"]\nthreads = 1\nmemory_limit = "1GB"\n'
            "earliest_event = 2001-02-03\n"
            '[encodings]\n"*/a b/*.csv" = "gb18030"\n[content_patterns]\n'
            "'(?i)\\bcell \"recipe\"\\b' = 3\n[sensitivity_labels]\n\"Highly Confidential\" = 3\n"
            "[detectors.snooper]\nenabled = false\nrecent_days = 14\n")
    settings = _load(tmp_path, text)
    again = tmp_path / "again"
    again.mkdir()
    (again / "molehunt.toml").write_text(settings.to_toml(), "utf-8")
    assert Settings.load(again) == settings


def test_config_check_prints_the_effective_settings_or_one_line(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    defaults = _molehunt("config", "check", workspace=workspace)
    assert defaults.returncode == 0, defaults.stderr
    assert "the defaults apply" in defaults.stderr
    assert tomllib.loads(defaults.stdout)["memory_limit"] == "2GB"
    (workspace / "molehunt.toml").write_text('threads = 1\n[detectors.snooper]\nenabled = false\n')
    checked = _molehunt("config", "check", workspace=workspace)
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.strip() == f"{workspace / 'molehunt.toml'}: valid"
    effective = tomllib.loads(checked.stdout)
    assert effective["threads"] == 1 and effective["psychometric_enabled"] is False
    assert effective["detectors"] == {"snooper": {"enabled": False}}
    as_json = _molehunt("config", "check", "--json", workspace=workspace)
    assert as_json.returncode == 0 and '"threads": 1' in as_json.stdout
    for text, message in (
        ("threads = 100000\n", "threads must be a whole number from 1 to"),
        ('psychometric_enabled = "false"\n', "psychometric_enabled must be true or false"),
        ("memroy_limit = '2GB'\n", "did you mean 'memory_limit'?"),
        ("[detectors.snoopr]\nenabled = false\n", "unknown detectors in settings: snoopr"),
        ("[detectors.snooper]\nrecent = 3\n", "detector snooper: unknown parameters"),
        ('domain_category_files = ["nowhere.csv"]\n', "cannot read domain categories"),
        ("threads = [\n", "cannot read settings"),
    ):
        (workspace / "molehunt.toml").write_text(text)
        failed = _molehunt("config", "check", workspace=workspace)
        assert failed.returncode == 1, (text, failed.stdout)
        lines = failed.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (text, failed.stderr)
        assert failed.stdout == ""


def test_bad_memory_limit_is_a_setting_error_not_an_input_error(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "molehunt.toml").write_text('memory_limit = "plenty"\n')
    folder = copy_fixture("cert_r6", tmp_path)
    result = _molehunt("ingest", "cert", str(folder), workspace=workspace)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {workspace / 'molehunt.toml'}: memory_limit must be a size such as \"2GB\""
        ' or "512MiB" (units KB, MB, GB, TB, KiB, MiB, GiB, TiB) or a percentage of the'
        ' memory such as "50%", not "plenty"']
    assert str(folder) not in result.stderr


def test_wait_retries_the_writer_lock_until_its_timeout(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    folder = copy_fixture("cert_r6", tmp_path)
    holder = Workspace(workspace)
    with holder.locked():
        refused = _molehunt("ingest", "cert", str(folder), workspace=workspace)
        assert refused.returncode == 1
        assert refused.stderr.strip() == (f"error: {workspace}: another molehunt process is"
                                          " writing this workspace")
        started = time.monotonic()
        waited = _molehunt("--wait", "1.5", "ingest", "cert", str(folder), workspace=workspace)
        assert time.monotonic() - started >= 1.5
        assert waited.returncode == 1
        assert waited.stderr.strip() == (f"error: {workspace}: another molehunt process is"
                                         " writing this workspace (waited 1.5 s)")
    # released while the second one waits: it goes ahead
    lock = holder.locked()
    lock.__enter__()
    release = threading.Timer(2.0, lambda: lock.__exit__(None, None, None))
    env = {**os.environ, "COLUMNS": "200"}
    command = [sys.executable, "-m", "molehunt.cli", "--workspace", str(workspace), "--wait",
               "60", "ingest", "cert", str(folder)]
    release.start()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    release.join()
    assert done.returncode == 0, done.stderr
    bad = _molehunt("--wait", "-1", "status", workspace=workspace)
    assert bad.returncode == 2  # a usage error
