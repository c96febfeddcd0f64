"""Featurize on a full-size minute file: cold (CSV -> tables written), warm (cache hit), peak memory,
the whole `mlflow run . -e featurize` wall time, the look-ahead audit's share of a cold featurize
(lab.leak_audit; its budget is 30 %), and the whole process of a cold featurize against the peer
script a user would write with pandas alone. Prints medians of several runs.

    python benchmarks/bench_featurize.py [--runs 5] [--mlflow-runs 3] [--peer-runs 3] [--peer PATH]
        [--before CHECKOUT] [--code-edited] [--only-peer] [--gap-s 1.0] [--seed 0] [--huge-pages]

The 2.3-million-row input is the lab's own synthetic MES file (2019-05-01..2025-12-31), written
once into benchmarks/out/. Each cold run is a fresh process (so its peak RSS is its own) with an
empty feature cache; warm runs reuse that cache.

Against the peer (``shared/bench/peer_featurize.py`` beside the checkout, or ``--peer``): both are
timed as whole processes (interpreter start and imports included); each round runs one process per
contender, and the medians are compared. The order inside each round is shuffled (``--seed``) and each process
starts after a pause (``--gap-s``): on the virtual machines the lab runs on, a process that starts
right after another inherits the kernel's state of the memory the other freed, and a fixed order
biased one contender by up to 0.15 s (the same code measured 1.92 s after one process and 1.77 s after
another). A user's featurize starts after a pause, too. ``--huge-pages`` adds the lab's process with
NumPy's huge-page advice kept (``NUMPY_MADVISE_HUGEPAGE=1``, which :mod:`lab.memory` leaves alone):
what turning it off saves. The lab's process loads the default configuration (the values
of lab.toml) and runs :func:`lab.dataset.build.prepare_dataset` cold: the data work of ``lab
featurize`` (read and validate, data doctor, content fingerprints, bars, features, targets,
look-ahead audit, tables written, digests) without the MLflow run around it. Like for like: the
peer is given ``--until`` = the test window's first day (2024-01-01), the date before which the
lab reads; the lab parses only those lines, the peer parses the whole file and filters. The
lab's pipeline-code digest (:mod:`lab.dataset.code`) is kept in ``.lab/pipeline_code.json`` while
the lab's code is unchanged, as after an edit of lab.toml; ``--code-edited`` removes it before every
lab run, as after an edit of the lab's code.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common
from _common import ROOT

CHILD = r"""
import json, resource, sys, time
from lab.config import load_config
from lab.dataset.build import prepare_dataset
config = load_config(None, {"data.path": sys.argv[1]})
start = time.perf_counter()
dataset = prepare_dataset(config, progress=lambda m: None, force=sys.argv[2] == "cold")
wall = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall_s": wall, "peak_rss_mb": peak_mb, "cache_hit": dataset.cache_hit, **dataset.timings_s,
                  "rows": dataset.manifest["rows"], "rows_read": dataset.manifest["rows_read"],
                  "rows_held_out": dataset.manifest["rows_held_out"], "leak_audit": dataset.manifest.get("leak_audit")}))
