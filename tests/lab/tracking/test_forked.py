"""A forked entry point is the interpreter its command would start, and records the run `mlflow run` records."""

import json
import os
import subprocess
import sys
import threading

import mlflow
import pytest

from lab.tracking.forked import PythonCommand, forkable_here, parse_python_command, python_command, shadowed_modules
from tests.conftest import PROJECT_ROOT

HERE = {"PATH": os.path.dirname(sys.executable)}


def test_a_python_module_or_script_command_of_this_interpreter_is_parsed(tmp_path):
    command = parse_python_command("python -m jobs.featurize --config 'a b.toml' --data -", PROJECT_ROOT, HERE)
    assert command == PythonCommand("jobs.featurize", None, ("--config", "a b.toml", "--data", "-"), str(PROJECT_ROOT))
    assert command.path_entry == str(PROJECT_ROOT)
    (tmp_path / "job.py").write_text("")
    assert parse_python_command("python job.py -x", tmp_path, HERE) == PythonCommand(
        None, str(tmp_path / "job.py"), ("-x",), str(tmp_path))
    assert PythonCommand(None, str(tmp_path / "job.py"), (), str(PROJECT_ROOT)).path_entry == str(tmp_path)


@pytest.mark.parametrize("command", [
    "python -u -m jobs.featurize",  # an interpreter option a fork cannot honour
    "python -m jobs.featurize > out.txt",  # shell syntax
    "python -m jobs.featurize && echo done",
    "python -m jobs.featurize --data $HOME/x.txt",
    "Rscript train.R",
    "python",
    "python missing.py",
])
def test_a_command_a_fork_cannot_run_is_left_to_a_process(command):
    assert parse_python_command(command, PROJECT_ROOT, HERE) is None
    assert python_command(command, PROJECT_ROOT, HERE) is None


def test_another_interpreter_or_a_new_import_path_is_left_to_a_process(tmp_path):
    assert parse_python_command("python -m jobs.featurize", PROJECT_ROOT, {"PATH": str(tmp_path)}) is None  # no python
    command = parse_python_command("python -m jobs.featurize", PROJECT_ROOT, HERE)
    assert not forkable_here(command, {**HERE, "PYTHONPATH": str(tmp_path)})  # a folder this process has not on its path


def test_a_process_with_another_thread_is_not_forked():
    release = threading.Event()
    thread = threading.Thread(target=release.wait, daemon=True)
    thread.start()
    try:
        assert not forkable_here(PythonCommand("jobs.featurize", None, (), str(PROJECT_ROOT)), HERE)
    finally:
        release.set()
        thread.join()


OPENMP_PROBE = """
from lab.tracking.forked import PythonCommand, forkable_here
command = PythonCommand("jobs.featurize", None, (), ".")
before = forkable_here(command, {})
import lightgbm  # loads the OpenMP runtime its training uses
print(before, forkable_here(command, {}))
"""


def test_a_process_that_loaded_an_openmp_runtime_is_not_forked():
    """A booster's OpenMP thread pool is invisible to ``threading``, and a forked copy of the process
    hangs in its first parallel loop without it. Run in a new interpreter: this one (the test process)
    may have loaded LightGBM already."""
    import subprocess
    import sys

    probe = subprocess.run([sys.executable, "-c", OPENMP_PROBE], cwd=PROJECT_ROOT, capture_output=True,
                           text=True, check=True)
    assert probe.stdout.split() == ["True", "False"]  # forkable before LightGBM, not after


def test_a_folder_holding_another_copy_of_an_imported_module_shadows_it(tmp_path):
    (tmp_path / "json.py").write_text("")  # `python -m ...` in this folder would import this json
    (tmp_path / "lab").mkdir()  # and this (namespace) package lab
    assert shadowed_modules(tmp_path) == ["json", "lab"]
    assert shadowed_modules(PROJECT_ROOT) == []


