"""Corpus and QA JSONL files: validated once at load time, returned as typed `datasets.Dataset`s.

Every problem is reported as a `DataError` naming the file, the 1-based line and the field, so a bad
row is found before training starts rather than deep inside a run.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from datasets import Dataset, Features, List, Value

from grpo_rag.errors import DataError

#: Longest accepted line in bytes; longer lines are almost always a broken file (e.g. a whole JSON array).
MAX_LINE_BYTES = 1 << 20

DEFAULT_DOMAIN = "default"

CORPUS_FEATURES = Features(
    {"id": Value("string"), "text": Value("string"), "title": Value("string"), "domain": Value("string")}
)
QA_FEATURES = Features(
    {
        "id": Value("string"),
        "question": Value("string"),
        "answers": List(Value("string")),
        "domain": Value("string"),
        "gold_ids": List(Value("string")),
        "answerable": Value("bool"),
    }
)


def iter_objects(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield `(line_number, object)` for each non-blank line of a JSONL file, raising DataError (file, line,
    what to do) at the first bad line: the one JSONL reader of the loaders and of `grpo-rag import jsonl`."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        where = (
            ""
            if path.is_absolute()
            else f" (relative paths resolve from the current directory, {Path.cwd()})"
        )
        raise DataError(path, f"file not found{where}") from None
    except IsADirectoryError:
        raise DataError(path, "is a directory, expected a JSONL file") from None
    except OSError as exc:
        raise DataError(path, f"cannot be read: {exc.strerror or exc}") from None
    with handle:
        line_no = 0
        while True:
            raw = handle.readline(MAX_LINE_BYTES + 2)
            if not raw:
                return
            line_no += 1
            if len(raw.rstrip(b"\r\n")) > MAX_LINE_BYTES:
                raise DataError(
                    path,
                    f"line is longer than {MAX_LINE_BYTES // (1 << 20)} MiB; expected one JSON object per line",
                    line_no,
                )
            if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(
                    path,
                    f"not valid UTF-8 (byte {exc.start + 1} of the line); re-save the file as UTF-8",
                    line_no,
                ) from None
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DataError(path, f"invalid JSON: {exc.msg} (column {exc.colno})", line_no) from None
            if not isinstance(obj, dict):
                raise DataError(path, f"expected a JSON object, got {_json_type(obj)}", line_no)
            yield line_no, obj


def _json_type(value: object) -> str:
    """Name a decoded JSON value's type the way JSON spells it, for error messages."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


class _Row:
    """Field accessors for one decoded line that raise DataError with path, line and field."""

    def __init__(self, path: Path, line: int, obj: dict[str, Any]):
        self.path, self.line, self.obj = path, line, obj

    def error(self, field: str, message: str) -> DataError:
        return DataError(self.path, message, self.line, field)

    def text(self, field: str, default: str | None = None, allow_empty: bool = False) -> str:
        """A string field; `default` makes it optional, `allow_empty` accepts ""."""
        expected = "a string" if allow_empty else "a non-empty string"
        if field not in self.obj:
            if default is not None:
                return default
            raise self.error(field, f"missing; expected {expected}")
        value = self.obj[field]
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            got = f"got {_json_type(value)}" if not isinstance(value, str) else "got an empty string"
            raise self.error(field, f"expected {expected}, {got}")
        return value

    def strings(self, field: str, *, optional: bool, non_empty: bool) -> list[str]:
        """A list of non-empty strings; `optional` makes a missing field `[]`."""
        expected = "a non-empty list of strings" if non_empty else "a list of strings"
        if field not in self.obj:
            if optional:
                return []
            raise self.error(field, f"missing; expected {expected}")
        value = self.obj[field]
        if (
            not isinstance(value, list)
            or (non_empty and not value)
            or not all(isinstance(v, str) and v.strip() for v in value)
        ):
            raise self.error(field, f"expected {expected}")
        return value

    def flag(self, field: str, default: bool) -> bool:
        if field not in self.obj:
            return default
        value = self.obj[field]
        if not isinstance(value, bool):
            raise self.error(field, f"expected true or false, got {_json_type(value)}")
        return value


