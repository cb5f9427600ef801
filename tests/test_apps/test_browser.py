"""The web app in a real browser: headless Chromium (Debian's package, installed by
``tools/install_browser.sh`` when missing) driven by playwright.

- Study: two annotators click the oracle's pixels on the annotation page; the server is
  killed with SIGKILL mid-study (one click in flight) and restarted; both resume where
  they were; the exported H-Acc equals the oracle unambiguity of the items.
- Demo: a typed expression gives a mask, a click and a box give an expression; a corrupt
  upload and an empty expression give clear errors.

Screenshots go to the test's tmp dir, and to ``$APP_SCREENSHOT_DIR`` when set (for the
docs: ``APP_SCREENSHOT_DIR=docs/images pytest tests/test_apps/test_browser.py``).
"""
import json
import math
import os
import os.path as osp
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from mmrefmutual.apps.human_eval.oracle import OracleAnnotator
from mmrefmutual.apps.human_eval.study import load_dump

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CHROMIUM = os.environ.get('CHROMIUM', '/usr/bin/chromium')


@pytest.fixture(scope='module')
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        run = subprocess.run(['bash', osp.join(REPO, 'tools', 'install_browser.sh')],
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, f'Chromium could not be installed: {run.stderr[-2000:]}'
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox'])
        yield b
        b.close()


class Server:
    """A tool's server in its own process, on a free local port."""

    def __init__(self, args, log):
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            self.port = s.getsockname()[1]
        self.args, self.log, self.proc = args, log, None

    def start(self, probe: str, timeout: float = 180):
        env = dict(os.environ, PYTHONPATH=REPO, HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1')
        self.proc = subprocess.Popen([sys.executable] + self.args + ['--port', str(self.port)],
                                     stdout=open(self.log, 'a'), stderr=subprocess.STDOUT,
                                     env=env, cwd=REPO)
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert self.proc.poll() is None, open(self.log).read()[-3000:]
            try:
                urllib.request.urlopen(self.url(probe), timeout=5).read()
                return self
            except (urllib.error.URLError, ConnectionError, socket.timeout):
                time.sleep(0.3)
        raise AssertionError(f'server not up in {timeout} s: {open(self.log).read()[-3000:]}')

    def url(self, path):
        return f'http://127.0.0.1:{self.port}{path}'

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def screenshot(page, tmp_path, name):
    path = str(tmp_path / name)
    page.screenshot(path=path, full_page=True)
    target = os.environ.get('APP_SCREENSHOT_DIR')
    if target:
        os.makedirs(target, exist_ok=True)
        shutil.copy(path, osp.join(target, name))
    return path


def responses(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute('SELECT annotator, item_id, x, y, cant_tell FROM responses').fetchall()
    finally:
        conn.close()


def item_of(path, item_id):
    conn = sqlite3.connect(path)
    try:
        row = conn.execute('SELECT i.item_id, i.expression, o.image_id, g.width, g.height FROM '
                           'items i JOIN objects o USING (object_id) JOIN images g USING '
                           '(image_id) WHERE item_id=?', (item_id, )).fetchone()
        return dict(zip(('item_id', 'expression', 'image_id', 'width', 'height'), row))
    finally:
        conn.close()


def current_item(page):
    page.wait_for_function("document.getElementById('image').dataset.ready")
    return int(page.get_attribute('#image', 'data-ready'))


def answer(page, path, oracle, wait=True):
    """The oracle's answer to the page's item, clicked like a person would."""
    item = item_of(path, current_item(page))
    assert page.inner_text('#expression') == item['expression']
    xy = oracle.click_item(item)
    if xy is None:
        page.click('#canttell')
    else:
        box = page.locator('#image').bounding_box()
        page.mouse.click(box['x'] + xy[0] * box['width'] / item['width'],
                         box['y'] + xy[1] * box['height'] / item['height'])
    if wait:
        page.wait_for_function(
            "(old) => document.body.dataset.done === '1' || "
            "(document.getElementById('image').dataset.ready || old) !== old",
            arg=str(item['item_id']))
    return item, xy


def test_study_in_a_browser_survives_kill_9(browser, make_study, synthetic_root, reg_dumps,
                                            tmp_path):
    ann_file = osp.join(synthetic_root, 'refcoco', 'instances.json')
    path = make_study(n_per_split=2, human=True)
    oracles = {a: OracleAnnotator(ann_file, seed=a) for a in ('ann1', 'ann2')}
    server = Server([osp.join(REPO, 'tools', 'human_eval.py'), 'serve', path],
                    str(tmp_path / 'server.log'))
    probe = '/api/study/study/annotators/ann1/next'
    server.start(probe)
    pages = {a: browser.new_context(viewport=dict(width=900, height=760)).new_page()
             for a in ('ann1', 'ann2')}
    try:
        for a, page in pages.items():
            page.goto(server.url(f'/study/study/annotate/{a}'))
        clicks = {}  # (annotator, item_id) -> the oracle's click
        for k in range(11):  # interleaved: ann1 8 answers, ann2 3
            a = 'ann1' if k % 3 != 2 else 'ann2'
            item, xy = answer(pages[a], path, oracles[a])
            clicks[(a, item['item_id'])] = xy
        assert pages['ann1'].inner_text('#progress') == '9 / 18'
        screenshot(pages['ann1'], tmp_path, 'human_eval_annotate.png')
        before = responses(path)
        assert len(before) == 11
        # one more click, and the server dies while it may be in flight
        item, xy = answer(pages['ann1'], path, oracles['ann1'], wait=False)
        server.kill9()
        after = responses(path)
        assert set(before) <= set(after) and len(after) - len(before) <= 1
        in_flight_stored = len(after) == 12
        if in_flight_stored:
            clicks[('ann1', item['item_id'])] = xy
        print(f'kill -9: {len(before)} clicks stored before the click in flight, '
              f'{len(after)} after restart (in-flight click stored: {in_flight_stored})')
        server.start(probe)
        for a, page in pages.items():  # both resume at their first unanswered item
            page.reload()
            done = sum(1 for r in after if r[0] == a)
            assert page.inner_text('#progress') == f'{done + 1} / 18'
            conn = sqlite3.connect(path)
            order = json.loads(conn.execute('SELECT item_order FROM annotators WHERE name=?',
                                            (a, )).fetchone()[0])
            conn.close()
            assert current_item(page) == order[done]
        # undo in the browser: the last click is removed and its item shown again
        item, _ = answer(pages['ann2'], path, oracles['ann2'])
        pages['ann2'].click('#undo')
        pages['ann2'].wait_for_function(
            f"document.getElementById('image').dataset.ready === '{item['item_id']}'")
        assert len(responses(path)) == len(after)
        for a, page in pages.items():
            while page.get_attribute('body', 'data-done') != '1':
                item, xy = answer(page, path, oracles[a])
                clicks[(a, item['item_id'])] = xy
            assert page.inner_text('#progress') == 'done: 18 / 18'
        final = responses(path)
        assert len(final) == 36 and len({(r[0], r[1]) for r in final}) == 36
        for a, item_id, x, y, cant_tell in final:  # the page put each click on its pixel
            xy = clicks[(a, item_id)]
            assert (xy is None) == bool(cant_tell)
            if xy is not None:
                assert (math.floor(x), math.floor(y)) == (math.floor(xy[0]), math.floor(xy[1]))
        # a second click on a done item, from the page: refused, nothing written
        status = pages['ann1'].evaluate(
            "async (id) => (await fetch(`/api/study/study/annotators/ann1/items/${id}/click`, "
            "{method: 'POST', body: JSON.stringify({x: 1, y: 1})})).status", final[0][1])
        assert status == 409 and responses(path) == final
        pages['ann1'].goto(server.url('/study/study/results'))
        assert 'precise' in pages['ann1'].inner_text('#hacc')
        screenshot(pages['ann1'], tmp_path, 'human_eval_results.png')
        pages['ann1'].goto(server.url('/study/study/annotate/nobody'))
        assert 'unknown annotator' in pages['ann1'].inner_text('body')
    finally:
        server.stop()

    out = str(tmp_path / 'scores.json')
    run = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'human_eval.py'), 'export',
                          path, '--json', out], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=REPO), cwd=REPO)
    assert run.returncode == 0, run.stderr[-2000:]
    with open(out) as f:
        scores = json.load(f)
    from mmrefmutual_bench.synthetic import SyntheticOracle
    oracle = SyntheticOracle(ann_file)
    conn = sqlite3.connect(path)
    sampled = set(conn.execute('SELECT split, ref_id FROM objects').fetchall())
    conn.close()
    for split in ('val', 'testA', 'testB'):
        for model in ('precise', 'vague'):
            records = load_dump(osp.join(reg_dumps[model], split,
                                         f'expressions_{split}.reg_expressions.json'))
            fits = [oracle.referents(r['image_id'], r['expression']) == [r['ann_id']]
                    for ref_id, r in records.items() if (split, ref_id) in sampled]
            e = scores['results'][split][model]
            assert (e['n'], e['right']) == (len(fits), sum(fits)) == (2, e['right'])
            assert e['h_acc'] == 100 * sum(fits) / len(fits)


