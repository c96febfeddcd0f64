"""What every entry point shares: its command-line options and loading the configuration."""

from __future__ import annotations

import argparse
from typing import Any

from lab.config import LabConfig, load_config

__all__ = ["base_parser", "config_from_args"]


def base_parser(description: str) -> argparse.ArgumentParser:
    """``--config`` and ``--data``, the options every entry point takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", default="lab.toml", help="lab configuration file (default: lab.toml)")
    parser.add_argument("--data", default="", help="minute file; overrides [data] path (empty: use the configuration)")
    return parser


def config_from_args(args: argparse.Namespace, **overrides: Any) -> LabConfig:
    """Load ``--config`` and apply ``--data`` plus any non-empty ``section.key`` overrides."""
    changes = {key: value for key, value in overrides.items() if value not in (None, "")}
    if getattr(args, "data", ""):
        changes["data.path"] = args.data
    return load_config(args.config, changes)
