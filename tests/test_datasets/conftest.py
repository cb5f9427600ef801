"""A tiny RefCOCO-like dataset written to a temporary folder.

Layout (``refer_data`` fixture)::

    images/COCO_train2014_00000000000{1..6}.jpg   (image 7 is in the json, not on disk)
    instances.json        categories 18, 1, 3 (unsorted, non-contiguous)
    refcoco/refs(unc).p   protocol-2 pickle written by Python 3
    refcoco+/refs(unc).p  hand-made Python 2 pickle (py2 str keys/values + unicode)
    refcocog/refs(umd).p  protocol-0 pickle
    refcocog/refs(google).p

Images and their annotations (ann ids)::

    1 (40x30): 101 person polygon, 102 car compressed RLE, 103 dog 2-part polygon,
               104 person crowd uncompressed RLE
    2 (48x36): 201 dog, 202 person          3 (48x36): 301 car
    4 (48x36): 401 person, 402 small car, 403 crowd, 404 dog   (no refs)
    5 (48x36): 501 small car                                   (no refs)
    6 (48x36): 601 car (google refs only)   7: 701 person (file missing on disk)
    ann 801 points at image 800, which is not in the json.
"""
import io
import json
import pickle
import struct
from types import SimpleNamespace

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from PIL import Image

SIZES = {1: (30, 40), 2: (36, 48), 3: (36, 48), 4: (36, 48), 5: (36, 48), 6: (36, 48),
         7: (36, 48)}  # img_id -> (height, width)
CATEGORIES = [dict(id=18, name='dog'), dict(id=1, name='person'), dict(id=3, name='car')]


def rect(x1, y1, x2, y2):
    """Polygon of a rectangle."""
    return [x1, y1, x2, y1, x2, y2, x1, y2]


def uncompressed_rle(mask):
    """COCO uncompressed RLE (column-major run lengths, starting with zeros)."""
    flat = mask.flatten(order='F')
    counts, value, run = [], 0, 0
    for pixel in flat:
        if pixel == value:
            run += 1
        else:
            counts.append(run)
            value, run = pixel, 1
    counts.append(run)
    return dict(counts=[int(c) for c in counts], size=list(mask.shape))


def polygon_ann(ann_id, img_id, cat_id, polygons, iscrowd=0):
    xs = [x for p in polygons for x in p[0::2]]
    ys = [y for p in polygons for y in p[1::2]]
    area = sum((p[2] - p[0]) * (p[5] - p[1]) for p in polygons)
    return dict(id=ann_id, image_id=img_id, category_id=cat_id, segmentation=polygons,
                area=float(area), iscrowd=iscrowd,
                bbox=[min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)])


def bitmap_ann(ann_id, img_id, cat_id, mask, compressed, iscrowd=0):
    if compressed:
        rle = mask_utils.encode(np.asfortranarray(mask))
        segmentation = dict(size=rle['size'], counts=rle['counts'].decode('ascii'))
    else:
        segmentation = uncompressed_rle(mask)
    ys, xs = np.nonzero(mask)
    return dict(id=ann_id, image_id=img_id, category_id=cat_id, segmentation=segmentation,
                area=float(mask.sum()), iscrowd=iscrowd,
                bbox=[float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
                      float(ys.max() - ys.min() + 1)])


def make_masks():
    car = np.zeros(SIZES[1], dtype=np.uint8)
    car[5:15, 20:35] = 1
    crowd = np.zeros(SIZES[1], dtype=np.uint8)
    crowd[20:25, 0:10] = 1
    return car, crowd


def make_coco():
    car, crowd = make_masks()
    anns = [
        polygon_ann(101, 1, 1, [rect(2, 2, 12, 16)]),
        bitmap_ann(102, 1, 3, car, compressed=True),
        polygon_ann(103, 1, 18, [rect(2, 18, 8, 26), rect(10, 18, 16, 26)]),
        bitmap_ann(104, 1, 1, crowd, compressed=False, iscrowd=1),
        polygon_ann(201, 2, 18, [rect(0, 0, 20, 20)]),
        polygon_ann(202, 2, 1, [rect(25, 5, 45, 30)]),
        polygon_ann(301, 3, 3, [rect(5, 5, 40, 30)]),
        polygon_ann(401, 4, 1, [rect(0, 0, 20, 15)]),      # 300 px
        polygon_ann(402, 4, 3, [rect(30, 0, 35, 4)]),      # 20 px
        polygon_ann(403, 4, 1, [rect(0, 20, 40, 35)], iscrowd=1),
        polygon_ann(404, 4, 18, [rect(22, 10, 42, 30)]),   # 400 px
        polygon_ann(501, 5, 3, [rect(0, 0, 5, 4)]),        # 20 px
        polygon_ann(601, 6, 3, [rect(3, 3, 30, 30)]),
        polygon_ann(701, 7, 1, [rect(3, 3, 30, 30)]),
        polygon_ann(801, 800, 1, [rect(3, 3, 30, 30)]),
    ]
    images = [dict(id=i, file_name=f'COCO_train2014_{i:012d}.jpg', height=h, width=w)
              for i, (h, w) in SIZES.items()]
    return dict(info=dict(description='tiny'), images=images, annotations=anns,
                categories=CATEGORIES)


def make_ref(ref_id, ann_id, image_id, category_id, split, raws):
    sent_ids = [ref_id * 10 + i for i in range(len(raws))]
    return dict(ref_id=ref_id, ann_id=ann_id, image_id=image_id, category_id=category_id,
                split=split, file_name=f'COCO_train2014_{image_id:012d}_{ann_id}.jpg',
                sent_ids=sent_ids,
                sentences=[dict(raw=raw, sent=raw.lower(), tokens=raw.lower().split(),
                                sent_id=sid) for raw, sid in zip(raws, sent_ids)])


LONG = 'the very tall man standing on the far left side of the picture near the red car'

REFS_UNC = [
    make_ref(0, 101, 1, 1, 'train', ['Man on the LEFT!', 'the café guy', '???']),
    make_ref(1, 201, 2, 18, 'train', ['brown dog', LONG]),
    make_ref(2, 9999, 1, 1, 'train', ['annotation does not exist']),
    make_ref(3, 801, 800, 1, 'train', ['image does not exist']),
    make_ref(4, 202, 2, 1, 'train', ['!!!']),
    make_ref(10, 102, 1, 3, 'val', ['Car, right', 'red car']),
    make_ref(11, 103, 1, 18, 'val', ['dogs at the bottom']),
    make_ref(12, 301, 3, 3, 'val', ['the car']),
    make_ref(20, 701, 7, 1, 'testA', ['person whose image is missing']),
]
REFS_UMD = [
    make_ref(30, 103, 1, 18, 'train', ['two dogs']),
    make_ref(31, 201, 2, 18, 'val', ['a dog']),
    make_ref(32, 301, 3, 3, 'test', ['a car']),
]
REFS_GOOGLE = [
    make_ref(40, 601, 6, 3, 'train', ['car in the middle']),
    make_ref(41, 102, 1, 3, 'val', ['small car']),
]
# RefCOCO+ as Python 2 wrote it: bytes stand for py2 `str` (keys and most values,
# one of them UTF-8 encoded), str for py2 `unicode`.
REFS_UNC_PLUS_PY2 = [
    {b'ref_id': 100, b'ann_id': 102, b'image_id': 1, b'category_id': 3, b'split': b'val',
     b'sent_ids': [1000, 1001],
     b'sentences': [{b'raw': b'red car on the right', b'sent': b'red car on the right',
                     b'sent_id': 1000},
                    {b'raw': 'caf\xe9 car', b'sent': 'caf\xe9 car', b'sent_id': 1001}]},
    {b'ref_id': 101, b'ann_id': 101, b'image_id': 1, b'category_id': 1, b'split': b'train',
     b'sent_ids': [1010],
     b'sentences': [{b'raw': 'na\u00efve man'.encode('utf-8'), b'sent_id': 1010}]},
]


def py2_pickle_dumps(obj) -> bytes:
    """Serialise like Python 2's cPickle with protocol 2.

    ``bytes`` become SHORT_BINSTRING/BINSTRING (py2 ``str``), ``str`` BINUNICODE
    (py2 ``unicode``); containers use the same opcodes as py2, without memo.
    """
    out = io.BytesIO()

    def write(o):
        if o is None:
            out.write(b'N')
        elif o is True or o is False:
            out.write(b'\x88' if o else b'\x89')
        elif isinstance(o, int):
            if 0 <= o < 256:
                out.write(b'K' + struct.pack('<B', o))
            elif 0 <= o < 65536:
                out.write(b'M' + struct.pack('<H', o))
            else:
                out.write(b'J' + struct.pack('<i', o))
        elif isinstance(o, float):
            out.write(b'G' + struct.pack('>d', o))
        elif isinstance(o, bytes):
            if len(o) < 256:
                out.write(b'U' + struct.pack('<B', len(o)) + o)
            else:
                out.write(b'T' + struct.pack('<i', len(o)) + o)
        elif isinstance(o, str):
            data = o.encode('utf-8')
            out.write(b'X' + struct.pack('<I', len(data)) + data)
        elif isinstance(o, list):
            out.write(b']')
            if o:
                out.write(b'(')
                for v in o:
                    write(v)
                out.write(b'e')
        elif isinstance(o, dict):
            out.write(b'}')
            if o:
                out.write(b'(')
                for k, v in o.items():
                    write(k)
                    write(v)
                out.write(b'u')
        else:
            raise TypeError(type(o))

    out.write(b'\x80\x02')
    write(obj)
    out.write(b'.')
    return out.getvalue()


@pytest.fixture(scope='session')
def refer_data(tmp_path_factory):
    """Write the tiny dataset once per session and return its paths."""
    root = tmp_path_factory.mktemp('refer')
    coco = make_coco()
    (root / 'images').mkdir()
    rng = np.random.RandomState(0)
    for img in coco['images']:
        if img['id'] == 7:
            continue  # in the json, missing on disk
        pixels = rng.randint(0, 255, (img['height'], img['width'], 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / 'images' / img['file_name'], quality=95)
    (root / 'instances.json').write_text(json.dumps(coco))
    for sub in ('refcoco', 'refcoco+', 'refcocog'):
        (root / sub).mkdir()
    (root / 'refcoco' / 'refs(unc).p').write_bytes(pickle.dumps(REFS_UNC, protocol=2))
    (root / 'refcoco+' / 'refs(unc).p').write_bytes(py2_pickle_dumps(REFS_UNC_PLUS_PY2))
    (root / 'refcocog' / 'refs(umd).p').write_bytes(pickle.dumps(REFS_UMD, protocol=0))
    (root / 'refcocog' / 'refs(google).p').write_bytes(pickle.dumps(REFS_GOOGLE, protocol=2))
    refs_files = [str(root / 'refcoco' / 'refs(unc).p'), str(root / 'refcoco+' / 'refs(unc).p'),
                  str(root / 'refcocog' / 'refs(umd).p'),
                  str(root / 'refcocog' / 'refs(google).p')]
    return SimpleNamespace(root=root, data_root=str(root), ann_file=str(root / 'instances.json'),
                           img_dir=str(root / 'images'), coco=coco, refs_files=refs_files,
                           refs_unc=REFS_UNC, car_mask=make_masks()[0],
                           crowd_mask=make_masks()[1])


@pytest.fixture(name='py2_pickle_dumps')
def py2_pickle_dumps_fixture():
    """:func:`py2_pickle_dumps`, for tests (conftest is not importable)."""
    return py2_pickle_dumps


@pytest.fixture
def mmrefmutual_scope():
    """Build configs in the ``mmrefmutual`` scope, as a runner would."""
    from mmengine.registry import DefaultScope

    import mmrefmutual.datasets  # noqa: F401  (registers datasets and transforms)
    with DefaultScope.overwrite_default_scope('mmrefmutual'):
        yield


@pytest.fixture
def captured_warnings():
    """Warnings logged to the current MMLogger (it does not propagate to caplog)."""
    import logging

    from mmengine.logging import MMLogger

    records = []

    class _Handler(logging.Handler):

        def emit(self, record):
            records.append(record)

    logger = MMLogger.get_current_instance()
    handler = _Handler(level=logging.WARNING)
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)
