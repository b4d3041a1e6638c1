"""LangGraph's checkpointer conformance suite (`langgraph-checkpoint-conformance`) against Memoria's
SQLite and Postgres savers: every capability, base and extended, must be implemented and pass.

The suite is async; each test drives it with `asyncio.run`. Run with `-s` to see each report.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from typing import Any

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.report import CapabilityReport, ProgressCallbacks

from memoria.persistence.sqlite import MemoriaSqliteSaver, strict_serializer

CAPABILITIES = {
    # base
    "put",
    "put_writes",
    "get_tuple",
    "list",
    "delete_thread",
    # extended
    "delete_for_runs",
    "copy_thread",
    "prune",
}


def check(report: CapabilityReport) -> None:
    """Every capability detected as implemented, and every one of its tests run and passed."""
    report.print_report()
    missing = CAPABILITIES - set(report.results)
    assert not missing, f"the suite did not report {sorted(missing)}"
    problems = {
        name: "not implemented"
        if not result.detected
        else result.failures or f"passed={result.passed}, {result.tests_passed} tests run"
        for name, result in report.results.items()
        if not result.detected
        or result.passed is not True
        or result.tests_failed
        or not result.tests_passed
    }
    assert not problems, problems
    assert report.conformance_level() == "FULL"


def test_sqlite_saver_conforms(tmp_path):
    path = tmp_path / "conformance.sqlite"

    @checkpointer_test(name="MemoriaSqliteSaver")
    async def sqlite_saver() -> AsyncIterator[MemoriaSqliteSaver]:
        with closing(sqlite3.connect(path, check_same_thread=False)) as conn:
            saver = MemoriaSqliteSaver(conn, serde=strict_serializer())
            saver.setup()
            yield saver

    check(asyncio.run(validate(sqlite_saver, progress=ProgressCallbacks.default())))


def test_postgres_saver_conforms(postgres_url):
    pytest.importorskip("psycopg_pool", reason="the postgres extra is not installed")
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    from memoria.persistence.postgres import _saver_class

    # The connection settings `open_postgres` gives its pool.
    kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}

    @checkpointer_test(name="MemoriaPostgresSaver")
    async def postgres_saver() -> AsyncIterator[Any]:
        pool = ConnectionPool(postgres_url, min_size=1, max_size=4, kwargs=kwargs, open=False)
        pool.open(wait=True, timeout=10)
        try:
            saver = _saver_class()(pool, serde=strict_serializer())
            saver.setup()
            yield saver
        finally:
            pool.close()

    check(asyncio.run(validate(postgres_saver, progress=ProgressCallbacks.default())))
