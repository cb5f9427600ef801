"""Create a human-evaluation study (the paper's Table 2) from REG dumps and the dataset.

A study is one SQLite file (:mod:`.db`) that holds everything the annotators and the
scoring need, so that it can be served and scored on any machine: the sampled objects
(their ground-truth masks as COCO RLE), the images (PNG), one item per (object, model)
with that model's expression, optionally one item per object with a human reference
expression (the control), the settings and the sha256 of every source file.

Sampling (the paper: "we randomly select 100 generated expressions for each test
split"): per split, ``n_per_split`` referred objects drawn with ``random.Random`` seeded
by ``(seed, split)`` from the ref ids that every compared model (and the human refs)
has, so that all models are judged on the same objects. Item ids are numbered in a
seeded shuffle of all items, so an id tells nothing about the model; each annotator
sees the items in their own seeded order, fixed when the annotator is added.
"""
import hashlib
import io
import json
import os
import os.path as osp
import random
import re
import time
from glob import glob
from typing import Dict, List, Optional, Sequence

import numpy as np
import pycocotools.mask as mask_utils
from PIL import Image

from .db import HUMAN, StudyDB, StudyError

ANNOTATOR_NAME = re.compile(r'^[A-Za-z0-9_.-]{1,64}$')


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def find_dumps(path: str, splits: Sequence[str]) -> Dict[str, str]:
    """The ``*_{split}.reg_expressions.json`` of each split under a directory (as
    ``tools/test.py`` writes them), or ``{split: path}`` of ``SPLIT=FILE`` pairs.

    Raises:
        StudyError: when a split has no dump or more than one.
    """
    out = {}
    for split in splits:
        found = sorted(glob(osp.join(path, '**', f'*_{split}.reg_expressions.json'),
                            recursive=True))
        if len(found) != 1:
            raise StudyError(f'{path}: expected one *_{split}.reg_expressions.json, '
                             f'found {len(found)}: {found[:3]}')
        out[split] = found[0]
    return out


def load_dump(path: str) -> Dict[int, dict]:
    """REG dump -> {ref_id: record(ref_id, ann_id, image_id, expression)}."""
    with open(path, 'r', encoding='utf-8') as f:
        records = json.load(f)
    if not isinstance(records, list):
        raise StudyError(f'{path}: not a REG dump (a list of records)')
    out = {}
    for rec in records:
        missing = {'ref_id', 'ann_id', 'image_id', 'expression'} - set(rec)
        if missing:
            raise StudyError(f'{path}: a record lacks {sorted(missing)}')
        out[int(rec['ref_id'])] = rec
    return out


