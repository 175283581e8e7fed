"""Staging the Social Fund records: each record parsed once (`sfr_records`) and written with a binary
COPY into a temporary table, a rejected one too, with its reason.

The benefits are parsed in a forked process while this one stages the persons and merges them: the
machine's second core does the parsing of one file meanwhile (the database works on this one's
statements, this process waits). The child writes its rows as COPY data into an anonymous file;
this process copies that file into the staging table once it needs the benefits.
"""

from __future__ import annotations

import os
import pickle
import signal
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from psycopg import Copy
from psycopg.copy import FileWriter

from . import sfr_records as rec

PROGRESS_EVERY = 20000
# (column, type): the staging tables, their columns in the order of the parser's rows
PERSON_STAGE = (
    ("row_no", "integer"), ("action", "text"), ("snils", "text"), ("reject", "text"),
    ("last_name", "text"), ("first_name", "text"), ("patronymic", "text"), ("sex", "text"), ("birth_date", "date"),
    ("oms_policy", "text"), ("document_type", "text"), ("document_number", "text"), ("address", "text"),
    ("region_code", "text"), ("is_out_of_town", "boolean"), ("included_on", "date"), ("excluded_on", "date"),
    ("nsu_refused", "boolean"), ("nsu_year", "integer"),
)
RIGHT_STAGE = (
    ("row_no", "integer"), ("snils", "text"), ("reject", "text"), ("category", "text"), ("category_id", "bigint"),
    ("document_name", "text"), ("document_number", "text"), ("valid_from", "date"), ("valid_to", "date"),
    ("disability_group", "text"), ("external_key", "text"),
)
RIGHT_COLUMNS = tuple(name for name, _ in RIGHT_STAGE)
SPOOL_BLOCK = 2**20


def create_stage(cursor) -> None:
    for table, columns in (("sfr_person_stage", PERSON_STAGE), ("sfr_right_stage", RIGHT_STAGE)):
        listed = ", ".join(f"{name} {kind}" for name, kind in columns)
        cursor.execute(f"CREATE TEMP TABLE {table} ({listed}) ON COMMIT DROP")


@contextmanager
def _copy_in(cursor, table: str, columns) -> Iterator[Copy]:
    with cursor.copy(f"COPY {table} ({', '.join(name for name, _ in columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types([kind for _, kind in columns])
        yield copy


def person_rows(persons: Iterable[tuple[int, dict]], parser: rec.Parser) -> Iterator[tuple]:
    empty = (None,) * (len(PERSON_STAGE) - 4)
    for row_no, raw in persons:
        action = raw.get("_action", "upsert")
        try:
            ss = rec.snils(raw.get("SS", ""))
        except rec.Reject as exc:
            yield (row_no, action, None, str(exc), *empty)
            continue
        try:
            yield (row_no, action, ss, None, *parser.person(raw))
        except rec.Reject as exc:
            yield (row_no, action, ss, str(exc), *empty)


def right_rows(rights: Iterable[tuple[int, dict]], parser: rec.Parser) -> Iterator[tuple]:
    empty = (None,) * (len(RIGHT_STAGE) - 3)
    for row_no, raw in rights:
        try:
            ss = rec.snils(raw.get("SS", ""))
        except rec.Reject as exc:
            yield (row_no, None, str(exc), *empty)
            continue
        try:
            yield (row_no, ss, None, *parser.right(raw, ss))
        except rec.Reject as exc:
            yield (row_no, ss, str(exc), *empty)


def copy_persons(cursor, persons, parser: rec.Parser, on_progress) -> int:
    count = 0
    with _copy_in(cursor, "sfr_person_stage", PERSON_STAGE) as copy:
        write = copy.write_row
        for row in person_rows(persons, parser):
            write(row)
            count += 1
            if on_progress and count % PROGRESS_EVERY == 0:
                on_progress("persons", count)
    return count


@contextmanager
def rights_parsed_apart(cursor, rights, parser: rec.Parser) -> Iterator[Callable[[], int]]:
    """Parse the benefits in a forked process from here on; yields `load()`, which waits for it,
    copies its rows into `sfr_right_stage` and returns their number — or raises what the parsing
    raised (a damaged file, say). On leaving, a parser still running is stopped."""
    with tempfile.TemporaryFile() as spool:
        # made here, not in the child: the child must not touch the connection (it uses only its types)
        to_spool = Copy(cursor.connection.cursor(), binary=True, writer=FileWriter(spool))
        to_spool.set_types([kind for _, kind in RIGHT_STAGE])
        child = _fork(lambda: _write_rows(to_spool, right_rows(rights, parser), spool))

        def load() -> int:
            count = child.result()
            spool.seek(0)
            with _copy_in(cursor, "sfr_right_stage", RIGHT_STAGE) as copy:
                while block := spool.read(SPOOL_BLOCK):
                    copy.write(block)
            return count

        try:
            yield load
        finally:
            child.stop()


def _write_rows(copy: Copy, rows: Iterator[tuple], spool) -> int:
    count = 0
    with copy:
        write = copy.write_row
        for row in rows:
            write(row)
            count += 1
    spool.flush()
    return count


class _Child:
    """A forked process running one function; its result (or exception) comes back pickled."""

    def __init__(self, pid: int, answer: int):
        self.pid, self.answer, self.running = pid, os.fdopen(answer, "rb"), True

    def result(self):
        data = self.answer.read()  # all of it once the child is done
        self._reap()
        if not data:
            raise RuntimeError("процесс разбора файла льгот завершился аварийно")
        ok, value = pickle.loads(data)
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        if self.running:
            os.kill(self.pid, signal.SIGKILL)
            self._reap()

    def _reap(self) -> None:
        os.waitpid(self.pid, 0)
        self.running = False
        self.answer.close()


def _fork(work: Callable[[], object]) -> _Child:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_end)
        return _Child(pid, read_end)
    # The child: it shares this process's database connection and open files, so it leaves by
    # os._exit — no clean-up of the parent's objects (a closing connection would end the session).
    try:
        os.close(read_end)
        try:
            answer = pickle.dumps((True, work()))
        except BaseException as exc:  # noqa: BLE001 - handed over to the parent as it is
            try:
                answer = pickle.dumps((False, exc))
            except Exception:  # noqa: BLE001 - an exception that does not pickle
                answer = pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
        with os.fdopen(write_end, "wb") as out:
            out.write(answer)
    finally:
        os._exit(0)
