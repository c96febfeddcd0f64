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
