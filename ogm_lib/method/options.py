"""RunConfig's fields as command-line options, and argv -> RunConfig.

Each field's help text and choices live in one place, its metadata in `config.RunConfig`
(`config.option`). From there they reach

- `python -m ogm_lib train --help` and the data-parallel launcher `torchrun -m ogm_lib.distributed train`
  (both call `add_run_options`, and both turn their arguments into a config with `config_from_args`);
- the docs: `options_table()` is the table of options, with their defaults, as Markdown.

An option left out takes the profile's value (`--profile`, default cpu), else the field's default.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, fields

from .config import DATASET_DEFAULTS, PROFILES, RunConfig, make_config

#: the profile of an argument list without `--profile`
DEFAULT_PROFILE = "cpu"


def parse_bool(text: str) -> bool:
    """`--quiet true` / `--quiet false` (and 1/0, yes/no, on/off)."""
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def default_text(name: str, default) -> str:
    """The default of option `name` as `--help` prints it (once): the profiles' values where they set it,
    and the paper profile's per-dataset values."""
    if name == "profile":
        return DEFAULT_PROFILE
    per_profile = {p: values[name] for p, values in PROFILES.items() if name in values}
    text = ", ".join(f"{v} at {p}" for p, v in per_profile.items())
    if per_profile and len(per_profile) < len(PROFILES):
        text += f", else {default}"
    per_dataset = {d: values[name] for d, values in DATASET_DEFAULTS.items() if name in values}
    if per_dataset:
        text = (text or f"{default}") + "; at paper: " + ", ".join(f"{v} for {d}" for d, v in per_dataset.items())
    return text or f"{default}"


def _field_default(f):
    return f.default if f.default is not MISSING else None


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """One option per RunConfig field (`--batch-size` for `batch_size`), its help from the field's metadata.
    Every option defaults to None: "not given", so that the profile's value applies."""
    for f in fields(RunConfig):
        default = _field_default(f)
        kind = {bool: parse_bool, int: int, float: float}.get(type(default), str)
        option = f"--{f.name.replace('_', '-')}"
        text = f.metadata["help"]
        if default is not None or f.name == "profile":  # a None default is described by the help text
            text += f" (default: {default_text(f.name, default)})"
        if kind is parse_bool:  # a flag; `--quiet true` / `--quiet false` also work
            parser.add_argument(
                option,
                dest=f.name,
                type=parse_bool,
                nargs="?",
                const=True,
                default=None,
                metavar="true|false",
                help=text,
            )
        else:
            choices = f.metadata["choices"]
            parser.add_argument(
                option,
                dest=f.name,
                type=kind,
                default=None,
                choices=choices,
                metavar=None if choices else f.name.upper(),
                help=text,
            )


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The RunConfig of parsed options: the profile, then every option given."""
    overrides = {
        f.name: getattr(args, f.name)
        for f in fields(RunConfig)
        if f.name != "profile" and getattr(args, f.name) is not None
    }
    return make_config(args.profile or DEFAULT_PROFILE, **overrides)


def options_table() -> str:
    """Every option of `train` as a Markdown table: option, default, help (for the docs)."""
    rows = ["| option | default | what it sets |", "| --- | --- | --- |"]
    for f in fields(RunConfig):
        default = _field_default(f)
        choices = f.metadata["choices"]
        text = f.metadata["help"] + (f"; one of {', '.join(choices)}" if choices else "")
        shown = default_text(f.name, default) if default is not None or f.name == "profile" else ""
        rows.append(f"| `--{f.name.replace('_', '-')}` | {shown} | {text.replace('|', '/')} |")
    return "\n".join(rows)
