"""Shared fixtures: tiny deterministic minute data and temporary MLflow stores."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from lab.data.readers import write_firstrate
from lab.data.synth import random_walk_minutes

PROJECT_ROOT = Path(__file__).resolve().parents[1]


#: Tiny deterministic minute data (a random walk on ticks per XNYS session): see the function's docstring.
make_minutes = random_walk_minutes

@pytest.fixture
def minutes_factory():
    return make_minutes


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory) -> Path:
    """An empty, fully migrated MLflow sqlite file, made once per session (migrating costs ~3-5 s)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    folder = tmp_path_factory.mktemp("mlflow-template")
    SqlAlchemyStore(f"sqlite:///{folder / 'mlflow.db'}", (folder / "artifacts").as_uri())
    return folder / "mlflow.db"


@pytest.fixture
def tracking_store(tmp_path, monkeypatch, migrated_sqlite_template):
    """A throwaway sqlite tracking store and artifact root; never the user's mlruns/."""
    import shutil

    shutil.copy(migrated_sqlite_template, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    import mlflow

    mlflow.set_tracking_uri(uri)
    # Artifacts of the default experiment would land in ./mlruns: give the test its own.
    mlflow.create_experiment("lab-test", artifact_location=(tmp_path / "artifacts").as_uri())
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "lab-test")
    yield uri
    mlflow.set_tracking_uri(None)


