"""The web app's API in process (starlette's TestClient): what annotators see, every
refusal as a 4xx with a JSON error, nothing written by a refused request, the demo."""
import io
import os.path as osp
import sqlite3

import numpy as np
from PIL import Image
from starlette.testclient import TestClient

from mmrefmutual.apps.server import build_app


def snapshot(path):
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def refused(response, status, match):
    assert response.status_code == status, response.text
    assert match in response.json()['error'], response.json()


def test_study_api(make_study):
    path = make_study(n_per_split=2, human=True)
    client = TestClient(build_app(studies={'study': path}))
    base = '/api/study/study/annotators/ann1'
    state = client.get(f'{base}/next').json()
    assert (state['done'], state['total'], state['can_undo']) == (0, 18, False)
    # blind: the expression and the image only, no target, model or ids of the dataset
    assert set(state['item']) == {'item_id', 'expression', 'width', 'height', 'image_url'}
    page = client.get('/study/study/annotate/ann1').text
    assert 'precise' not in page and 'vague' not in page and '__human__' not in page
    image = client.get(state['item']['image_url'])
    assert image.headers['content-type'] == 'image/png'
    assert Image.open(io.BytesIO(image.content)).size == (128, 128)

    item = state['item']['item_id']
    r = client.post(f'{base}/items/{item}/click', json=dict(x=10.5, y=20.25))
    assert r.status_code == 200 and r.json()['recorded']['item_id'] == item
    assert r.json()['done'] == 1 and r.json()['can_undo'] and r.json()['item']['item_id'] != item

    before = snapshot(path)
    refused(client.post(f'{base}/items/{item}/click', json=dict(x=1, y=1)), 409, 'already')
    refused(client.post(f'{base}/items/{item}/click', json=dict(cant_tell=True)), 409,
            'already')
    refused(client.get('/api/study/study/annotators/mallory/next'), 404, "unknown annotator")
    refused(client.get('/study/study/annotate/mallory'), 404, 'unknown annotator')
    refused(client.post('/api/study/study/annotators/mallory/items/1/click',
                        json=dict(x=1, y=1)), 404, 'unknown annotator')
    refused(client.get('/api/study/other/annotators/ann1/next'), 404, 'unknown study')
    refused(client.post(f'{base}/items/99999/click', json=dict(x=1, y=1)), 404, 'unknown item')
    refused(client.post(f'{base}/items/1e3/click', json=dict(x=1, y=1)), 404, 'unknown item')
    refused(client.get(f'{base}/items/..%2F..%2Fetc%2Fpasswd/image'), 404, '')
    nxt = r.json()['item']['item_id']
    refused(client.post(f'{base}/items/{nxt}/click', json=dict(x=500, y=1)), 400, 'outside')
    refused(client.post(f'{base}/items/{nxt}/click', json=dict(x='a', y=1)), 400, 'numbers')
    refused(client.post(f'{base}/items/{nxt}/click', content=b'{not json'), 400, 'not JSON')
    refused(client.post(f'{base}/items/{nxt}/click', content=b'x' * 70000), 413, 'at most')
    refused(client.get(f'{base}/click'), 404, 'no such page')
    refused(client.get(f'{base}/undo'), 405, '')
    assert snapshot(path) == before

    r = client.post(f'{base}/undo')
    assert r.status_code == 200 and r.json()['undone'] == item
    assert r.json()['item']['item_id'] == item
    refused(client.post(f'{base}/undo'), 409, 'no click to undo')
    results = client.get('/api/study/study/results').json()
    assert results['results']['val']['precise']['n_items'] == 2 and not results['complete']
    assert client.get('/api/study/study/results.csv').text.startswith('split,model,')
    assert 'H-Acc' in client.get('/study/study/results').text
    refused(client.get('/demo'), 404, 'no demo')


def png_bytes(rgb, fmt='PNG'):
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt)
    return buf.getvalue()


def test_demo_api(demo_session):
    client = TestClient(build_app(demo=demo_session))
    name = sorted(demo_session.examples)[0]
    assert name in client.get('/demo').text
    image_id = f'ex-{name}'
    r = client.post('/api/demo/segment', json=dict(image_id=image_id,
                                                 expressions=['the red circle', 'a star']))
    assert r.status_code == 200, r.text
    res = r.json()['results']
    assert len(res) == 2 and len(res[0]['bbox']) == 4 and 0 <= res[0]['score'] <= 1
    assert r.json()['overlay'].startswith('data:image/png;base64,')
    r = client.post('/api/demo/describe', json=dict(image_id=image_id, point=[64.5, 60.0],
                                                  beam_size=2))
    assert r.status_code == 200, r.text
    out = r.json()
    assert isinstance(out['expression'], str) and out['beam_size'] == 2
    assert 0 <= out['proposal']['index'] < 20 and isinstance(out['clicked_proposal'], int)
    r = client.post('/api/demo/describe', json=dict(image_id=image_id, box=[10, 10, 60, 50]))
    assert r.status_code == 200 and r.json()['clicked_proposal'] is None

    rgb = np.random.RandomState(0).randint(0, 255, (40, 60, 3), dtype=np.uint8)
    up = client.post('/api/demo/upload', content=png_bytes(rgb, 'JPEG'))
    assert up.status_code == 200 and (up.json()['width'], up.json()['height']) == (60, 40)
    r = client.post('/api/demo/segment', json=dict(image_id=up.json()['image_id'],
                                                 expressions=['the blue square']))
    assert r.status_code == 200 and len(r.json()['results']) == 1

    good = png_bytes(rgb)
    refused(client.post('/api/demo/upload', content=good[:len(good) // 2]), 415, 'readable')
    refused(client.post('/api/demo/upload', content=b'GIF89a' + b'\0' * 50), 415, '')
    refused(client.post('/api/demo/upload', content=b''), 400, 'empty')
    refused(client.post('/api/demo/upload', content=png_bytes(np.zeros((4, 4, 3), np.uint8))),
            400, 'sides')
    refused(client.post('/api/demo/segment', json=dict(image_id=image_id, expressions=[''])),
            400, 'empty')
    refused(client.post('/api/demo/segment', json=dict(image_id=image_id, expressions=[])),
            400, 'one or more')
    refused(client.post('/api/demo/segment', json=dict(image_id=image_id, expressions=['?!'])),
            400, 'no word')
    refused(client.post('/api/demo/segment', json=dict(image_id=image_id,
                                                     expressions=['x' * 201])), 400, 'at most')
    refused(client.post('/api/demo/describe', json=dict(image_id=image_id, point=[1, 1],
                                                      beam_size=0)), 400, 'beam size')
    refused(client.post('/api/demo/describe', json=dict(image_id=image_id, point=[900, 1])),
            400, 'outside')
    refused(client.post('/api/demo/describe', json=dict(image_id=image_id)), 400, 'either')
    for bad in ('ex-../../../etc/passwd', 'ex-' + osp.join('..', name), '/etc/passwd',
                'up-0000'):
        refused(client.post('/api/demo/segment', json=dict(image_id=bad, expressions=['a'])),
                404, 'unknown image')
    refused(client.get('/api/demo/images/ex-..%2F..%2Fsetup.py'), 404, '')
