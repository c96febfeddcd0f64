"""From a minute file to cached train/validation tables: the featurize pipeline, its cache, the
windows and the code digest."""

from lab.dataset.build import Dataset, data_source, prepare_dataset
from lab.dataset.cache import FeatureCache, dataset_digest, file_sha256
from lab.dataset.code import pipeline_code_digest, pipeline_modules
from lab.dataset.windows import guard_range, split_windows

__all__ = ["Dataset", "FeatureCache", "data_source", "dataset_digest", "file_sha256", "guard_range",
           "pipeline_code_digest", "pipeline_modules", "prepare_dataset", "split_windows"]