def test_demo_in_a_browser(browser, tiny_checkpoint, synthetic_root, tmp_path):
    config, ckpt = tiny_checkpoint
    examples = str(tmp_path / 'examples')
    os.makedirs(examples)
    image_dir = osp.join(synthetic_root, 'coco', 'train2014')
    for name in sorted(os.listdir(image_dir))[:3]:
        shutil.copy(osp.join(image_dir, name), examples)
    first = sorted(os.listdir(examples))[0]
    server = Server([osp.join(REPO, 'tools', 'serve_app.py'), 'demo', '--config', config,
                     '--checkpoint', ckpt, '--examples', examples], str(tmp_path / 'demo.log'))
    server.start('/api/demo/images/ex-' + first)
    page = browser.new_context(viewport=dict(width=1100, height=700)).new_page()
    try:
        page.goto(server.url('/demo'))
        page.wait_for_function(f"document.getElementById('view').dataset.ready === 'ex-{first}'")
        # RES: two expressions -> two rows with boxes and scores, the masks drawn
        page.fill('#expressions', 'the red circle\nthe blue square on the left')
        page.click('#segment')
        page.wait_for_function("document.querySelectorAll('#res-table tr').length === 3")
        assert page.inner_text('#res-table').count('the red circle') == 1
        assert page.get_attribute('#view', 'src').startswith('data:image/png;base64,')
        # REG: a click -> the proposal under it and its expression
        page.fill('#beam', '2')
        box = page.locator('#view').bounding_box()
        page.mouse.click(box['x'] + box['width'] / 2, box['y'] + box['height'] / 2)
        page.wait_for_function("(t => t && t !== '...')(document.getElementById('reg-text')"
                               ".textContent)")
        info = page.inner_text('#reg-info')
        assert 'click on proposal #' in info and 'described: proposal #' in info and \
            'beam 2' in info
        screenshot(page, tmp_path, 'demo.png')
        # REG: a drawn box
        page.mouse.move(box['x'] + 10, box['y'] + 10)
        page.mouse.down()
        page.mouse.move(box['x'] + box['width'] / 2, box['y'] + box['height'] / 2, steps=4)
        page.mouse.up()
        page.wait_for_function("document.getElementById('reg-info').textContent"
                               ".startsWith('box given')")
        # bad input: an empty expression, a corrupt upload; then a good upload
        page.fill('#expressions', '   ')
        page.click('#segment')
        page.wait_for_function("document.getElementById('error').textContent.includes("
                               "'one or more expressions')")
        page.set_input_files('#upload', files=[dict(name='bad.png', mimeType='image/png',
                                                    buffer=b'\x89PNG\r\n\x1a\n' + b'junk' * 9)])
        page.wait_for_function("document.getElementById('error').textContent.includes("
                               "'not a readable image')")
        with open(osp.join(examples, first), 'rb') as f:
            good = f.read()
        page.set_input_files('#upload', files=[dict(name='x.png', mimeType='image/png',
                                                    buffer=good)])
        page.wait_for_function("(document.getElementById('view').dataset.ready || '')"
                               ".startsWith('up-')")
        assert page.inner_text('#error') == ''
    finally:
        server.stop()
