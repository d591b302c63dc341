"""Headless Chromium's command line for looking at the dashboard: the screenshot script and the tests share it."""

from __future__ import annotations

import shutil

# As root on a machine with no outside network: no sandbox, no GPU, and no background fetches, which would
# only be refused. Virtual time lets the page fetch its JSON and draw (less than one 5 s refresh period).
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=4000",
)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_argv(profile_dir: str, url: str, *options: str, window: tuple[int, int] = (1440, 900)) -> list[str]:
    """`options` are what to do: `--dump-dom` (to stdout) or `--screenshot=PATH`. Raises when there is no Chromium."""
    executable = chromium_path()
    if executable is None:
        raise FileNotFoundError("chromium is not installed (apt-get install chromium)")
    width, height = window
    return [
        executable,
        *HEADLESS_FLAGS,
        f"--user-data-dir={profile_dir}",
        f"--window-size={width},{height}",
        *options,
        url,
    ]
