"""The study's SQLite file: items, annotators and every click, written at once.

Durability contract (what ``kill -9`` of the server may cost): every click is one
``BEGIN IMMEDIATE ... COMMIT`` transaction in WAL mode with ``synchronous=FULL``, so
a click whose HTTP answer was sent is on disk, and a click in flight is either wholly
there or not at all. An annotator's answers are keyed ``(annotator, item_id)``
(primary key): the same item is never counted twice, a second click on a done item
is refused (:class:`AlreadyAnswered`) and leaves the file unchanged. ``events`` is
the append-only log of every click and undo (the audit trail).

Only the standard library: the study can be scored and served without torch.
"""
import json
import sqlite3
import time
from typing import Dict, Iterator, List, Optional, Sequence

SCHEMA_VERSION = 1
HUMAN = '__human__'  #: model name of the human reference expressions (the control)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    path TEXT NOT NULL, role TEXT NOT NULL, model TEXT, split TEXT,
    sha256 TEXT NOT NULL, size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS images (
    image_id INTEGER PRIMARY KEY, file_name TEXT NOT NULL, width INTEGER NOT NULL,
    height INTEGER NOT NULL, png BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    object_id INTEGER PRIMARY KEY, split TEXT NOT NULL, ref_id INTEGER NOT NULL,
    ann_id INTEGER NOT NULL, image_id INTEGER NOT NULL REFERENCES images(image_id),
    mask_rle TEXT NOT NULL, UNIQUE (split, ref_id));
CREATE TABLE IF NOT EXISTS items (
    item_id INTEGER PRIMARY KEY, object_id INTEGER NOT NULL REFERENCES objects(object_id),
    model TEXT NOT NULL, expression TEXT NOT NULL, UNIQUE (object_id, model));
CREATE TABLE IF NOT EXISTS annotators (
    name TEXT PRIMARY KEY, item_order TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS responses (
    annotator TEXT NOT NULL REFERENCES annotators(name),
    item_id INTEGER NOT NULL REFERENCES items(item_id),
    x REAL, y REAL, cant_tell INTEGER NOT NULL, seq INTEGER NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (annotator, item_id));
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, annotator TEXT NOT NULL, item_id INTEGER NOT NULL,
    kind TEXT NOT NULL, x REAL, y REAL, cant_tell INTEGER, created REAL NOT NULL);
