"""What the terminal shows: one progress bar per stage (with its ETA); library bars and logs only when verbose.

A run has a handful of stages a user follows (index, retrieve, prepare, train, evaluate). The inner loops of
the libraries (datasets' map and save bars, bm25s' tokenizer bars, transformers' weight-loading bar) and
their INFO/DEBUG logs are switched off unless `grpo-rag --verbose` (or `GRPO_RAG_VERBOSE=1`) asks for them.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from tqdm.auto import tqdm

#: Environment variable behind `--verbose`, so that processes started by `accelerate launch` inherit it.
VERBOSE_ENV = "GRPO_RAG_VERBOSE"
#: Seconds between redraws of a bar written to a file or pipe (a log gets a line now and then, not hundreds).
LOG_REDRAW_S = 10.0


def verbose() -> bool:
    """Whether library progress bars and logs are wanted (`--verbose` or GRPO_RAG_VERBOSE=1)."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def set_verbose(on: bool) -> None:
    """Turn library bars and logs on (verbose) or off (the default) for this process and its children."""
    os.environ[VERBOSE_ENV] = "1" if on else "0"
    configure_libraries()


def configure_libraries() -> None:
    """Apply the verbosity to datasets, transformers and huggingface_hub bars and loggers.

    Verbose also sets the root logger to DEBUG, so DEBUG records of any library reach stderr.
    """
    on = verbose()
    import datasets
    import huggingface_hub.utils as hub
    import transformers.utils.logging as tf_logging

    if on:
        datasets.enable_progress_bars()
        hub.enable_progress_bars()
        tf_logging.enable_progress_bar()
        datasets.logging.set_verbosity_info()
        tf_logging.set_verbosity_info()
        logging.basicConfig(level=logging.DEBUG, force=True)
    else:
        datasets.disable_progress_bars()
        hub.disable_progress_bars()
        tf_logging.disable_progress_bar()
        datasets.logging.set_verbosity_error()
        tf_logging.set_verbosity_error()
        logging.getLogger().setLevel(logging.WARNING)


def stage(name: str, total: int | None, unit: str = "it", **kwargs: Any) -> Any:
    """The bar of one stage: `name: 40%|####  | 2/5 [00:03<00:04, 1.2s/it]` (elapsed<remaining is the ETA).

    On a terminal it redraws as usual; into a file or pipe it writes at most one line every LOG_REDRAW_S.
    """
    stream = kwargs.pop("file", sys.stderr)
    tty = bool(getattr(stream, "isatty", lambda: False)())
    return tqdm(
        total=total,
        desc=name,
        unit=unit,
        file=stream,
        dynamic_ncols=True,
        mininterval=0.1 if tty else LOG_REDRAW_S,
        **kwargs,
    )
