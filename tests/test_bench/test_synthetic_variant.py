"""Variants of the synthetic benchmark: other shapes, colours, words and sizes, same oracle."""
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

from mmrefmutual_bench.synthetic import (DEFAULT_LEXICON, Desc, Expression, Lexicon,
                                            SyntheticOracle, parse, realise)
from mmrefmutual_bench.synthetic import generator
from mmrefmutual_bench.synthetic.generator import generate_synthetic_refcoco
from mmrefmutual_bench.synthetic.grammar import (DEFAULT_WORDING, FILLERS, LEXICON, RELATIONS,
                                                    SIZES, lexicon_of_wording)
from mmrefmutual_bench.synthetic.scene import ObjectSpec, shape_polygon
from mmrefmutual_bench.synthetic.variants import ALT, DEFAULT, VARIANTS, get_variant

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NUM_IMAGES, RATIO = 30, 0.6
DATASETS = ('refcoco', 'refcoco+')
OUTPUT_FILES = ('coco/annotations/instances_train2014.json', 'refcoco/instances.json',
                'refcoco/refs(unc).p', 'refcoco+/instances.json', 'refcoco+/refs(unc).p')


def generate(root, variant='alt', seed=0, num_workers=1, num_images=NUM_IMAGES):
    generate_synthetic_refcoco(str(root), num_images=num_images, ref_image_ratio=RATIO,
                               seed=seed, num_workers=num_workers, variant=variant)
    return str(root)


def load_json(root, rel='coco/annotations/instances_train2014.json'):
    with open(osp.join(root, rel)) as f:
        return json.load(f)


def load_refs(root, dataset):
    with open(osp.join(root, dataset, 'refs(unc).p'), 'rb') as f:
        return pickle.load(f)


def sentences(root, dataset='refcoco'):
    return [(ref, s) for ref in load_refs(root, dataset) for s in ref['sentences']]


@pytest.fixture(scope='module')
def alt_root(tmp_path_factory):
    return generate(tmp_path_factory.mktemp('synthetic_alt'))


@pytest.fixture(scope='module')
def default_root(tmp_path_factory):
    return generate(tmp_path_factory.mktemp('synthetic_default'), variant='default')


def phrase_words(table):
    """Every word of a realisation table ``value -> ((phrase, weight), ...)``."""
    return {w for options in table.values() for phrase, _ in options
            for w in phrase.replace('-', ' ').split()}


# ------------------------------------------------------------------ the variant itself
def test_variants_differ_in_names_colours_and_size():
    assert set(VARIANTS) >= {'default', 'alt'} and get_variant(None) is DEFAULT
    assert ALT.shapes == ('hexagon', 'diamond', 'crescent', 'arrow', 'heart')
    assert not set(ALT.shapes) & set(DEFAULT.shapes)
    assert not set(ALT.colors) & set(DEFAULT.colors)
    assert not set(ALT.colors.values()) & set(DEFAULT.colors.values())
    # slot by slot: same category ids and themes, other names
    assert [c['id'] for c in ALT.categories] == [c['id'] for c in DEFAULT.categories]
    assert {t: len(s) for t, s in ALT.themes.items()} == {t: len(s)
                                                         for t, s in DEFAULT.themes.items()}
    assert ALT.img_size == 160 != DEFAULT.img_size
    with pytest.raises(ValueError, match='unknown synthetic variant'):
        get_variant('nope')


def test_variant_shapes_are_drawn_as_their_own_polygons():
    """Each shape is its own polygon; rasterised at the same place and area, no alt shape
    overlaps a default one by more than an IoU of 0.95 (the closest pair is the hexagon
    and the circle, about 0.93; the others are below 0.85)."""

    def mask(shape):
        spec = ObjectSpec(shape, 'x', 'large', 100.0, 100.0, 40.0, 0.0, (0, 0, 0))
        rle = mask_utils.frPyObjects([shape_polygon(spec)], 200, 200)
        return mask_utils.decode(rle)[:, :, 0].astype(bool)

    masks = {s: mask(s) for s in DEFAULT.shapes + ALT.shapes}
    for a in ALT.shapes:
        for d in DEFAULT.shapes + ALT.shapes:
            if d != a:
                iou = (masks[a] & masks[d]).sum() / (masks[a] | masks[d]).sum()
                assert iou < (0.95 if {a, d} == {'hexagon', 'circle'} else 0.85), (a, d, iou)


def test_alt_words_are_other_words():
    default_names = phrase_words(DEFAULT_WORDING.shapes) | phrase_words(DEFAULT_WORDING.colors)
    alt_words = ALT.lexicon.words
    assert not default_names & alt_words  # no default shape, colour or generic noun
    # The phrases both variants have: the ordinals, comparatives and 'largest' (English
    # has no other natural words for them) and 'to the left/right of'. Every size,
    # extreme ('on the left' ...) and other relation phrase is the variant's own.
    shared = {' '.join(k) for k in set(ALT.lexicon.table) & set(DEFAULT_LEXICON.table)}
    assert shared == {'first', 'second', 'third', 'fourth', 'fifth', '1st', '2nd', '3rd', '4th',
                      '5th', 'larger', 'largest', 'smaller', 'to left of', 'to right of'}
    assert ALT.wording.ordinal != DEFAULT_WORDING.ordinal
    assert not FILLERS & alt_words


def test_lexicons_are_consistent_with_the_wordings():
    # the default lexicon accepts every default phrase with its meaning (and more)
    derived = lexicon_of_wording(DEFAULT_WORDING).table
    assert all(LEXICON[k] == v for k, v in derived.items())
    assert Lexicon.from_json(json.loads(json.dumps(ALT.lexicon.to_json()))).table == \
        ALT.lexicon.table
    # RefCOCO+ location words: only in location phrases
    assert {'upper', 'side', 'edge', 'counting', 'beneath', 'higher'} <= ALT.location_words
    for key, (symbol, value) in ALT.lexicon.table.items():
        if symbol not in ('ORD', 'DIR', 'EXT', 'FROM') and value not in (
                'left_of', 'right_of', 'above', 'below'):
            assert not ALT.location_words & set(key), key


def random_expression(rng, variant):

    def desc():
        return Desc(*(rng.choice([None, *vals])
                      for vals in (SIZES, list(variant.colors), variant.shapes)))

    kind = rng.choice(['attr', 'rank', 'super', 'relation'])
    if kind == 'attr':
        return Expression('attr', desc())
    if kind == 'rank':
        return Expression('rank', desc(), direction=str(rng.choice(
            ['left', 'right', 'top', 'bottom'])), k=int(rng.integers(1, 6)))
    if kind == 'super':
        return Expression('super', desc(), extreme=str(rng.choice(['large', 'small'])))
    return Expression('relation', desc(), relation=str(rng.choice(RELATIONS)), landmark=desc())


def test_alt_realise_parse_round_trip():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        expr = random_expression(rng, ALT)
        raw = realise(expr, rng, num_candidates=int(rng.integers(2, 4)), wording=ALT.wording)
        assert ALT.lexicon.parse(raw) == expr, raw
        assert parse(raw) is None, raw  # not a default sentence
        assert parse(raw, ALT.lexicon) == expr


# ------------------------------------------------------------------ generated files
def test_files_record_the_variant_and_its_lexicon(alt_root, default_root):
    coco = load_json(alt_root)
    for rel in ('coco/annotations/instances_train2014.json', 'refcoco/instances.json',
                'refcoco+/instances.json'):
        info = load_json(alt_root, rel)['info']
        assert info['variant'] == 'alt' and info['img_size'] == 160
        assert info['lexicon'] == ALT.lexicon.to_json()
    assert coco['categories'] == [dict(c) for c in ALT.categories]
    names = {c['id']: c['name'] for c in coco['categories']}
    for ann in coco['annotations']:
        attrs = ann['attributes']
        assert attrs['shape'] == names[ann['category_id']] in ALT.shapes
        assert attrs['color'] in ALT.colors and attrs['size'] in SIZES
    # the default variant writes neither key (its files are as they always were)
    info = load_json(default_root)['info']
    assert 'variant' not in info and 'lexicon' not in info
    assert load_json(default_root)['categories'] == [dict(c) for c in DEFAULT.categories]


def test_images_have_the_variant_size(alt_root, default_root):
    for root, side in ((alt_root, 160), (default_root, 128)):
        coco = load_json(root)
        for img in coco['images']:
            assert (img['width'], img['height']) == (side, side)
            with Image.open(osp.join(root, 'coco', 'train2014', img['file_name'])) as im:
                assert im.size == (side, side)


def test_masks_are_painted_in_the_variant_colours(alt_root):
    coco = load_json(alt_root)
    by_image = defaultdict(list)
    for ann in coco['annotations']:
        by_image[ann['image_id']].append(ann)
    for img in coco['images']:
        pixels = np.asarray(Image.open(osp.join(alt_root, 'coco', 'train2014',
                                                img['file_name']))).astype(int)
        for ann in by_image[img['id']]:
            seg = ann['segmentation']
            rle = mask_utils.merge(mask_utils.frPyObjects(seg, img['height'], img['width'])) \
                if isinstance(seg, list) else seg
            mask = mask_utils.decode(rle).astype(bool)
            assert mask.sum() == ann['area'] > 0
            nominal = np.array(ALT.colors[ann['attributes']['color']])
            assert np.abs(pixels[mask] - nominal).max() <= 30


def test_every_alt_sentence_fits_exactly_its_object(alt_root):
    for rel in ('refcoco/instances.json', 'coco/annotations/instances_train2014.json'):
        oracle = SyntheticOracle(osp.join(alt_root, rel))  # not told the variant
        assert oracle.variant == 'alt'
        for dataset in DATASETS:
            pairs = sentences(alt_root, dataset)
            assert pairs
            for ref, sentence in pairs:
                assert oracle.referents(ref['image_id'], sentence['raw']) == [ref['ann_id']]
                assert oracle.referents(ref['image_id'], sentence['sent']) == [ref['ann_id']]


def test_alt_sentences_use_no_default_shape_or_colour_word(alt_root):
    default_names = phrase_words(DEFAULT_WORDING.shapes) | phrase_words(DEFAULT_WORDING.colors)
    words = {w for dataset in DATASETS for _, s in sentences(alt_root, dataset)
             for w in s['tokens']}
    assert not words & default_names
    assert words <= ALT.lexicon.words | FILLERS
    assert words & set(ALT.shapes) and words & set(ALT.colors)
    # the variant's own size, location and relation words are used
    assert words & {'mini', 'miniature', 'giant', 'jumbo', 'massive', 'mid', 'midsize'}
    assert words & {'side', 'edge', 'upper', 'lower', 'hand', 'counting'}
    plus = {w for _, s in sentences(alt_root, 'refcoco+') for w in s['tokens']}
    assert not plus & ALT.location_words


def test_sentences_of_one_variant_are_not_understood_by_the_other(alt_root, default_root):
    """Each oracle understands its own variant's phrases only: every noun of one
    variant (shapes and the generic 'one'/'item'...) is unknown to the other, so a
    sentence of the other variant fits nothing."""
    alt_oracle = SyntheticOracle(osp.join(alt_root, 'refcoco', 'instances.json'))
    default_oracle = SyntheticOracle(osp.join(default_root, 'refcoco', 'instances.json'))
    assert default_oracle.variant == 'default' and default_oracle.lexicon is DEFAULT_LEXICON
    alt_image = sentences(alt_root)[0][0]['image_id']
    default_sentences = sentences(default_root)
    assert default_sentences
    for ref, sentence in default_sentences:
        assert default_oracle.referents(ref['image_id'], sentence['raw']) == [ref['ann_id']]
        assert alt_oracle.parse(sentence['raw']) is None, sentence['raw']
        assert alt_oracle.referents(alt_image, sentence['raw']) == []
    for _, sentence in sentences(alt_root):
        assert default_oracle.parse(sentence['raw']) is None, sentence['raw']


def scene(objects, info=None):
    """A hand-made alt instances dict: (ann_id, shape, color, size, x, y, w, h, occluded_by)."""
    anns = [dict(id=a, image_id=1, category_id=1, bbox=[x, y, w, h], area=float(w * h),
                 segmentation=[[x, y, x + w, y, x + w, y + h, x, y + h]], iscrowd=0,
                 attributes=dict(shape=s, color=c, size=z, occluded_by=occ))
            for a, s, c, z, x, y, w, h, occ in objects]
    return dict(info=info if info is not None else dict(variant='alt',
                                                        lexicon=ALT.lexicon.to_json()),
                images=[dict(id=1, file_name='x.png', height=160, width=160)],
                annotations=anns, categories=list(ALT.categories))


OBJECTS = [
    (11, 'hexagon', 'pink', 'small', 10, 10, 10, 10, []),  # centre (15, 15)
    (12, 'hexagon', 'pink', 'small', 50, 10, 10, 10, []),  # (55, 15)
    (13, 'hexagon', 'pink', 'large', 90, 60, 20, 20, []),  # (100, 70)
    (14, 'diamond', 'navy', 'medium', 40, 40, 20, 20, [15]),  # (50, 50), behind 15
    (15, 'arrow', 'lime', 'medium', 55, 45, 20, 20, []),  # (65, 55)
    (16, 'diamond', 'brown', 'medium', 10, 90, 20, 20, []),  # (20, 100)
]


