"""The project's own files agree with each other: what a fresh machine installs and runs."""

import importlib
import re
import tomllib

import yaml

from tests.conftest import PROJECT_ROOT


def test_conda_env_installs_what_pyproject_declares():
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    conda = yaml.safe_load((PROJECT_ROOT / "conda.yaml").read_text())
    pip_section = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    assert sorted(pip_section) == sorted(pyproject["project"]["dependencies"])


def test_mlproject_entry_points_run_existing_jobs_with_every_parameter():
    project = yaml.safe_load((PROJECT_ROOT / "MLproject").read_text())
    assert project["conda_env"] == "conda.yaml"
    assert set(project["entry_points"]) == {"featurize", "tune", "walk-forward", "backtest", "final-eval", "monitor",
                                          "analyze", "paper"}
    for name, entry in project["entry_points"].items():
        stage = re.search(r"python -m jobs (\w+)", entry["command"]).group(1)  # through the door, jobs/__main__.py
        assert hasattr(importlib.import_module(f"jobs.{stage}"), "main"), name
        assert "config" in entry["parameters"], name
        for parameter in entry["parameters"]:
            assert "{" + parameter + "}" in entry["command"], (name, parameter)


def test_ci_runs_exactly_the_readme_test_command():
    readme = (PROJECT_ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(python3 -m venv .*?)\n```", readme)
    assert len(commands) == 2
    main_job, test_command = commands
    assert main_job.endswith("pip install -e . && lab demo")
    assert test_command.endswith("python -m pytest")
    ci = (PROJECT_ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci


def test_console_script_and_packages_cover_every_layer():
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    module, _, function = pyproject["project"]["scripts"]["lab"].partition(":")
    assert module == "cli.launch" and callable(getattr(importlib.import_module(module), function))
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    layers = pyproject["tool"]["importlinter"]["contracts"][0]["layers"]
    packages = sorted(p.name for p in PROJECT_ROOT.iterdir() if (p / "__init__.py").is_file() and p.name != "tests")
    assert packages == sorted(layers) == sorted(name.rstrip("*") for name in include)
    assert any(extra.startswith("import-linter") for extra in pyproject["project"]["optional-dependencies"]["test"])