"""


WHOLE = r"""
import sys
from lab.config import load_config
from lab.dataset.build import prepare_dataset
prepare_dataset(load_config(None, {"data.path": sys.argv[1]}), progress=lambda m: None, force=True)
"""


def _child(path: Path, mode: str, lab_home: str) -> dict:
    env = _common.child_env(LAB_HOME=lab_home)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), mode], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mlflow-runs", type=int, default=3)
    parser.add_argument("--peer-runs", type=int, default=3, help="whole processes of each, in shuffled rounds (0: skip)")
    parser.add_argument("--peer", type=Path, default=None, help="the peer script (default: shared/bench/peer_featurize.py "
                        "beside the checkout)")
    parser.add_argument("--code-edited", action="store_true", help="remove the pipeline-code digest's memo before "
                        "every lab run (a cold featurize after an edit of the lab's code)")
    parser.add_argument("--only-peer", action="store_true", help="only the comparison with the peer")
    parser.add_argument("--gap-s", type=float, default=1.0, help="pause before each whole process of the comparison "
                        "with the peer (seconds; default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the shuffled order of each round (default 0)")
    parser.add_argument("--huge-pages", action="store_true", help="add the lab with NumPy's huge-page advice kept "
                        "(NUMPY_MADVISE_HUGEPAGE=1) to the comparison with the peer")
    parser.add_argument("--before", type=Path, default=None, help="a checkout of the code before (e.g. a git "
                        "worktree of an older commit): its cold featurize joins the rounds")
    args = parser.parse_args()
    path = _common.default_data_file()
    load_before = _common.load()
    size_mb = path.stat().st_size / 1e6
    home = tempfile.mkdtemp(prefix="bench-featurize-")
    try:
        if args.only_peer:
            _against_peer(path, args, home)
            print(_common.machine(load_before))
            return
        cold = [_child(path, "cold", home) for _ in range(args.runs)]
        warm = [_child(path, "warm", home) for _ in range(args.runs)]
        total = cold[0]["rows_read"] + cold[0]["rows_held_out"]
        print(f"input: {path.name}, {total:,} rows, {size_mb:.0f} MB ({cold[0]['rows_read']:,} before the test window "
              f"parsed, {cold[0]['rows_held_out']:,} held out and never parsed); tables {cold[0]['rows']}")
        med = lambda runs, key: statistics.median(r.get(key, 0.0) for r in runs)  # noqa: E731
        print(f"cold featurize (CSV -> tables written), median of {args.runs}: {med(cold, 'wall_s'):.3f} s "
              f"[digest {med(cold, 'digest_s'):.3f}, read+validate {med(cold, 'read_s'):.3f}, "
              f"bars+features+targets {med(cold, 'featurize_s'):.3f} while a second thread ran the fingerprints "
              f"{med(cold, 'fingerprints_s'):.3f} and the data doctor {med(cold, 'doctor_s'):.3f}, write {med(cold, 'write_s'):.3f}]")
        share = statistics.median(r["audit_s"] / r["wall_s"] for r in cold)
        print(f"look-ahead audit (inside bars+features+targets; {cold[0]['leak_audit']['features_audited']} features, "
              f"{len(cold[0]['leak_audit']['cuts'])} cuts, {cold[0]['leak_audit']['bars_recomputed']:,} bars recomputed), "
              f"median: {med(cold, 'audit_s'):.3f} s = {share:.1%} of the cold featurize (median of per-run shares)")
        print(f"warm featurize (cache hit), median of {args.runs}: {med(warm, 'wall_s'):.3f} s")
        print(f"peak RSS of a cold run (whole process, imports included), median: {med(cold, 'peak_rss_mb'):.0f} MB")
        if args.mlflow_runs:
            walls = []
            config = Path(home) / "lab.toml"
            config.write_text(f'[data]\npath = "{path}"\n')
            env = _common.child_env(LAB_HOME=home, MLFLOW_TRACKING_URI=f"sqlite:///{home}/mlflow.db")
            subprocess.run([sys.executable, "-c", "import mlflow; mlflow.create_experiment('bench', artifact_location="
                            f"'{Path(home, 'artifacts').as_uri()}')"], env=env, check=True, capture_output=True)
            env["MLFLOW_EXPERIMENT_NAME"] = "bench"
            for _ in range(args.mlflow_runs):
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "mlflow", "run", ".", "-e", "featurize", "--env-manager", "local", "-P", f"config={config}"],
                               cwd=ROOT, env=env, check=True, capture_output=True)
                walls.append(time.perf_counter() - start)
            print(f"`mlflow run . -e featurize` wall time (cache warm, logging included), median of "
                  f"{args.mlflow_runs}: {statistics.median(walls):.2f} s (runs: {', '.join(f'{w:.2f}' for w in walls)})")
        if args.peer_runs:
            _against_peer(path, args, home)
        print(_common.machine(load_before))
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _peer_script(given: Path | None) -> Path:
    if given is not None:
        return given
    for folder in (ROOT.parent, *ROOT.parents[1:3]):
        candidate = folder / "shared" / "bench" / "peer_featurize.py"
        if candidate.is_file():
            return candidate
    raise SystemExit("no shared/bench/peer_featurize.py beside the checkout: pass --peer PATH or --peer-runs 0")


def _timed(command: list[str], env: dict[str, str], cwd: Path = ROOT) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system, threads included) of one child process, and its last line."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""


def _against_peer(path: Path, args: argparse.Namespace, home: str) -> None:
    """The whole process of the lab's cold featurize and of the peer script (and of the lab in the
    ``--before`` checkout), in rounds of shuffled order; medians of wall and CPU time, and the ratios to the peer."""
    sys.path.insert(0, str(ROOT))
    from lab.config import load_config
    from lab.memory import HUGE_PAGE_ENV

    until = load_config(None, {"data.path": str(path)}).windows.test.start
    peer = _peer_script(args.peer)
    # As Python runs by default: modules' bytecode cached in __pycache__ (a shell with
    # PYTHONDONTWRITEBYTECODE=1 compiles every edited project module again in every process, ~0.06 s).
    base = _common.child_env()
    bytecode = "cached" if base.pop("PYTHONDONTWRITEBYTECODE", None) is None else "cached (PYTHONDONTWRITEBYTECODE unset)"
    base.pop(HUGE_PAGE_ENV, None)  # the lab's own choice, not the shell's (--huge-pages adds the other)
    contenders = {"lab": (ROOT, {**base, "LAB_HOME": home})}
    if args.before is not None:
        before_home = Path(home) / "before"  # removed with the benchmark's home
        before_home.mkdir(exist_ok=True)
        contenders["lab before"] = (args.before.resolve(), {**base, "LAB_HOME": str(before_home),
                                                            "PYTHONPATH": str(args.before.resolve())})
    if args.huge_pages:  # the same code and home: only NumPy's advice differs
        contenders["lab +THP"] = (ROOT, {**base, "LAB_HOME": home, HUGE_PAGE_ENV: "1"})
    commands = {name: ([sys.executable, "-c", WHOLE, str(path)], folder, env) for name, (folder, env) in contenders.items()}
    commands["peer"] = ([sys.executable, str(peer), str(path), "--until", until.isoformat()], ROOT, base)
    for name in contenders:  # a first run each: bytecode, the calendar's schedule, the code digest's memo
        _timed(*commands[name][:1], commands[name][2], commands[name][1])
    walls = {name: [] for name in commands}
    cpus = {name: [] for name in commands}
    line = ""
    shuffle = random.Random(args.seed).shuffle
    for _ in range(args.peer_runs):
        order = list(commands)
        shuffle(order)
        for name in order:
            command, folder, env = commands[name]
            time.sleep(args.gap_s)
            if args.code_edited and name != "peer":
                (Path(env["LAB_HOME"]) / ".lab" / "pipeline_code.json").unlink(missing_ok=True)
            wall, cpu, last = _timed(command, env, folder)
            walls[name].append(wall)
            cpus[name].append(cpu)
            line = last if name == "peer" else line
    med = {name: (statistics.median(walls[name]), statistics.median(cpus[name])) for name in commands}
    memo_state = "removed before each run (after a code edit)" if args.code_edited else "kept (after a lab.toml edit)"
    print(f"whole process, cold featurize (read and validate, data doctor, fingerprints, features, targets, look-ahead "
          f"audit, write, digests; pipeline-code memo {memo_state}) against the peer {peer.name} --until {until}, "
          f"median of {args.peer_runs} rounds, order shuffled in each (seed {args.seed}), {args.gap_s:g} s pause before "
          f"each process:")
    for name in commands:
        wall, cpu = med[name]
        ratio = "" if name == "peer" else f"; ratio to the peer {wall / med['peer'][0]:.2f}x wall, {cpu / med['peer'][1]:.2f}x CPU"
        print(f"  {name:<10} {wall:.2f} s wall (runs {', '.join(f'{w:.2f}' for w in walls[name])}), "
              f"{cpu:.2f} s CPU{ratio}")
    for other, what in (("lab before", args.before), ("lab +THP", "NumPy's huge-page advice kept")):
        if other in med:
            print(f"  lab / {other} ({what}): {med['lab'][0] / med[other][0]:.2f}x wall, "
                  f"{med['lab'][1] / med[other][1]:.2f}x CPU")
    print(f"  both read the minutes before {until}; the lab leaves the later ones unparsed, the peer parses the "
          f"whole file and filters; bytecode {bytecode}; the exchange calendar's schedule kept in .lab/calendars "
          f"(from the first run). Peer's own line: {line}")


if __name__ == "__main__":
    main()