def test_a_file_without_a_suffix_named_like_a_module_does_not_shadow_it(tmp_path):
    """A venv's bin folder (a console script's first import folder) holds `mlflow`, `numba`... as scripts:
    no import finds them, so they shadow nothing; a module, package or extension there does."""
    import json as imported

    (tmp_path / "json").write_text("#!/usr/bin/env python\n")
    assert shadowed_modules(tmp_path) == []
    (tmp_path / "json").unlink()
    (tmp_path / "json.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    assert shadowed_modules(tmp_path) == ["json"] and imported.__name__ == "json"


#: A job that reports what its interpreter looks like, gets back from a spawned worker process an object
#: of a class it defines (as tune's workers return theirs), ends with code 3, and leaves work for exit time.
PROBE = """import atexit, json, os, sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path


class Reply:
    pass


def reply():
    return Reply()


if __name__ == "__main__":
    with ThreadPoolExecutor(2) as pool:
        pool.submit(print, "from a worker thread")
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as workers:
        spawned = type(workers.submit(reply).result()).__name__
    lingering = ThreadPoolExecutor(1)  # idle workers at exit: the interpreter lets them go
    lingering.submit(int)
    atexit.register(lambda: Path(sys.argv[1] + ".atexit").write_text("ran"))
    Path(sys.argv[1]).write_text(json.dumps({
        "argv": sys.argv[1:], "cwd": os.getcwd(), "path0": sys.path[0], "name": __name__, "probe": os.environ.get("PROBE"),
        "own_streams": sys.stdout is sys.__stdout__ and sys.stderr is sys.__stderr__, "spawned": spawned}))
    sys.exit(3)
"""

#: Runs PROBE through lab.tracking.forked from a fresh process whose sys.stdout was replaced (as click's test runner does).
FORKER = """import io, os, sys
import multiprocessing  # imported before the fork, as in a test session: it aliased __mp_main__ to this __main__
from lab.tracking.core import configure
from lab.tracking.forked import fork_command, python_command
configure()  # this interpreter first on PATH, as the runner has it
env = {**os.environ, "PROBE": "yes"}
command = python_command(f"python probe.py {sys.argv[2]}", sys.argv[1], env)
assert command is not None, "not forkable"
sys.stdout = io.StringIO()
child = fork_command(command, env, text="probe")
print(child.wait(), file=sys.__stdout__)
"""


def probe_fresh(tmp_path):
    """The probe's project, the environment it runs with, and its run in a new interpreter (report ``fresh.json``)."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "probe.py").write_text(PROBE)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PROBE": "yes"}
    fresh = subprocess.run([sys.executable, "probe.py", str(tmp_path / "fresh.json")], cwd=project, env=env,
                           capture_output=True, text=True, timeout=60)
    assert fresh.returncode == 3, fresh.stderr
    return project, env, fresh


def assert_seen_as_fresh(tmp_path, name: str, project) -> None:
    """The probe's report ``<name>.json`` equals the new interpreter's, and its exit functions ran."""
    seen = {run: json.loads((tmp_path / f"{run}.json").read_text()) for run in ("fresh", name)}
    for report in seen.values():
        del report["argv"]  # the file each writes differs
    assert seen[name] == seen["fresh"] == {"cwd": str(project), "path0": str(project), "name": "__main__",
                                           "probe": "yes", "own_streams": True, "spawned": "Reply"}
    assert (tmp_path / f"{name}.json.atexit").read_text() == "ran"


def test_a_forked_command_sees_what_a_new_interpreter_sees_and_ends_as_one(tmp_path):
    project, env, fresh = probe_fresh(tmp_path)
    forked = subprocess.run([sys.executable, "-c", FORKER, str(project), str(tmp_path / "forked.json")], cwd=tmp_path,
                            env={**env, "PROBE": "no"}, capture_output=True, text=True, timeout=60)
    assert forked.stdout.splitlines()[-1] == "3", forked.stderr  # the fork's exit code
    assert_seen_as_fresh(tmp_path, "forked", project)
    assert "from a worker thread" in fresh.stdout
    assert forked.stdout.splitlines() == ["from a worker thread", "3"]  # the process's stdout, not the caller's StringIO


#: `lab featurize` in a fresh process, saying on stderr whether the runner forked.
LAB = ("import sys; import lab.tracking.entry_points as runner; fork = runner.fork_command\n"
       "def watched(*args, **kwargs):\n"
       "    print('lab: forked', file=sys.stderr, flush=True)\n"
       "    return fork(*args, **kwargs)\n"
       "runner.fork_command = watched\n"
       "from cli.main import main; main()")


def _artifacts(client, run_id, path=None):
    found = []
    for item in client.list_artifacts(run_id, path):
        found += _artifacts(client, run_id, item.path) if item.is_dir else [item.path]
    return sorted(found)


@pytest.mark.slow  # two featurize runs as processes: seconds each
def test_a_stage_through_lab_records_the_run_mlflow_run_records(tmp_path, small_project):
    config = small_project
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT),  # `mlflow run` starts the `python` first on PATH: this one
           "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])}
    lab = [sys.executable, "-c", LAB, "featurize", "--config", str(config)]
    cold = subprocess.run(lab, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert cold.returncode == 0, cold.stderr[-3000:]  # builds the tables: the two runs compared are warm
    through_mlflow = subprocess.run(
        [sys.executable, "-m", "mlflow", "run", str(PROJECT_ROOT), "-e", "featurize", "--env-manager", "local",
         "-P", f"config={config}"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert through_mlflow.returncode == 0, through_mlflow.stderr[-3000:]
    through_lab = subprocess.run(lab, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert through_lab.returncode == 0, through_lab.stderr[-3000:]
    assert "lab: forked" in through_lab.stderr.splitlines()  # the job ran in a fork of `lab`, not a new interpreter
    client = mlflow.MlflowClient()
    _, first, second = sorted(client.search_runs([client.get_experiment_by_name("lab-test").experiment_id]),
                              key=lambda run: run.info.start_time)
    assert first.info.status == second.info.status == "FINISHED"
    assert first.data.tags["lab.stage"] == "featurize"
    assert first.data.metrics["cache_hit"] == second.data.metrics["cache_hit"] == 1.0
    ids = {"lab.process"}  # host, pid and start of each job's process
    assert {k: v for k, v in first.data.tags.items() if k not in ids} == \
        {k: v for k, v in second.data.tags.items() if k not in ids}
    assert first.data.params == second.data.params
    assert set(first.data.metrics) == set(second.data.metrics)
    assert _artifacts(client, first.info.run_id) == _artifacts(client, second.info.run_id)
    assert {"class_balance.png", "manifest.json", "config/lab.toml"} <= set(_artifacts(client, second.info.run_id))
    assert [i.dataset.name for i in first.inputs.dataset_inputs] == [i.dataset.name for i in second.inputs.dataset_inputs]
