"""Resumable run stages: each stage's result is recorded, and a rerun skips finished stages.

A stage is a named function that writes its files into the run folder and returns a
JSON-serialisable summary. ``RunFolder.stage`` records the summary, the wall time and
a fingerprint of the settings the stage depends on in ``stages/<name>.json`` (written
atomically after the stage returns). On the next run the stage is skipped when that
record exists, every file it lists still exists and the fingerprint matches. Forcing
a stage, or a changed fingerprint, reruns it and every later stage, because later
stages consume its outputs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from symdistill._io import atomic_write_json

logger = logging.getLogger(__name__)


def fingerprint(settings: Any) -> str:
    """Return a short stable hash of JSON-serialisable settings."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class RunFolder:
    """A run folder whose stages resume from their recorded outputs.

    Parameters
    ----------
    path : path
        The run folder; created when missing.
    force : bool or iterable of str
        True reruns every stage; a collection of stage names reruns those stages and
        every stage after the first of them.
    """

    def __init__(self, path: str | os.PathLike[str], force: bool | Iterable[str] = False) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.force_all = force is True
        self.force_names = set() if isinstance(force, bool) else set(force)
        self.rerun_rest = False
        self.forced_earlier = False
        self.wall_times: dict[str, float] = {}
        # CPU time per stage, of all threads and of finished worker processes: on a
        # shared machine it shows the work done, which wall time alone hides.
        self.cpu_times: dict[str, float] = {}
        self.skipped: list[str] = []

    def is_forced(self, name: str) -> bool:
        """Return whether stage ``name`` is forced, by name or by a forced stage before it.

        A forced stage starts from scratch: it must not resume partial outputs such as
        a training checkpoint.
        """
        return self.force_all or name in self.force_names or self.forced_earlier

    def record_path(self, name: str) -> Path:
        """Return the path of the record of stage ``name``."""
        return self.path / "stages" / f"{name}.json"

    def load_record(self, name: str) -> dict[str, Any] | None:
        """Return the record of a finished stage, or None when it is missing or unreadable."""
        path = self.record_path(name)
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError) as error:
            logger.warning("ignoring unreadable stage record %s (%s); the stage will rerun", path, error)
            return None

    def stage(
        self, name: str, run: Callable[[], Mapping[str, Any]], settings: Any = None, files: Callable[[Mapping[str, Any]], Iterable[str]] | None = None,
    ) -> dict[str, Any]:
        """Run stage ``name`` unless a matching record shows it finished; return its summary.

        ``settings`` is what the stage's result depends on (fingerprinted). ``files``
        maps a summary to the files (relative to the run folder) the stage wrote; the
        record is reused only while they all exist.
        """
        key = fingerprint(settings)
        reason = self._rerun_reason(name, key, files)
        if reason is None:
            record = self.load_record(name)
            assert record is not None
            self.wall_times[name] = float(record.get("wall_time_s", 0.0))
            self.cpu_times[name] = float(record.get("cpu_time_s", 0.0))
            self.skipped.append(name)
            logger.info("stage %s: finished before, skipped", name)
            return dict(record["summary"])

        logger.info("stage %s: running (%s)", name, reason)
        self.rerun_rest = True
        self.forced_earlier = self.forced_earlier or reason == "forced"
        start, start_cpu = time.perf_counter(), _cpu_seconds()
        summary = dict(run())
        elapsed, cpu = time.perf_counter() - start, _cpu_seconds() - start_cpu
        self.wall_times[name] = elapsed
        self.cpu_times[name] = cpu
        record = {"stage": name, "key": key, "wall_time_s": elapsed, "cpu_time_s": cpu, "summary": summary}
        atomic_write_json(self.record_path(name), record)
        logger.info("stage %s: done in %.1f s (%.1f s CPU)", name, elapsed, cpu)
        return summary

    def _rerun_reason(self, name: str, key: str, files: Callable[[Mapping[str, Any]], Iterable[str]] | None) -> str | None:
        if self.force_all or name in self.force_names:
            return "forced"
        record = self.load_record(name)
        if record is None:
            return "no earlier result"
        if self.rerun_rest:
            return "an earlier stage reran"
        if record.get("key") != key:
            return "settings changed"
        if files is not None:
            missing = [f for f in files(record["summary"]) if not (self.path / f).exists()]
            if missing:
                return f"missing outputs: {', '.join(missing)}"
        return None


def _cpu_seconds() -> float:
    """Return the CPU time of this process (all threads) and of its finished child processes."""
    try:
        import resource
    except ImportError:  # not on every platform
        return time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime
