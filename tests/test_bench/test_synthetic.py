"""The synthetic referring benchmark: RefCOCO file format, determinism, masks, oracle."""
import filecmp
import importlib.util
import json
import os
import os.path as osp
import pickle
from collections import defaultdict

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from PIL import Image

from mmrefmutual_bench.synthetic import (CATEGORIES, LOCATION_WORDS, Desc, Expression,
                                            SyntheticOracle, parse, realise)
from mmrefmutual_bench.synthetic.generator import SPLITS, generate_synthetic_refcoco
from mmrefmutual_bench.synthetic.grammar import COLORS, RELATIONS, SHAPES, SIZES
from mmrefmutual.datasets.text import normalize_expression

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NUM_IMAGES, RATIO, IMG_SIZE = 40, 0.6, 128
VARIANTS = ('refcoco', 'refcoco+')
OUTPUT_FILES = ('coco/annotations/instances_train2014.json', 'refcoco/instances.json',
                'refcoco/refs(unc).p', 'refcoco+/instances.json', 'refcoco+/refs(unc).p')
REF_KEYS = {'ref_id', 'ann_id', 'image_id', 'split', 'category_id', 'file_name', 'sent_ids',
            'sentences'}
SENTENCE_KEYS = {'tokens', 'raw', 'sent_id', 'sent'}


def generate(root, seed=0, num_workers=1, num_images=NUM_IMAGES):
    generate_synthetic_refcoco(str(root), num_images=num_images, ref_image_ratio=RATIO,
                               img_size=IMG_SIZE, seed=seed, num_workers=num_workers)
    return str(root)


def load_json(root, rel):
    with open(osp.join(root, rel)) as f:
        return json.load(f)


def load_refs(root, variant):
    with open(osp.join(root, variant, 'refs(unc).p'), 'rb') as f:
        return pickle.load(f)  # a plain pickle.load, as the original refer API does


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    return generate(tmp_path_factory.mktemp('synthetic_seed0'))


@pytest.fixture(scope='module')
def coco(root):
    return load_json(root, 'coco/annotations/instances_train2014.json')


def decode(ann, height, width):
    seg = ann['segmentation']
    rle = mask_utils.merge(mask_utils.frPyObjects(seg, height, width)) \
        if isinstance(seg, list) else seg
    return rle, mask_utils.decode(rle).astype(bool)


# ------------------------------------------------------------------ files and determinism
def test_same_seed_is_byte_identical_whatever_the_workers(root, tmp_path):
    again = generate(tmp_path / 'again', seed=0, num_workers=2)
    for rel in OUTPUT_FILES:
        assert filecmp.cmp(osp.join(root, rel), osp.join(again, rel), shallow=False), rel
    images = sorted(os.listdir(osp.join(root, 'coco', 'train2014')))
    assert len(images) == NUM_IMAGES
    _, mismatch, errors = filecmp.cmpfiles(osp.join(root, 'coco', 'train2014'),
                                           osp.join(again, 'coco', 'train2014'), images,
                                           shallow=False)
    assert not mismatch and not errors


def test_other_seed_differs(root, tmp_path):
    other = generate(tmp_path / 'seed1', seed=1)
    for rel in OUTPUT_FILES:
        assert not filecmp.cmp(osp.join(root, rel), osp.join(other, rel), shallow=False), rel


def test_coco_files(root, coco):
    assert [c['id'] for c in coco['categories']] == [c['id'] for c in CATEGORIES]
    assert [c['id'] for c in coco['categories']] != list(range(1, len(CATEGORIES) + 1))
    assert len(coco['images']) == NUM_IMAGES
    for img in coco['images']:
        assert set(img) == {'id', 'file_name', 'height', 'width'}
        assert img['file_name'] == f'COCO_train2014_{img["id"]:012d}.png'
        with Image.open(osp.join(root, 'coco', 'train2014', img['file_name'])) as im:
            assert im.format == 'PNG' and im.mode == 'RGB'
            assert im.size == (img['width'], img['height']) == (IMG_SIZE, IMG_SIZE)
    cat_ids = {c['id'] for c in coco['categories']}
    ann_ids = [a['id'] for a in coco['annotations']]
    assert len(set(ann_ids)) == len(ann_ids)
    for ann in coco['annotations']:
        assert ann['category_id'] in cat_ids and ann['iscrowd'] == 0
        attrs = ann['attributes']
        assert attrs['shape'] == next(c['name'] for c in coco['categories']
                                      if c['id'] == ann['category_id'])
        assert attrs['color'] in COLORS and attrs['size'] in SIZES
        # occluders are drawn later: in the same image, with a larger id
        assert all(o > ann['id'] and o // 100 == ann['image_id'] for o in attrs['occluded_by'])


def test_refs_have_the_refcoco_structure(root):
    for variant in VARIANTS:
        refs = load_refs(root, variant)
        assert isinstance(refs, list) and refs
        ref_ids = [r['ref_id'] for r in refs]
        sent_ids = [s for r in refs for s in r['sent_ids']]
        assert len(set(ref_ids)) == len(ref_ids)
        assert len(set(sent_ids)) == len(sent_ids)
        for ref in refs:
            assert set(ref) == REF_KEYS
            assert ref['split'] in SPLITS
            assert ref['file_name'] == f'COCO_train2014_{ref["image_id"]:012d}_{ref["ann_id"]}.png'
            assert 1 <= len(ref['sentences']) <= 4
            assert ref['sent_ids'] == [s['sent_id'] for s in ref['sentences']]
            for sentence in ref['sentences']:
                assert set(sentence) == SENTENCE_KEYS
                assert sentence['sent'] == normalize_expression(sentence['raw'])
                assert sentence['tokens'] == sentence['sent'].split()
            sents = [s['sent'] for s in ref['sentences']]
            assert len(set(sents)) == len(sents)
    raws = [s['raw'] for r in load_refs(root, 'refcoco') for s in r['sentences']]
    assert any(raw != normalize_expression(raw) for raw in raws)  # human-like capitals/periods


def test_refs_load_with_the_project_safe_loader(root):
    from mmrefmutual.datasets.refcoco import load_refs as safe_load_refs
    for variant in VARIANTS:
        assert safe_load_refs(osp.join(root, variant, 'refs(unc).p')) == load_refs(root, variant)


def test_ref_instances_and_pool(root, coco):
    by_image = defaultdict(list)
    for ann in coco['annotations']:
        by_image[ann['image_id']].append(ann)
    ref_coco = load_json(root, 'refcoco/instances.json')
    assert load_json(root, 'refcoco+/instances.json') == ref_coco
    ref_images = {img['id'] for img in ref_coco['images']}
    refs = {v: load_refs(root, v) for v in VARIANTS}
    assert ref_images == {r['image_id'] for r in refs['refcoco']}
    assert {r['image_id'] for r in refs['refcoco+']} <= ref_images
    # all annotations of a ref image, identical to the COCO file's
    assert ref_coco['annotations'] == [a for a in coco['annotations']
                                       if a['image_id'] in ref_images]
    anns = {a['id']: a for a in coco['annotations']}
    for variant in VARIANTS:
        for ref in refs[variant]:
            assert anns[ref['ann_id']]['image_id'] == ref['image_id']
            assert anns[ref['ann_id']]['category_id'] == ref['category_id']
    pool = {img['id'] for img in coco['images']} - ref_images
    assert len(pool) >= NUM_IMAGES - round(NUM_IMAGES * RATIO)
    assert all(by_image[i] for i in pool)  # the pool has instances, only in the COCO file
    assert not pool & {a['image_id'] for a in ref_coco['annotations']}


def test_splits(root):
    refs = load_refs(root, 'refcoco')
    split_of_image = {}
    for ref in refs:
        assert split_of_image.setdefault(ref['image_id'], ref['split']) == ref['split']
    counts = {s: list(split_of_image.values()).count(s) for s in SPLITS}
    assert all(counts[s] >= 1 for s in SPLITS), counts
    assert counts['train'] > counts['val']
    for ref in load_refs(root, 'refcoco+'):
        assert ref['split'] == split_of_image[ref['image_id']]


# ------------------------------------------------------------------ expressions
def test_every_sentence_fits_exactly_its_object(root):
    for ann_file in ('refcoco/instances.json', 'coco/annotations/instances_train2014.json'):
        oracle = SyntheticOracle(osp.join(root, ann_file))
        for variant in VARIANTS:
            refs = load_refs(root, variant)
            for ref in refs:
                for sentence in ref['sentences']:
                    assert oracle.referents(ref['image_id'], sentence['raw']) == [ref['ann_id']]
                    assert oracle.referents(ref['image_id'], sentence['sent']) == [ref['ann_id']]


def test_refcoco_plus_has_no_location_words(root):
    plus_words = {w for r in load_refs(root, 'refcoco+') for s in r['sentences']
                  for w in s['tokens']}
    assert not plus_words & LOCATION_WORDS
    words = {w for r in load_refs(root, 'refcoco') for s in r['sentences'] for w in s['tokens']}
    assert words & LOCATION_WORDS  # RefCOCO does use them
    # some objects can only be told apart by location: they have no RefCOCO+ ref
    assert len(load_refs(root, 'refcoco+')) < len(load_refs(root, 'refcoco'))


def test_expressions_are_short_when_possible(root, coco):
    """An object whose shape is unique in its image is named by its shape first."""
    by_image = defaultdict(list)
    for ann in coco['annotations']:
        by_image[ann['image_id']].append(ann['attributes']['shape'])
    anns = {a['id']: a for a in coco['annotations']}
    checked = 0
    for ref in load_refs(root, 'refcoco'):
        shape = anns[ref['ann_id']]['attributes']['shape']
        if by_image[ref['image_id']].count(shape) == 1:
            first = parse(ref['sentences'][0]['sent'])
            assert first.kind == 'attr' and first.desc.shape == shape
            assert first.desc.color is None and first.desc.size is None
            checked += 1
    assert checked > 0


def test_locations_are_visibly_clear(root):
    """Beyond exactness, a position word is only used when positions differ by a
    visible margin (5% of the image side), as a person would require."""
    from mmrefmutual_bench.synthetic.grammar import matches, scene_object_from_ann
    oracle = SyntheticOracle(osp.join(root, 'refcoco/instances.json'))
    margin = 0.05 * IMG_SIZE
    key = {'left': lambda o: o.cx, 'right': lambda o: o.cx, 'top': lambda o: o.cy,
           'bottom': lambda o: o.cy}
    checked = 0
    for ref in load_refs(root, 'refcoco'):
        objects = oracle.objects(ref['image_id'])
        target = next(o for o in objects if o.ann_id == ref['ann_id'])
        for sentence in ref['sentences']:
            expr = parse(sentence['sent'])
            if expr.kind == 'rank':
                others = [o for o in objects if matches(o, expr.desc) and o is not target]
                assert others  # the location is needed: the description alone is ambiguous
                k = key[expr.direction]
                assert all(abs(k(o) - k(target)) >= margin for o in others), sentence['raw']
                checked += 1
            elif expr.kind == 'relation' and expr.relation in ('left_of', 'right_of'):
                landmark = next(o for o in objects if matches(o, expr.landmark))
                assert abs(target.cx - landmark.cx) >= margin, sentence['raw']
                checked += 1
    assert checked > 0
    assert scene_object_from_ann(dict(id=1, bbox=[2, 4, 3, 5])).cx == 3.5


# ------------------------------------------------------------------ masks
def test_masks_decode_to_the_painted_pixels(root, coco):
    by_image = defaultdict(list)
    for ann in coco['annotations']:
        by_image[ann['image_id']].append(ann)
    kinds = set()
    for img in coco['images']:
        h, w = img['height'], img['width']
        pixels = np.asarray(Image.open(osp.join(root, 'coco', 'train2014', img['file_name'])))
        pixels = pixels.astype(int)
        spread = pixels.max(axis=2) - pixels.min(axis=2)  # saturated colour vs grey
        union = np.zeros((h, w), dtype=bool)
        for ann in by_image[img['id']]:
            kinds.add(type(ann['segmentation']))
            rle, mask = decode(ann, h, w)
            assert mask.sum() == ann['area'] > 0
            assert list(mask_utils.toBbox(rle)) == ann['bbox']
            assert not (mask & union).any()  # visible parts never overlap
            union |= mask
            # every pixel of the mask is painted in the object's colour
            nominal = np.array(COLORS[ann['attributes']['color']])
            assert np.abs(pixels[mask] - nominal).max() <= 30
            # occluded objects (only their visible part is the mask) are stored as RLE
            if ann['attributes']['occluded_by']:
                assert isinstance(ann['segmentation'], dict)
        assert spread[union].min() > 60 and spread[~union].max() < 45
    assert kinds == {list, dict}  # both polygons and RLE are exercised


# ------------------------------------------------------------------ oracle
def scene(objects):
    """A hand-made instances dict: (ann_id, shape, color, size, x, y, w, h, occluded_by)."""
    anns = [dict(id=a, image_id=1, category_id=1, bbox=[x, y, w, h], area=float(w * h),
                 segmentation=[[x, y, x + w, y, x + w, y + h, x, y + h]], iscrowd=0,
                 attributes=dict(shape=s, color=c, size=z, occluded_by=occ))
            for a, s, c, z, x, y, w, h, occ in objects]
    return dict(images=[dict(id=1, file_name='x.png', height=128, width=128)],
                annotations=anns, categories=list(CATEGORIES))


@pytest.fixture
def oracle():
    return SyntheticOracle(scene([
        (11, 'circle', 'red', 'small', 10, 10, 10, 10, []),  # centre (15, 15)
        (12, 'circle', 'red', 'small', 50, 10, 10, 10, []),  # (55, 15)
        (13, 'circle', 'red', 'large', 90, 60, 20, 20, []),  # (100, 70)
        (14, 'square', 'blue', 'medium', 40, 40, 20, 20, [15]),  # (50, 50), behind 15
        (15, 'star', 'green', 'medium', 55, 45, 20, 20, []),  # (65, 55)
        (16, 'square', 'purple', 'medium', 10, 90, 20, 20, []),  # (20, 100)
    ]))


@pytest.mark.parametrize('expression, expected', [
    ('circle', [11, 12, 13]),
    ('the red circle', [11, 12, 13]),
    ('the big red circle', [13]),
    ('the circle on the left', [11]),
    ('leftmost circle', [11]),
    ('circle, left', [11]),
    ('the second circle from the left', [12]),
    ('the 3rd circle from the left', [13]),
    ('the fourth circle from the left', []),
    ('the circle at the top', [11, 12]),  # tie in y: ambiguous
    ('the second circle from the top', [11, 12]),
    ('the third circle from the top', [13]),
    ('the biggest circle', [13]),
    ('the smallest circle', [11, 12]),  # tie in size
    ('the circle left of the star', [11, 12]),
    ('the circle to the right of the green one', [13]),
    ('the square left of the star', [14, 16]),
    ('the circle left of the square', []),  # two squares: no unique landmark
    ('the square below the star', [16]),
    ('the thing above the star', [11, 12, 14]),
    ('the circle closest to the star', [13]),
    ('the square behind the star', [14]),
    ('the square partly hidden by the star', [14]),
    ('the one in front of the blue square', [15]),
    ('the star covering the purple square', []),
    ('  THE   Biggest  CIRCLE!!! ', [13]),
    ('the violet square.', [16]),
    ('flibbertigibbet zorp', []),
    ('the red circle xyz', []),
    ('the first circle', []),  # an ordinal needs 'from the ...'
    ('red', []),  # no noun
    ('', []),
])
def test_oracle_semantics(oracle, expression, expected):
    assert oracle.referents(1, expression) == expected


def test_oracle_rejects_ambiguous_expressions_in_generated_images(root, coco):
    oracle = SyntheticOracle(osp.join(root, 'refcoco/instances.json'))
    known = {img['id'] for img in load_json(root, 'refcoco/instances.json')['images']}
    shapes = defaultdict(list)
    for ann in coco['annotations']:
        shapes[(ann['image_id'], ann['attributes']['shape'])].append(ann['id'])
    repeated = [(key, ids) for key, ids in shapes.items() if len(ids) >= 2
                and key[0] in known]
    assert repeated
    for (image_id, shape), ids in repeated:
        assert oracle.referents(image_id, f'the {shape}') == ids
        assert oracle.referents(image_id, 'zorp the ' + shape) == []
    with pytest.raises(KeyError):
        oracle.referents(10**9, 'the circle')


def test_realise_parse_round_trip():
    rng = np.random.default_rng(0)

    def desc():
        return Desc(*(rng.choice([None, *vals]) for vals in (SIZES, list(COLORS), SHAPES)))

    for _ in range(2000):
        kind = rng.choice(['attr', 'rank', 'super', 'relation'])
        if kind == 'attr':
            expr = Expression('attr', desc())
        elif kind == 'rank':
            expr = Expression('rank', desc(), direction=str(rng.choice(
                ['left', 'right', 'top', 'bottom'])), k=int(rng.integers(1, 6)))
        elif kind == 'super':
            expr = Expression('super', desc(), extreme=str(rng.choice(['large', 'small'])))
        else:
            expr = Expression('relation', desc(), relation=str(rng.choice(RELATIONS)),
                              landmark=desc())
        raw = realise(expr, rng, num_candidates=int(rng.integers(2, 4)))
        assert parse(raw) == expr, raw


# ------------------------------------------------------------------ CLI
def test_cli(tmp_path):
    path = osp.join(REPO, 'tools', 'dataset_converters', 'make_synthetic_refcoco.py')
    spec = importlib.util.spec_from_file_location('make_synthetic_refcoco', path)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    summary = cli.main([str(tmp_path), '--num-images', '8', '--ref-image-ratio', '0.5',
                        '--seed', '3'])
    assert summary['images'] == 8 and summary['ref_images'] <= 4
    for rel in OUTPUT_FILES:
        assert osp.isfile(tmp_path / rel), rel
    assert len(os.listdir(tmp_path / 'coco' / 'train2014')) == 8


def test_invalid_arguments(tmp_path):
    with pytest.raises(ValueError):
        generate_synthetic_refcoco(str(tmp_path), num_images=4, ref_image_ratio=1.5)
    with pytest.raises(ValueError):
        generate_synthetic_refcoco(str(tmp_path), num_images=4, split_ratios=(0.5, 0.5, 0.5, 0))