def ann_to_rle(ann: dict, height: int, width: int) -> dict:
    """COCO segmentation (polygons, uncompressed or compressed RLE) -> compressed RLE
    with str counts."""
    seg = ann['segmentation']
    if isinstance(seg, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
    elif isinstance(seg.get('counts'), list):
        rle = mask_utils.frPyObjects(seg, height, width)
    else:
        rle = dict(seg)
    counts = rle['counts']
    return dict(size=[int(s) for s in rle['size']],
                counts=counts.decode('ascii') if isinstance(counts, bytes) else counts)


def decode_rle(rle_json: str) -> np.ndarray:
    """Stored RLE -> (H, W) bool mask."""
    rle = json.loads(rle_json)
    return mask_utils.decode(dict(size=rle['size'], counts=rle['counts'].encode('ascii'))) > 0


def _png(path: str) -> bytes:
    with Image.open(path) as img:
        buf = io.BytesIO()
        img.convert('RGB').save(buf, format='PNG')
    return buf.getvalue()


def _human_expressions(refs_file: str, seed: int) -> Dict[int, str]:
    """One reference sentence per ref (seeded choice among its sentences)."""
    from mmrefmutual.datasets.refer_files import load_refs  # the safe pickle reader
    out = {}
    for ref in load_refs(refs_file):
        sents = [s.get('raw') or s.get('sent') for s in ref.get('sentences', [])]
        sents = [s for s in sents if s and s.strip()]
        if sents:
            out[int(ref['ref_id'])] = random.Random(f'{seed}/human/{ref["ref_id"]}').choice(sents)
    return out


def item_order_for(seed: int, annotator: str, item_ids: Sequence[int]) -> List[int]:
    """The annotator's own seeded shuffle of the items."""
    order = sorted(int(i) for i in item_ids)
    random.Random(f'{seed}/annotator/{annotator}').shuffle(order)
    return order


def add_annotator(db: StudyDB, name: str) -> List[int]:
    """Register an annotator (URL-safe name), with their item order."""
    if not ANNOTATOR_NAME.match(name or ''):
        raise StudyError(f'annotator names are 1-64 letters, digits, "_", "-", ".": {name!r}')
    order = item_order_for(db.settings['seed'], name, db.item_ids())
    db.add_annotator(name, order)
    return order


def create_study(db_path: str, models: Dict[str, Dict[str, str]], ann_file: str,
                 image_dir: str, splits: Sequence[str] = ('val', 'testA', 'testB'),
                 n_per_split: int = 100, seed: int = 0, human_refs: Optional[str] = None,
                 annotators: Sequence[str] = (), annotators_per_item: int = 2,
                 study_id: Optional[str] = None) -> dict:
    """Write a new study file.

    Args:
        db_path (str): The SQLite file to create (refused if it exists).
        models (dict): ``{model name: {split: REG dump path}}``.
        ann_file (str): COCO instances json of the dataset (masks, image files).
        image_dir (str): Folder of the images named in ``ann_file``.
        splits (Sequence[str]): Splits to sample from.
        n_per_split (int): Objects per split (fewer when the dumps have fewer).
        seed (int): Seed of the sample, the item ids and the annotators' orders.
        human_refs (str, optional): Refs file; one human sentence per object is added
            as the control (model ``'__human__'``).
        annotators (Sequence[str]): Annotators to register now (more can be added).
        annotators_per_item (int): Answers H-Acc needs per item (the paper: two).
        study_id (str, optional): Name in URLs; default: the file name's stem.

    Returns:
        dict: The stored settings.
    """
    if osp.exists(db_path):
        raise StudyError(f'{db_path} exists: a study is never overwritten')
    if not models:
        raise StudyError('give at least one model')
    if HUMAN in models:
        raise StudyError(f'{HUMAN!r} is reserved for the human control')
    study_id = study_id or osp.splitext(osp.basename(db_path))[0]
    if not ANNOTATOR_NAME.match(study_id):
        raise StudyError(f'study id must be URL-safe: {study_id!r}')
    dumps = {m: {s: load_dump(p) for s, p in by_split.items()} for m, by_split in models.items()}
    human = _human_expressions(human_refs, seed) if human_refs else None
    with open(ann_file, 'r', encoding='utf-8') as f:
        coco = json.load(f)
    images = {int(im['id']): im for im in coco['images']}
    anns = {int(a['id']): a for a in coco['annotations']}

    objects = []  # (split, record)
    for split in splits:
        missing = [m for m in models if split not in dumps[m]]
        if missing:
            raise StudyError(f'no {split} dump for {missing}')
        common = set.intersection(*(set(dumps[m][split]) for m in models))
        if human is not None:
            common &= set(human)
        for ref_id in sorted(common):
            recs = [dumps[m][split][ref_id] for m in models]
            if len({(int(r['ann_id']), int(r['image_id'])) for r in recs}) != 1:
                raise StudyError(f'{split} ref {ref_id}: the dumps disagree on its object')
        sample = random.Random(f'{seed}/{split}').sample(sorted(common),
                                                         min(n_per_split, len(common)))
        objects += [(split, dumps[next(iter(models))][split][r]) for r in sorted(sample)]

    tmp = db_path + '.creating'
    for path in (tmp, tmp + '-wal', tmp + '-shm'):
        if osp.exists(path):
            os.remove(path)
    db = StudyDB(tmp, create=True)
    with db.transaction() as conn:
        for image_id in sorted({int(rec['image_id']) for _, rec in objects}):
            im = images[image_id]
            png = _png(osp.join(image_dir, im['file_name']))
            with Image.open(io.BytesIO(png)) as check:
                if check.size != (im['width'], im['height']):
                    raise StudyError(f'{im["file_name"]}: {check.size} on disk, '
                                     f'{(im["width"], im["height"])} in {ann_file}')
            conn.execute('INSERT INTO images VALUES (?, ?, ?, ?, ?)',
                         (image_id, im['file_name'], im['width'], im['height'], png))
        pairs = []
        for object_id, (split, rec) in enumerate(objects, start=1):
            im = images[int(rec['image_id'])]
            ann = anns[int(rec['ann_id'])]
            rle = ann_to_rle(ann, im['height'], im['width'])
            conn.execute('INSERT INTO objects VALUES (?, ?, ?, ?, ?, ?)',
                         (object_id, split, int(rec['ref_id']), int(rec['ann_id']),
                          int(rec['image_id']), json.dumps(rle)))
            for m in models:
                pairs.append((object_id, m, str(dumps[m][split][int(rec['ref_id'])]['expression'])))
            if human is not None:
                pairs.append((object_id, HUMAN, human[int(rec['ref_id'])]))
        random.Random(f'{seed}/items').shuffle(pairs)
        for item_id, (object_id, model, expression) in enumerate(pairs, start=1):
            conn.execute('INSERT INTO items VALUES (?, ?, ?, ?)',
                         (item_id, object_id, model, expression))
        sources = [(p, 'reg_dump', m, s) for m, by in models.items() for s, p in by.items()
                   if s in splits]
        sources.append((ann_file, 'ann_file', None, None))
        if human_refs:
            sources.append((human_refs, 'human_refs', None, None))
        for path, role, model, split in sources:
            conn.execute('INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?)',
                         (osp.abspath(path), role, model, split, sha256_of(path),
                          osp.getsize(path)))
        settings = dict(study_id=study_id, schema=1, seed=int(seed), splits=list(splits),
                        n_per_split=int(n_per_split), models=list(models),
                        human_control=human is not None,
                        annotators_per_item=int(annotators_per_item),
                        image_dir=osp.abspath(image_dir), created=time.time(),
                        objects={s: sum(1 for sp, _ in objects if sp == s) for s in splits},
                        items=len(pairs))
        conn.execute("INSERT INTO meta VALUES ('settings', ?)", (json.dumps(settings), ))
    for name in annotators:
        add_annotator(db, name)
    db.conn.execute('PRAGMA wal_checkpoint(TRUNCATE)')
    db.close()
    os.replace(tmp, db_path)
    for suffix in ('-wal', '-shm'):
        if osp.exists(tmp + suffix):
            os.remove(tmp + suffix)
    return settings
