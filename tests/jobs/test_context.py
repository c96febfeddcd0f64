"""The job context: resolved once where a job starts, the same value in a worker process."""

import pickle
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import mlflow

from jobs.context import JobContext, open_job
from lab import tags as tag
from lab.config import load_config


def _seen_by_worker(job: JobContext) -> tuple[str, str, str, str, tuple]:
    """What a spawned process reads off the context it was handed (it resolves nothing itself)."""
    return job.store, job.run_id, job.market, job.data.sha256, job.data.sealed


def test_open_job_resolves_the_run_and_the_data_once_and_tags_the_market(small_project):
    config = load_config(small_project)
    with open_job("featurize", config, target="all", builds_on=["", "abc"]) as job:
        active = mlflow.active_run()
        assert job.run_id == active.info.run_id and job.run.stage == "featurize"
        assert job.run.experiment_id == active.info.experiment_id
        assert job.store == mlflow.get_tracking_uri()
        assert job.builds_on == ("abc",)  # the runs given, the empty ones dropped
        assert str(config.windows.test) in {str(r) for r in job.data.sealed}  # its own test window, sealed now
    assert mlflow.get_run(job.run_id).data.tags[tag.MARKET] == job.market


def test_a_worker_process_receives_the_context_whole(small_project):
    config = load_config(small_project)
    with open_job("tune", config, target="target_6bar") as job:
        assert pickle.loads(pickle.dumps(job)) == job
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            seen = pool.submit(_seen_by_worker, job).result()
    assert seen == (job.store, job.run_id, job.market, job.data.sha256, job.data.sealed)


def test_with_config_keeps_the_data_and_the_run(small_project):
    config = load_config(small_project)
    with open_job("tune", config, target="target_6bar") as job:
        threaded = job.with_config(config.replace({"model.num_threads": 1}))
    assert threaded.config.model.num_threads == 1 and threaded.data == job.data and threaded.run == job.run


def test_the_file_is_hashed_once_beside_the_opening_run_and_its_error_fails_the_run(small_project, monkeypatch):
    """open_job takes the file's SHA-256 on a thread of its own while the stage run opens, once (the
    data layer does not hash it again), and that thread has ended when the job's work begins; a file
    that cannot be found is refused inside the run, which ends FAILED with the reason."""
    import threading

    import pytest

    from jobs import context
    from lab.dataset import build
    from lab.errors import DataError

    config = load_config(small_project)
    expected = build.data_source(config).sha256
    hashed_on = []

    def watched(real):
        def sha(path):
            hashed_on.append(threading.current_thread().name)
            return real(path)
        return sha

    monkeypatch.setattr(context, "file_sha256", watched(context.file_sha256))
    monkeypatch.setattr(build, "file_sha256", watched(build.file_sha256))
    with open_job("featurize", config, target="all") as job:
        assert job.data.sha256 == expected
        assert not [t for t in threading.enumerate() if t.name.startswith("lab-hash")]
    assert len(hashed_on) == 1 and hashed_on[0].startswith("lab-hash")

    missing = config.replace({"data.path": str(small_project.parent / "no_such_minutes.txt")})
    with pytest.raises(DataError, match="does not exist"):
        with open_job("featurize", missing, target="all"):
            pass
    failed = mlflow.search_runs(filter_string="attributes.status = 'FAILED'", output_format="list")
    assert len(failed) == 1 and "does not exist" in failed[0].data.tags[tag.ERROR]