def _check_unique(row: _Row, seen: dict[str, int], item_id: str) -> None:
    first = seen.setdefault(item_id, row.line)
    if first != row.line:
        raise row.error("id", f"duplicate id {item_id!r} (lines {first} and {row.line})")


def load_corpus(path: str | os.PathLike[str]) -> Dataset:
    """Load a corpus JSONL file: one passage per line, `{"id", "text", "title"?, "domain"?}`.

    Returns columns `id, text, title ("" when absent), domain ("default" when absent)`. Unknown extra
    keys are ignored so that files from other tools load unchanged. Raises DataError on the first problem.
    """
    path = Path(path)
    cols: dict[str, list[str]] = {name: [] for name in CORPUS_FEATURES}
    seen: dict[str, int] = {}
    for line, obj in iter_objects(path):
        row = _Row(path, line, obj)
        passage_id = row.text("id")
        text = row.text("text")
        title = row.text("title", default="", allow_empty=True)
        domain = row.text("domain", default=DEFAULT_DOMAIN)
        _check_unique(row, seen, passage_id)
        cols["id"].append(passage_id)
        cols["text"].append(text)
        cols["title"].append(title)
        cols["domain"].append(domain)
    if not seen:
        raise DataError(path, "empty corpus: no passages found; expected one JSON object per line")
    return Dataset.from_dict(cols, features=CORPUS_FEATURES)


def load_qa(path: str | os.PathLike[str], corpus_ids: Collection[str] | None = None) -> Dataset:
    """Load a QA JSONL file: `{"id", "question", "answers", "domain"?, "gold_ids"?, "answerable"?}`.

    Returns columns `id, question, answers, domain ("default"), gold_ids ([] = unknown), answerable (True)`.
    `answers` must be non-empty strings, or `[]` exactly when `answerable` is false. With `corpus_ids`,
    every gold id must name a passage of that corpus. Unknown extra keys are ignored.
    """
    path = Path(path)
    known: Collection[str] | None = corpus_ids
    if corpus_ids is not None and not isinstance(corpus_ids, (set, frozenset, dict)):
        known = set(corpus_ids)
    cols: dict[str, list[Any]] = {name: [] for name in QA_FEATURES}
    seen: dict[str, int] = {}
    for line, obj in iter_objects(path):
        row = _Row(path, line, obj)
        question_id = row.text("id")
        question = row.text("question")
        answerable = row.flag("answerable", default=True)
        if answerable:
            answers = row.strings("answers", optional=False, non_empty=True)
        elif obj.get("answers", []) != []:
            raise row.error("answers", "expected [] because 'answerable' is false")
        else:
            answers = []
        domain = row.text("domain", default=DEFAULT_DOMAIN)
        gold_ids = row.strings("gold_ids", optional=True, non_empty=False)
        if known is not None:
            missing = [g for g in gold_ids if g not in known]
            if missing:
                raise row.error("gold_ids", f"id {missing[0]!r} is not in the corpus; check the corpus file")
        _check_unique(row, seen, question_id)
        for name, value in (
            ("id", question_id),
            ("question", question),
            ("answers", answers),
            ("domain", domain),
            ("gold_ids", gold_ids),
            ("answerable", answerable),
        ):
            cols[name].append(value)
    if not seen:
        raise DataError(path, "empty QA file: no questions found; expected one JSON object per line")
    return Dataset.from_dict(cols, features=QA_FEATURES)


def write_jsonl(path: str | os.PathLike[str], rows: Iterable[Mapping[str, Any]]) -> int:
    """Write rows as UTF-8 JSONL atomically (temp file in the same folder, then rename); return the count.

    Readers never see a half-written file, and a failure leaves any previous file untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            for row in rows:
                handle.write(json.dumps(dict(row), ensure_ascii=False))
                handle.write("\n")
                count += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp makes it owner-only; give it a normal file's mode
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return count


def write_atomic(path: Path, text: str) -> None:
    """Write text to a temporary sibling, then rename over `path` (never a half-written file)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