"""


class StudyError(Exception):
    """A request the study refuses; ``status`` is the HTTP status it maps to."""
    status = 400


class NotFound(StudyError):
    status = 404


class AlreadyAnswered(StudyError):
    status = 409


class NothingToUndo(StudyError):
    status = 409


class StudyDB:
    """One study file. Cheap to open: the server opens one per request.

    Args:
        path (str): The SQLite file.
        create (bool): Create the schema (a new study); otherwise the file must exist
            and hold a study.
    """

    def __init__(self, path: str, create: bool = False) -> None:
        self.path = path
        uri = f'file:{path}' + ('' if create else '?mode=rw')
        # autocommit mode: transactions are the explicit BEGIN ... COMMIT below
        try:
            self.conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30,
                                        check_same_thread=False)
        except sqlite3.OperationalError as e:
            raise NotFound(f'cannot open the study file {path}: {e}') from None
        self.conn.execute('PRAGMA journal_mode=WAL')
        self.conn.execute('PRAGMA synchronous=FULL')
        self.conn.execute('PRAGMA foreign_keys=ON')
        if create:
            self.conn.executescript(SCHEMA)
        elif self.conn.execute("SELECT name FROM sqlite_master WHERE name='meta'").fetchone() \
                is None:
            raise StudyError(f'{path} holds no study')

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> 'StudyDB':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def transaction(self) -> 'Transaction':
        """``with db.transaction():`` one BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error)."""
        return Transaction(self.conn)

    # ------------------------------------------------------------------ settings
    @property
    def settings(self) -> dict:
        row = self.conn.execute("SELECT value FROM meta WHERE key='settings'").fetchone()
        return json.loads(row[0])

    @property
    def study_id(self) -> str:
        return self.settings['study_id']

    def sources(self) -> List[dict]:
        rows = self.conn.execute('SELECT path, role, model, split, sha256, size FROM sources')
        return [dict(zip(('path', 'role', 'model', 'split', 'sha256', 'size'), r))
                for r in rows]

    # ------------------------------------------------------------------ annotators
    def annotators(self) -> List[str]:
        rows = self.conn.execute('SELECT name FROM annotators ORDER BY created, name')
        return [r[0] for r in rows]

    def add_annotator(self, name: str, item_order: Sequence[int]) -> None:
        with self.transaction():
            if self.conn.execute('SELECT 1 FROM annotators WHERE name=?', (name, )).fetchone():
                raise StudyError(f'annotator {name!r} exists already')
            self.conn.execute('INSERT INTO annotators VALUES (?, ?, ?)',
                              (name, json.dumps([int(i) for i in item_order]), time.time()))

    def item_order(self, annotator: str) -> List[int]:
        row = self.conn.execute('SELECT item_order FROM annotators WHERE name=?',
                                (annotator, )).fetchone()
        if row is None:
            raise NotFound(f'unknown annotator {annotator!r} in study {self.study_id!r}')
        return json.loads(row[0])

    # ------------------------------------------------------------------ items
    def item_ids(self) -> List[int]:
        return [r[0] for r in self.conn.execute('SELECT item_id FROM items ORDER BY item_id')]

    def item(self, item_id: int) -> dict:
        """Everything about an item (target and model included: never sent to annotators)."""
        row = self.conn.execute(
            'SELECT i.item_id, i.model, i.expression, o.object_id, o.split, o.ref_id, o.ann_id, '
            'o.image_id, o.mask_rle, g.width, g.height FROM items i JOIN objects o USING '
            '(object_id) JOIN images g USING (image_id) WHERE i.item_id=?',
            (int(item_id), )).fetchone()
        if row is None:
            raise NotFound(f'unknown item {item_id!r} in study {self.study_id!r}')
        keys = ('item_id', 'model', 'expression', 'object_id', 'split', 'ref_id', 'ann_id',
                'image_id', 'mask_rle', 'width', 'height')
        return dict(zip(keys, row))

    def items(self) -> Iterator[dict]:
        for item_id in self.item_ids():
            yield self.item(item_id)

    def image_png(self, image_id: int) -> bytes:
        row = self.conn.execute('SELECT png FROM images WHERE image_id=?',
                                (int(image_id), )).fetchone()
        if row is None:
            raise NotFound(f'unknown image {image_id!r}')
        return bytes(row[0])

    # ------------------------------------------------------------------ answers
    def answered(self, annotator: str) -> Dict[int, dict]:
        rows = self.conn.execute(
            'SELECT item_id, x, y, cant_tell, seq FROM responses WHERE annotator=?',
            (annotator, ))
        return {r[0]: dict(x=r[1], y=r[2], cant_tell=bool(r[3]), seq=r[4]) for r in rows}

    def responses(self) -> List[dict]:
        rows = self.conn.execute(
            'SELECT annotator, item_id, x, y, cant_tell, seq FROM responses ORDER BY seq')
        return [dict(annotator=r[0], item_id=r[1], x=r[2], y=r[3], cant_tell=bool(r[4]),
                     seq=r[5]) for r in rows]

    def count_responses(self) -> int:
        return self.conn.execute('SELECT COUNT(*) FROM responses').fetchone()[0]

    def next_item(self, annotator: str) -> Optional[int]:
        """The first item of the annotator's order without an answer (None when done)."""
        done = self.answered(annotator)
        return next((i for i in self.item_order(annotator) if i not in done), None)

    def progress(self, annotator: str) -> dict:
        order = self.item_order(annotator)
        return dict(done=len(self.answered(annotator)), total=len(order),
                    can_undo=self._last_response(annotator) is not None)

    def record_click(self, annotator: str, item_id: int, x: Optional[float] = None,
                     y: Optional[float] = None, cant_tell: bool = False) -> int:
        """Store one answer in one transaction; returns its sequence number.

        Args:
            x, y (float): The click in image pixels (column, row), None with ``cant_tell``.

        Raises:
            NotFound: unknown annotator or item. AlreadyAnswered: the annotator answered
            this item already (nothing is written). StudyError: a click outside the image.
        """
        item = self.item(item_id)
        self.item_order(annotator)  # raises for an unknown annotator
        if cant_tell:
            x = y = None
        else:
            if x is None or y is None:
                raise StudyError('a click needs x and y (or cant_tell)')
            x, y = float(x), float(y)
            if not (0 <= x < item['width'] and 0 <= y < item['height']):
                raise StudyError(f'click ({x}, {y}) outside the image '
                                 f'({item["width"]} x {item["height"]})')
        now = time.time()
        with self.transaction():
            if self.conn.execute('SELECT 1 FROM responses WHERE annotator=? AND item_id=?',
                                 (annotator, int(item_id))).fetchone():
                raise AlreadyAnswered(f'{annotator!r} answered item {item_id} already')
            seq = self.conn.execute(
                "INSERT INTO events (annotator, item_id, kind, x, y, cant_tell, created) "
                "VALUES (?, ?, 'click', ?, ?, ?, ?)",
                (annotator, int(item_id), x, y, int(cant_tell), now)).lastrowid
            self.conn.execute('INSERT INTO responses VALUES (?, ?, ?, ?, ?, ?, ?)',
                              (annotator, int(item_id), x, y, int(cant_tell), seq, now))
        return seq

    def _last_response(self, annotator: str) -> Optional[int]:
        """Item of the annotator's last click if it may be undone (one step back only:
        not after an undo)."""
        last = self.conn.execute(
            'SELECT kind, item_id FROM events WHERE annotator=? ORDER BY seq DESC LIMIT 1',
            (annotator, )).fetchone()
        if last is None or last[0] != 'click':
            return None
        return last[1]

    def undo(self, annotator: str) -> int:
        """Remove the annotator's last answer (logged); returns its item id.

        Raises:
            NothingToUndo: no click yet, or the last action was an undo already.
        """
        self.item_order(annotator)
        with self.transaction():
            item_id = self._last_response(annotator)
            if item_id is None:
                raise NothingToUndo(f'{annotator!r} has no click to undo')
            self.conn.execute('DELETE FROM responses WHERE annotator=? AND item_id=?',
                              (annotator, item_id))
            self.conn.execute(
                "INSERT INTO events (annotator, item_id, kind, created) VALUES (?, ?, 'undo', ?)",
                (annotator, item_id, time.time()))
        return item_id


class Transaction:
    """BEGIN IMMEDIATE (the write lock up front: no deadlock between two writers) ...
    COMMIT, or ROLLBACK when the block raises."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute('BEGIN IMMEDIATE')
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        self.conn.execute('ROLLBACK' if exc_type else 'COMMIT')
