"""Packaging and deployment files say what they claim: CI runs the README's command with the
pinned tools; the Dockerfile runs as a non-root user with the corpus and state as volumes, the
token from the environment and a health check; the systemd unit is valid."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from conftest import REPO


def test_ci_runs_exactly_the_readme_test_command():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("Run the tests", 1)[1]
    command = re.search(r"```sh\n(.+?)\n```", section, re.S).group(1)
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert ci[-1] == command
    assert "-c constraints.txt" in command


def test_constraints_pin_every_test_tool():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    tools = {re.split(r"[<>=!~\[ ]", requirement, maxsplit=1)[0] for requirement in extras["test"]}
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name] = version
    assert tools <= set(pins), tools - set(pins)


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of the Dockerfile, continuation lines joined."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def test_dockerfile_runs_unprivileged_with_volumes_health_check_and_no_token():
    steps = dockerfile()
    users = [args for op, args in steps if op == "USER"]
    assert users == ["storybot"]
    user_at = steps.index(("USER", "storybot"))
    assert steps[-1] == ("CMD", '["storybot", "run"]')
    assert user_at < len(steps) - 1  # everything that runs the bot runs after USER
    (volumes,) = [args for op, args in steps if op == "VOLUME"]
    assert set(re.findall(r'"([^"]+)"', volumes)) == {"/data/corpus", "/data/state"}
    (health,) = [args for op, args in steps if op == "HEALTHCHECK"]
    assert health.endswith('CMD ["storybot", "health", "--discord"]')
    env = " ".join(args for op, args in steps if op in {"ENV", "ARG"})
    assert "DISCORD_TOKEN" not in env  # the token only ever comes from `docker run -e`
    assert "STORYBOT_CONFIG=/data/config.toml" in env
    # The shipped config's relative paths land on the volumes.
    config = tomllib.loads((REPO / "config.toml").read_text())["corpus"]
    assert (config["dir"], config["state_dir"]) == ("corpus", "state")


def test_dockerfile_copies_only_what_exists_and_is_not_ignored():
    ignored = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for op, args in dockerfile():
        if op != "COPY":
            continue
        *sources, _target = args.split()
        for name in sources:
            assert (REPO / name).exists(), name
            assert not any(fnmatch(name, pattern) for pattern in ignored), name


SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def test_the_systemd_unit_runs_the_bot_unprivileged():
    unit = (REPO / "deploy" / "storybot.service").read_text()
    assert re.search(r"^User=storybot$", unit, re.M)
    assert re.search(r"^ExecStart=\S+/storybot run$", unit, re.M)
    assert re.search(r"^EnvironmentFile=", unit, re.M) and "DISCORD_TOKEN=" not in unit.replace(
        "# DISCORD_TOKEN=", ""
    )


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="no systemd-analyze here")
def test_systemd_accepts_the_unit(tmp_path: Path):
    # The unit names /srv/storybot; point it at a temporary one whose venv is this interpreter's.
    if not (Path(sys.prefix) / "bin" / "storybot").exists():
        pytest.skip("storybot is not installed in this interpreter's environment")
    home = tmp_path / "srv"
    for name in ("corpus", "state"):
        (home / name).mkdir(parents=True)
    (home / ".venv").symlink_to(Path(sys.prefix))
    unit = tmp_path / "storybot.service"
    text = (REPO / "deploy" / "storybot.service").read_text()
    unit.write_text(text.replace("/srv/storybot", str(home)))
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="no systemd-analyze here")
def test_the_systemd_unit_is_sandboxed(tmp_path: Path):
    """systemd-analyze security scored the unit 6.0 (MEDIUM); it is 1.2 (OK) now."""
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=yes", str(REPO / "deploy" / "storybot.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"Overall exposure level for storybot\.service: ([\d.]+)", result.stdout)
    assert found, result.stdout[-2000:] + result.stderr[-2000:]
    assert float(found.group(1)) <= 2.0, result.stdout


def test_answers_without_the_hub_packages_tokenizers_pulls_in(tmp_path: Path):
    """huggingface-hub and hf-xet (19 MB) come with tokenizers and are never imported: a
    deployment may uninstall them (README, "Install size")."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(REPO / "corpus" / "seed-story.txt", corpus)
    (tmp_path / "config.toml").write_text('[corpus]\ndir = "corpus"\nstate_dir = "state"\n')
    code = (
        "import sys; sys.modules['huggingface_hub'] = None; sys.modules['hf_xet'] = None; "
        "from bot.cli import main; "
        f"sys.exit(main(['--config', {str(tmp_path / 'config.toml')!r}, 'ask', '--json', "
        "'Who directed Cuties?']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert '"answered": true' in result.stdout