#: The PostgreSQL server of the scale-out tests (the machine's own; .ci/run starts it if needed).
PG_SERVER = os.environ.get("LAB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


@pytest.fixture
def postgres_database():
    """A throwaway PostgreSQL database ``postgresql+psycopg2://.../<name>``, dropped afterwards."""
    with throwaway_postgres() as uri:
        yield uri


@contextlib.contextmanager
def throwaway_postgres():
    """A throwaway PostgreSQL database ``postgresql+psycopg2://.../<name>``, dropped afterwards.

    PostgreSQL is part of this machine kind (``.ci/run`` starts it): an unreachable server fails
    the test with the command that starts it.
    """
    import uuid

    import psycopg2

    try:
        admin = psycopg2.connect(PG_SERVER + "/postgres", connect_timeout=3)
    except psycopg2.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG_SERVER} is unreachable ({str(exc).strip()}); start it with "
                    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` or point "
                    "LAB_TEST_POSTGRES at a server")
    admin.autocommit = True
    name = f"lab_test_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3: name the installed driver.
        yield PG_SERVER.replace("postgresql://", "postgresql+psycopg2://", 1) + f"/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextlib.contextmanager
def loopback_server(arguments: list[str], ready_path: str, log: Path, *, env: dict | None = None,
                    cwd: Path | None = None, timeout_s: float = 120.0):
    """Start ``python -m <arguments> --host 127.0.0.1 --port <free>``; yield its URL once ``ready_path``
    answers 200; stop it afterwards (terminate, then kill). Fails the test, with the log's tail, when
    the server exits or stays silent for ``timeout_s`` seconds."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with open(log, "w") as output:
        process = subprocess.Popen([sys.executable, "-m", *arguments, "--host", "127.0.0.1", "--port", str(port)],
                                   stdout=output, stderr=subprocess.STDOUT, cwd=cwd,
                                   env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(url + ready_path, timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{' '.join(arguments[:3])} on {url} did not answer: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


#: The tail of a small chain's lab.toml (short label look-back, one walk-forward fold, a one-point
#: grid): append it to a test's [data] / [windows] / [promotion] sections.
SMALL_CHAIN_SETTINGS = """
[targets]
volatility_lookback_bars = 200
[walk_forward]
min_train_months = 9
max_folds = 1
[tune]
num_leaves = [7]
max_depth = [3]
learning_rate = [0.1]
min_data_in_leaf = [200]
"""


#: What a test run must never add to the checkout (the user's own store, studies, data and demo).
CHECKOUT_STATE = ("mlflow.db", "mlruns", "mlartifacts", ".lab", "demo", "data/raw", "data/features")


def _checkout_state() -> dict[str, set[str]]:
    """The files under each of :data:`CHECKOUT_STATE` in the checkout, relative paths."""
    state = {}
    for name in CHECKOUT_STATE:
        path = PROJECT_ROOT / name
        if path.is_file():
            state[name] = {name}
        elif path.is_dir():
            state[name] = {str(p.relative_to(PROJECT_ROOT)) for p in path.rglob("*") if p.name != ".gitkeep"}
        else:
            state[name] = set()
    return state


@pytest.fixture(scope="session", autouse=True)
def checkout_left_as_found(tmp_path_factory):
    """Every test runs against a session store and home outside the checkout; the suite ends by
    checking that the checkout gained no store, study, data or demo file."""
    home = tmp_path_factory.mktemp("lab-home")
    before = _checkout_state()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        patch.setenv("LAB_HOME", str(home))
        yield home
    after = _checkout_state()
    added = sorted(path for name in CHECKOUT_STATE for path in after[name] - before[name])
    assert not added, f"the test suite wrote into the checkout {PROJECT_ROOT}: {added}"


@pytest.fixture(scope="session", autouse=True)
def warm_entry_points(checkout_left_as_found):
    """The entry points a test starts through the lab's runner run in children of a fork server
    (:mod:`lab.forkserver`), as the scheduler's do: a test worker has threads and LightGBM's
    OpenMP runtime, so it cannot fork itself, and a new interpreter per stage costs 2.5-3 s of imports.
    The server starts in the background; until it is ready, entry points start as processes."""
    from lab.forkserver import serving

    with serving() as server:
        yield server


def record_gate_promotion(client, model_name: str, version: str, alias: str = "champion") -> None:
    """What ``lab promote`` records on a version it registered (for tests that build a champion by hand):
    the gate record on the version and the alias on the registered model (registry.champion)."""
    from registry.champion import alias_record_tag

    for key, value in {"lab.gates": "[]", "lab.evidence_runs": "{}", "lab.promoted_at": "2024-01-01T00:00:00+00:00",
                       "lab.promoted_by": "test", "lab.promoted_as": alias}.items():
        client.set_model_version_tag(model_name, str(version), key, value)
    client.set_registered_model_alias(model_name, alias, str(version))
    client.set_registered_model_tag(model_name, alias_record_tag(alias), str(version))


def use_store(patch: pytest.MonkeyPatch, folder: Path, experiment: str, uri: str | None = None) -> str:
    """Point MLflow and the lab at a store of their own for a module's chain: ``uri`` (default a sqlite
    file in ``folder``), ``folder`` as the lab's home, and a new experiment with its artifacts there."""
    import mlflow

    uri = uri or f"sqlite:///{folder / 'mlflow.db'}"
    for key, value in {"MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true", "LAB_HOME": str(folder),
                       "MLFLOW_EXPERIMENT_NAME": experiment}.items():
        patch.setenv(key, value)
    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment(experiment, artifact_location=(folder / "artifacts").as_uri())
    return uri


def process_alive(pid: int) -> bool:
    """A process that exists and is not a zombie (Linux /proc)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def wait_until(condition, timeout: float = 5.0, poll: float = 0.05) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; its last answer."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll)
    return condition()

#: A small project's lab.toml: two months of training, one of validation, a held-out December.
SMALL_CONFIG = """
[data]
path = "{path}"
[windows]
train = ["2023-09-01", "2023-10-31"]
validation = ["2023-11-01", "2023-11-30"]
test = ["2023-12-01", "2023-12-29"]
[targets]
volatility_lookback_bars = 200
"""


@pytest.fixture
def small_project(tmp_path, tracking_store):
    """A minute file (2023-08..12, overnight minutes included) and its lab.toml in ``tmp_path``: the config's path."""
    raw = write_firstrate(make_minutes("2023-08-01", "2023-12-29", seed=2, overnight=True), tmp_path / "raw.txt")
    config = tmp_path / "lab.toml"
    config.write_text(SMALL_CONFIG.format(path=raw))
    return config
