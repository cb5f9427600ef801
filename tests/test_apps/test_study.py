"""Study creation, the click database and scoring of the human evaluation."""
import os.path as osp
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from mmrefmutual.apps.human_eval import (HUMAN, AlreadyAnswered, NotFound, NothingToUndo,
                                         StudyDB, StudyError, score_study)
from mmrefmutual.apps.human_eval.oracle import OracleAnnotator
from mmrefmutual.apps.human_eval.study import decode_rle, load_dump

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def snapshot(path):
    """Every row of the study file (to prove a refused request changed nothing)."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def tables(path, skip_meta=True):
    conn = sqlite3.connect(path)
    try:
        out = {}
        for t in ('objects', 'items', 'annotators', 'images'):
            cols = '*' if t != 'annotators' else 'name, item_order'
            out[t] = conn.execute(f'SELECT {cols} FROM {t} ORDER BY 1').fetchall()
        return out
    finally:
        conn.close()


def test_creation_is_seeded_and_blind(make_study, reg_dumps):
    a = make_study('a', n_per_split=3, seed=7)
    b = make_study('b', n_per_split=3, seed=7)
    c = make_study('c', n_per_split=3, seed=8)
    assert tables(a) == tables(b)
    assert tables(a)['objects'] != tables(c)['objects']
    with StudyDB(a) as db:
        items = list(db.items())
        settings = db.settings
        # the same objects for every model: one item per (object, model)
        by_object = {}
        for it in items:
            by_object.setdefault(it['object_id'], []).append(it['model'])
        assert all(sorted(m) == ['precise', 'vague'] for m in by_object.values())
        assert settings['objects'] == {'val': 3, 'testA': 3, 'testB': 3}
        assert len(items) == 18 and settings['models'] == ['precise', 'vague']
        # item ids are not in model order; each annotator has an own order of all items
        models_by_id = [it['model'] for it in sorted(items, key=lambda i: i['item_id'])]
        assert models_by_id != sorted(models_by_id)
        o1, o2 = db.item_order('ann1'), db.item_order('ann2')
        assert sorted(o1) == sorted(o2) == list(range(1, 19)) and o1 != o2
        # the sources with their hashes
        dumps = [s for s in db.sources() if s['role'] == 'reg_dump']
        assert len(dumps) == 6 and all(len(s['sha256']) == 64 for s in dumps)
        # the sampled objects are the dumps' objects, with their expressions
        val = load_dump(osp.join(reg_dumps['vague'], 'val', 'expressions_val.reg_expressions.json'))
        for it in items:
            if it['split'] == 'val' and it['model'] == 'vague':
                assert val[it['ref_id']]['expression'] == it['expression']
                assert val[it['ref_id']]['ann_id'] == it['ann_id']
    with pytest.raises(StudyError, match='never overwritten'):
        make_study('a', n_per_split=3, seed=7)


def test_one_transaction_per_click_and_refusals(make_study):
    path = make_study(n_per_split=2)
    db = StudyDB(path)
    item_id = db.next_item('ann1')
    statements = []
    db.conn.set_trace_callback(statements.append)
    seq = db.record_click('ann1', item_id, 3.5, 4.5)
    db.conn.set_trace_callback(None)
    control = [s for s in statements if s.split()[0] in ('BEGIN', 'COMMIT', 'ROLLBACK')]
    assert control == ['BEGIN IMMEDIATE', 'COMMIT']
    assert any(s.startswith('INSERT INTO responses') for s in statements)
    assert db.conn.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
    assert db.answered('ann1') == {item_id: dict(x=3.5, y=4.5, cant_tell=False, seq=seq)}
    # refused: a second click on a done item, an unknown annotator or item, a click off
    # the image; the file is unchanged
    before = snapshot(path)
    with pytest.raises(AlreadyAnswered):
        db.record_click('ann1', item_id, 1.0, 1.0)
    with pytest.raises(AlreadyAnswered):
        db.record_click('ann1', item_id, cant_tell=True)
    with pytest.raises(NotFound, match='unknown annotator'):
        db.record_click('mallory', item_id, 1.0, 1.0)
    with pytest.raises(NotFound, match='unknown item'):
        db.record_click('ann1', 10**6, 1.0, 1.0)
    with pytest.raises(StudyError, match='outside the image'):
        db.record_click('ann1', db.next_item('ann1'), 128.0, 3.0)
    assert snapshot(path) == before
    # undo: one step back, the item comes again, then answered anew
    assert db.next_item('ann1') != item_id
    assert db.undo('ann1') == item_id
    with pytest.raises(NothingToUndo):
        db.undo('ann1')
    assert db.next_item('ann1') == item_id and db.answered('ann1') == {}
    db.record_click('ann1', item_id, cant_tell=True)
    assert db.answered('ann1')[item_id]['cant_tell'] is True
    kinds = [r[0] for r in db.conn.execute('SELECT kind FROM events ORDER BY seq')]
    assert kinds == ['click', 'undo', 'click']
    db.close()
    with pytest.raises(NotFound, match='cannot open'):
        StudyDB(path + '.missing')


def test_h_acc_by_hand(make_study):
    """Two annotators; right = inside the target's mask (not its box), can't tell and
    clicks elsewhere wrong; H-Acc = share that both got right."""
    path = make_study(n_per_split=4)
    db = StudyDB(path)
    items = sorted((it for it in db.items() if it['split'] == 'val'),
                   key=lambda it: (it['object_id'], it['model']))
    plan = {  # model: (ann1, ann2) verdicts per object, in object order
        'precise': ([1, 1, 1, 0], [1, 0, 1, 0]),
        'vague': ([0, 0, 1, 0], [0, 0, 1, 1]),
    }
    for model, verdicts in plan.items():
        mine = [it for it in items if it['model'] == model]
        assert len(mine) == 4
        for k, it in enumerate(mine):
            mask = decode_rle(it['mask_rle'])
            ys, xs = np.nonzero(mask)
            x1, y1, x2, y2 = xs.min(), ys.min(), xs.max(), ys.max()
            in_box_not_mask = [(x, y) for y in range(y1, y2 + 1) for x in range(x1, x2 + 1)
                               if not mask[y, x]]
            for a, name in enumerate(('ann1', 'ann2')):
                if verdicts[a][k]:
                    db.record_click(name, it['item_id'], xs[0] + 0.9, ys[0] + 0.1)
                elif (k + a) % 2 and in_box_not_mask:  # inside the box, outside the mask
                    x, y = in_box_not_mask[0]
                    db.record_click(name, it['item_id'], x + 0.5, y + 0.5)
                else:
                    db.record_click(name, it['item_id'], cant_tell=True)
    scores = score_study(db)['results']['val']
    p, v = scores['precise'], scores['vague']
    assert (p['n'], p['right'], p['h_acc']) == (4, 2, 50.0)
    assert (v['n'], v['right'], v['h_acc']) == (4, 1, 25.0)
    assert p['annotator_acc']['ann1']['acc'] == 75.0 and p['annotator_acc']['ann2']['acc'] == 50.0
    # agreement 3/4; kappa (0.75 - 0.5) / (1 - 0.5), p_e = .75 * .5 + .25 * .5
    assert p['agreement']['ann1|ann2'] == dict(n=4, percent=75.0, kappa=0.5)
    lo, hi = p['h_acc_ci']
    assert lo == pytest.approx(15.0, abs=0.05) and hi == pytest.approx(85.0, abs=0.05)
    paired = score_study(db)['paired']['val']['precise vs vague']
    assert (paired['a_right_b_wrong'], paired['a_wrong_b_right']) == (1, 0)
    assert paired['diff'] == 25.0 and paired['mcnemar_p'] == 1.0
    # other splits: nothing answered yet
    other = score_study(db)['results']['testA']['precise']
    assert other['n'] == 0 and other['h_acc'] is None and other['n_items'] == 4
    db.close()


def test_oracle_annotators_give_oracle_unambiguity(make_study, synthetic_root, reg_dumps):
    from mmrefmutual_bench.synthetic import SyntheticOracle
    ann_file = osp.join(synthetic_root, 'refcoco', 'instances.json')
    path = make_study(human=True, annotators=())
    with StudyDB(path) as db:
        from mmrefmutual.apps.human_eval import add_annotator
        for name in ('oracle1', 'oracle2'):
            add_annotator(db, name)
            OracleAnnotator(ann_file, seed=name).annotate(db, name)
        scores = score_study(db)
        sampled = {(it['split'], it['ref_id']) for it in db.items()}
    assert scores['complete']
    oracle = SyntheticOracle(ann_file)
    seen = set()
    for split in ('val', 'testA', 'testB'):
        for model in ('precise', 'vague'):
            records = load_dump(osp.join(reg_dumps[model], split,
                                         f'expressions_{split}.reg_expressions.json'))
            unambiguous = [oracle.referents(r['image_id'], r['expression']) == [r['ann_id']]
                           for ref_id, r in records.items() if (split, ref_id) in sampled]
            e = scores['results'][split][model]
            assert (e['n'], e['right']) == (len(unambiguous), sum(unambiguous))
            seen.add(e['h_acc'])
        assert scores['results'][split][HUMAN]['n'] == scores['results'][split]['precise']['n']
    assert len(seen) > 2  # the two models differ: the check is not trivially 100 = 100


DB_PY = osp.join(REPO, 'mmrefmutual', 'apps', 'human_eval', 'db.py')
WRITER = r'''
import importlib.util, sys
spec = importlib.util.spec_from_file_location('db', sys.argv[1])
db_mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(db_mod)
db = db_mod.StudyDB(sys.argv[2])
for item_id in db.item_order('ann1'):
    seq = db.record_click('ann1', item_id, 1.5, 1.5)
    print(item_id, flush=True)   # printed after COMMIT returned
'''


def test_kill_9_while_clicking_loses_nothing_committed(make_study, tmp_path):
    """A writer killed by SIGKILL between or during clicks: every click it reported is
    in the file, at most the one in flight is missing, the file is intact."""
    path = make_study(n_per_split=100)
    proc = subprocess.Popen([sys.executable, '-c', WRITER, DB_PY, path],
                            stdout=subprocess.PIPE, text=True)
    reported = []
    deadline = time.time() + 60
    while len(reported) < 15 and time.time() < deadline:
        reported.append(int(proc.stdout.readline()))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reported += [int(line) for line in proc.stdout.read().split()]
    assert len(reported) >= 15
    with StudyDB(path) as db:
        assert db.conn.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'
        stored = set(db.answered('ann1'))
        order = db.item_order('ann1')
    assert set(reported) <= stored
    assert len(stored) - len(reported) <= 1  # the click in flight, if any
    assert stored == set(order[:len(stored)])  # in order: resumes where it stopped