@pytest.mark.parametrize('expression, expected', [
    ('hexagon', [11, 12, 13]),
    ('the giant pink hexagon', [13]),
    ('the hexagon at the left side', [11]),
    ('left-hand hexagon', [11]),
    ('the second hexagon counting from the left', [12]),
    ('the hexagon along the top edge', [11, 12]),  # tie in y
    ('the largest hexagon', [13]),
    ('the littlest hexagon', [11, 12]),  # tie in size
    ('the hexagon to the right of the lime item', [13]),
    ('the diamond beneath the arrow', [16]),
    ('the figure higher than the arrow', [11, 12, 14]),
    ('the hexagon beside the arrow', [13]),
    ('the diamond obscured by the arrow', [14]),
    ('the piece overlapping the navy rhombus', [15]),
    ('The mid-size brown diamond.', [16]),
    # default words are not the variant's
    ('the big red circle', []),
    ('the biggest hexagon', []),
    ('the hexagon on the left', []),
    ('the second hexagon from the left', []),
    ('the pink one', []),
])
def test_alt_oracle_semantics(expression, expected):
    assert SyntheticOracle(scene(OBJECTS)).referents(1, expression) == expected


def test_oracle_reads_any_recorded_lexicon():
    """A lexicon that no registered variant has is read from the file all the same."""
    table = dict(ALT.lexicon.to_json())
    table['octagon'] = ['NOUN', 'hexagon']
    oracle = SyntheticOracle(scene(OBJECTS, info=dict(variant='custom', lexicon=table)))
    assert oracle.variant == 'custom' and oracle.lexicon is not ALT.lexicon
    assert oracle.referents(1, 'the giant octagon') == [13]
    assert SyntheticOracle(scene(OBJECTS)).lexicon is ALT.lexicon  # shared parse cache


# ------------------------------------------------------------------ determinism, CLI
@pytest.mark.parametrize('variant', ['alt', 'default'])
def test_same_seed_is_byte_identical_whatever_the_workers_and_chunks(
        variant, alt_root, default_root, tmp_path, monkeypatch):
    """Several chunks from two workers give the files of one process: the refs
    pickles too, whose bytes depend on which strings are one object."""
    root = alt_root if variant == 'alt' else default_root
    monkeypatch.setattr(generator, 'CHUNK_SIZE', 8)
    again = generate(tmp_path / 'again', variant=variant, num_workers=2)
    for rel in OUTPUT_FILES:
        assert filecmp.cmp(osp.join(root, rel), osp.join(again, rel), shallow=False), rel
    images = sorted(os.listdir(osp.join(root, 'coco', 'train2014')))
    assert len(images) == NUM_IMAGES
    _, mismatch, errors = filecmp.cmpfiles(osp.join(root, 'coco', 'train2014'),
                                           osp.join(again, 'coco', 'train2014'), images,
                                           shallow=False)
    assert not mismatch and not errors


def test_same_splits_as_the_default_variant(alt_root, default_root):
    """The variant changes the surface, not the split plan of a seed."""
    default = default_root
    for root in (alt_root, default):
        assert len(load_json(root)['images']) == NUM_IMAGES
    split = {root: {r['image_id']: r['split'] for r in load_refs(root, 'refcoco')}
             for root in (alt_root, default)}
    common = split[alt_root].keys() & split[default].keys()
    assert common and all(split[alt_root][i] == split[default][i] for i in common)


def test_cli_variant(tmp_path):
    path = osp.join(REPO, 'tools', 'dataset_converters', 'make_synthetic_refcoco.py')
    spec = importlib.util.spec_from_file_location('make_synthetic_refcoco', path)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    summary = cli.main([str(tmp_path / 'alt'), '--num-images', '6', '--ref-image-ratio', '0.5',
                        '--variant', 'alt'])
    assert summary['images'] == 6
    coco = load_json(str(tmp_path / 'alt'))
    assert coco['info']['variant'] == 'alt' and coco['images'][0]['width'] == 160
    cli.main([str(tmp_path / 'small'), '--num-images', '2', '--variant', 'alt', '--img-size',
              '96'])
    assert load_json(str(tmp_path / 'small'))['images'][0]['width'] == 96
    with pytest.raises(SystemExit):
        cli.parse_args([str(tmp_path), '--variant', 'nope'])
    with pytest.raises(ValueError, match='unknown synthetic variant'):
        generate_synthetic_refcoco(str(tmp_path / 'x'), num_images=2, variant='nope')
