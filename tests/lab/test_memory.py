"""NumPy's huge-page advice is off inside ``without_huge_pages`` and restored after (lab/memory.py)."""

import threading

import pytest
from numpy._core.multiarray import _get_madvise_hugepage, _set_madvise_hugepage

import lab.memory
from lab.memory import HUGE_PAGE_ENV, without_huge_pages


@pytest.fixture
def advice(monkeypatch):
    """Start from a known setting, no user choice in the environment; NumPy's setting restored after."""
    monkeypatch.delenv(HUGE_PAGE_ENV, raising=False)
    before = _set_madvise_hugepage(True)
    yield
    _set_madvise_hugepage(before)
    assert lab.memory._depth == 0, "a use of without_huge_pages was never left"


@pytest.mark.parametrize("start", [True, False])
def test_the_advice_is_off_inside_and_what_it_was_after(advice, start):
    _set_madvise_hugepage(start)
    with without_huge_pages():
        assert _get_madvise_hugepage() is False
    assert _get_madvise_hugepage() is start


def test_the_advice_comes_back_after_an_error_inside(advice):
    with pytest.raises(ZeroDivisionError):
        with without_huge_pages():
            1 / 0
    assert _get_madvise_hugepage() is True


def test_a_switch_that_fails_leaves_nothing_behind(advice):
    def broken(enabled):
        raise RuntimeError("no switch today")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lab.memory, "_toggle", broken)
        with pytest.raises(RuntimeError, match="no switch today"):
            with without_huge_pages():
                pass
    with without_huge_pages():  # the next use switches as if the failed one had never been
        assert _get_madvise_hugepage() is False
    assert _get_madvise_hugepage() is True


def test_a_nested_use_leaves_it_off_until_the_outermost_ends(advice):
    @without_huge_pages()
    def inner() -> bool:
        return _get_madvise_hugepage()

    with without_huge_pages():
        assert inner() is False
        assert _get_madvise_hugepage() is False  # the inner exit did not turn it back on
    assert _get_madvise_hugepage() is True


def test_overlapping_threads_restore_it_once_the_last_leaves(advice):
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with without_huge_pages():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second():
        first_in.wait(5)
        with without_huge_pages():
            second_in.set()
            first_out.wait(5)
            seen["after the first left"] = _get_madvise_hugepage()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == {"after the first left": False}
    assert _get_madvise_hugepage() is True


def test_a_users_environment_setting_is_left_alone(advice, monkeypatch):
    monkeypatch.setenv(HUGE_PAGE_ENV, "1")
    with without_huge_pages():
        assert _get_madvise_hugepage() is True


def _advice_seen_by(monkeypatch, module, name) -> list[bool]:
    """NumPy's advice as ``module.name`` sees it at each call (the function is wrapped to record it)."""
    seen, real = [], getattr(module, name)

    def spy(*args, **kwargs):
        seen.append(_get_madvise_hugepage())
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return seen


def test_the_reader_runs_without_the_advice(advice, minute_file, monkeypatch):
    import lab.data.readers as readers

    seen = _advice_seen_by(monkeypatch, readers, "_read_text")
    readers.read_minutes(minute_file)
    assert seen == [False]
    assert _get_madvise_hugepage() is True


def test_featurize_runs_without_the_advice(advice, minute_file, monkeypatch):
    import lab.dataset.build as build
    from lab.config import load_config
    from tests.lab.conftest import SMALL_WINDOWS

    seen = _advice_seen_by(monkeypatch, build, "build_tables")
    build.prepare_dataset(load_config(None, {"data.path": str(minute_file), **SMALL_WINDOWS}), progress=lambda m: None,
                          force=True)
    assert seen == [False]
    assert _get_madvise_hugepage() is True
