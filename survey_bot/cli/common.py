"""What every command module shares: how a command registers, and help text that names defaults and variables."""

from __future__ import annotations

import argparse
import getpass
import os
from typing import TYPE_CHECKING, Any, TypeAlias

__all__ = ["Commands", "env_default", "os_actor", "settings_overrides"]

# the `add_subparsers()` of the top-level parser (generic only to the type checker)
if TYPE_CHECKING:
    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Commands = argparse._SubParsersAction


def env_default(variable: str, default: str) -> str:
    """A help suffix: where the value comes from when the option is not given."""
    return f" (default: ${variable}, else {default})"


def settings_overrides(args: argparse.Namespace, **names: str) -> dict[str, Any]:
    """Settings overrides for the options that were given: {setting: args.<option>} (None means not given)."""
    return {setting: getattr(args, option) for setting, option in names.items() if getattr(args, option) is not None}


def os_actor() -> str:
    """Who an audit line names for a command: the operating-system user running it."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a bare container)
        user = f"uid {os.getuid()}"
    return f"cli:{user}"
