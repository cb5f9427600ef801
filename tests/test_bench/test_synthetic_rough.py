"""The ``'rough'`` variant of the synthetic benchmark (a held-out benchmark: own shapes,
colours and synonyms; images of varying side, smaller objects, noise and JPEG), and the
default and alt variants' files staying exactly what they were."""
import filecmp
import hashlib
import importlib.util
import json
import os
import os.path as osp
import pickle
from collections import Counter, defaultdict

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from PIL import Image

from mmrefmutual_bench.synthetic import DEFAULT_LEXICON, SyntheticOracle, parse, realise
from mmrefmutual_bench.synthetic import generator
from mmrefmutual_bench.synthetic.generator import generate_synthetic_refcoco
from mmrefmutual_bench.synthetic.grammar import DEFAULT_WORDING, FILLERS, lexicon_of_wording
from mmrefmutual_bench.synthetic.scene import (ObjectSpec, _background, _contrast_background,
                                               render_scene, shape_polygon)
from mmrefmutual_bench.synthetic.variants import (ALT, DEFAULT, ROUGH, SIZE_RADIUS, VARIANTS,
                                                  Variant, get_variant)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NUM_IMAGES, RATIO = 30, 0.6
DATASETS = ('refcoco', 'refcoco+')
OUTPUT_FILES = ('coco/annotations/instances_train2014.json', 'refcoco/instances.json',
                'refcoco/refs(unc).p', 'refcoco+/instances.json', 'refcoco+/refs(unc).p')
#: Hash (:func:`tree_hash`) of ``generate_synthetic_refcoco(num_images=12,
#: ref_image_ratio=0.6, seed=5, variant=...)``, computed with the code from before the
#: rough variant (commit c775196): the default and alt files must never change.
FROZEN_HASHES = {
    'default': '9233f5ff974431cf5c5f40d403412d5a3546a8609740747449886f50419db920',
    'alt': 'dc8f0bd6a36c5fcf5ff03fd9f6a380cbeb247fa9fc2b15abb610cc52cf1fc42d',
}


def generate(root, variant='rough', seed=0, num_workers=1, num_images=NUM_IMAGES, **kwargs):
    generate_synthetic_refcoco(str(root), num_images=num_images, ref_image_ratio=RATIO,
                               seed=seed, num_workers=num_workers, variant=variant, **kwargs)
    return str(root)


def load_json(root, rel='coco/annotations/instances_train2014.json'):
    with open(osp.join(root, rel)) as f:
        return json.load(f)


def load_refs(root, dataset):
    with open(osp.join(root, dataset, 'refs(unc).p'), 'rb') as f:
        return pickle.load(f)


def sentences(root, dataset='refcoco'):
    return [(ref, s) for ref in load_refs(root, dataset) for s in ref['sentences']]


def load_image(root, img):
    with Image.open(osp.join(root, 'coco', 'train2014', img['file_name'])) as im:
        assert im.format == 'PNG' and im.mode == 'RGB'
        return np.asarray(im).astype(float)


def decode(ann, img):
    seg = ann['segmentation']
    rle = mask_utils.merge(mask_utils.frPyObjects(seg, img['height'], img['width'])) \
        if isinstance(seg, list) else seg
    return mask_utils.decode(rle).astype(bool)


def erode(mask, steps=2):
    """The mask without its outer ``steps`` pixels (4-neighbourhood)."""
    for _ in range(steps):
        inner = mask.copy()
        inner[1:] &= mask[:-1]
        inner[:-1] &= mask[1:]
        inner[:, 1:] &= mask[:, :-1]
        inner[:, :-1] &= mask[:, 1:]
        inner[[0, -1], :] = False
        inner[:, [0, -1]] = False
        mask = inner
    return mask


def tree_hash(root):
    """sha256 over every file of a generated tree: the json and pickle bytes, and the
    decoded pixels of the PNGs (not their bytes, which depend on the zlib build)."""
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            path = osp.join(dirpath, name)
            h.update(osp.relpath(path, root).replace(os.sep, '/').encode() + b'\0')
            if name.endswith('.png'):
                with Image.open(path) as im:
                    pixels = np.asarray(im)
                h.update(f'{im.format} {im.mode} {pixels.shape}'.encode())
                h.update(np.ascontiguousarray(pixels).tobytes())
            else:
                with open(path, 'rb') as f:
                    h.update(f.read())
    return h.hexdigest()


def phrase_words(table):
    return {w for options in table.values() for phrase, _ in options
            for w in phrase.lower().replace('-', ' ').split()}


@pytest.fixture(scope='module')
def rough_root(tmp_path_factory):
    return generate(tmp_path_factory.mktemp('synthetic_rough'))


@pytest.fixture(scope='module')
def default_root(tmp_path_factory):
    return generate(tmp_path_factory.mktemp('synthetic_default'), variant='default')


# ------------------------------------------------------------------ the variant itself
def test_rough_is_registered_with_its_own_names_and_settings():
    assert get_variant('rough') is ROUGH is VARIANTS['rough']
    assert ROUGH.shapes == ('oval', 'rectangle', 'pentagon', 'chevron', 'tee')
    assert tuple(ROUGH.colors) == ('maroon', 'teal', 'magenta', 'olive', 'salmon', 'black')
    for other in (DEFAULT, ALT):
        assert not set(ROUGH.shapes) & set(other.shapes)
        assert not set(ROUGH.colors) & set(other.colors)
        assert not set(ROUGH.colors.values()) & set(other.colors.values())
        assert {c['supercategory'] for c in ROUGH.categories}.isdisjoint(
            c['supercategory'] for c in other.categories)
    assert [c['id'] for c in ROUGH.categories] == [c['id'] for c in DEFAULT.categories]
    assert ROUGH.themes == {'A': ('oval', 'rectangle', 'pentagon'), 'B': ('chevron', 'tee')}
    assert ROUGH.img_sizes == (144, 224) and ROUGH.img_size == 224
    assert ROUGH.size_radius == {'small': 0.055, 'medium': 0.085, 'large': 0.125}
    assert ROUGH.color_jitter == 30 and ROUGH.noise_std == 6.0
    assert ROUGH.jpeg_quality == (60, 90) and ROUGH.background == 'contrast'
    assert ROUGH.photometric
    # the other variants keep the defaults of the new fields: their former behaviour
    for other in (DEFAULT, ALT):
        assert other.size_radius == SIZE_RADIUS == {'small': 0.065, 'medium': 0.1,
                                                    'large': 0.145}
        assert other.img_sizes is None and other.color_jitter == 12
        assert other.background == 'soft' and other.noise_std == 0.0
        assert other.jpeg_quality is None and not other.photometric


def test_rough_colours_are_far_apart_and_from_the_background():
    """Even after +-30 jitter per channel, two rough colours differ by at least 45 in some
    channel (the closest pair: maroon / olive), and every colour by at least 30 from every
    grey of the backgrounds (85-195)."""
    rgb = np.array(list(ROUGH.colors.values()), dtype=int)
    greys = np.arange(85, 196)[:, None]
    for i in range(len(rgb)):
        for j in range(i + 1, len(rgb)):
            assert np.abs(rgb[i] - rgb[j]).max() - 2 * ROUGH.color_jitter >= 45
        assert np.abs(rgb[i][None, :] - greys).max(axis=1).min() - ROUGH.color_jitter >= 30


def test_rough_shapes_are_drawn_as_their_own_polygons():
    """Each rough shape has its own polygon with the area of its size class; at the same
    place and area no rough shape overlaps another shape of any variant by an IoU of
    0.85 or more (the closest pairs: pentagon / circle 0.845, oval / diamond 0.834)."""

    def mask(shape):
        spec = ObjectSpec(shape, 'x', 'large', 100.0, 100.0, 40.0, 0.0, (0, 0, 0))
        rle = mask_utils.frPyObjects([shape_polygon(spec)], 200, 200)
        return mask_utils.decode(rle)[:, :, 0].astype(bool)

    shapes = DEFAULT.shapes + ALT.shapes + ROUGH.shapes
    masks = {s: mask(s) for s in shapes}
    for a in ROUGH.shapes:
        assert abs(masks[a].sum() / (np.pi * 40.0**2) - 1) < 0.02, a  # equal area
        for d in shapes:
            if d != a:
                iou = (masks[a] & masks[d]).sum() / (masks[a] | masks[d]).sum()
                assert iou < 0.85, (a, d, iou)
    # the oval stands upright, the rectangle lies flat
    rows, cols = np.nonzero(masks['oval'])
    assert np.ptp(rows) > 1.5 * np.ptp(cols)
    rows, cols = np.nonzero(masks['rectangle'])
    assert np.ptp(cols) > 1.8 * np.ptp(rows)


def test_rough_words_are_other_words():
    rough_words = ROUGH.lexicon.words
    for wording in (DEFAULT_WORDING, ALT.wording):
        names = phrase_words(wording.shapes) | phrase_words(wording.colors)
        assert not names & rough_words  # no shape, colour or generic noun
        sizes = phrase_words(wording.sizes) - {'sized', 'size'}
        assert not sizes & phrase_words(ROUGH.wording.sizes)  # ('medium sized', 'normal sized')
        assert ROUGH.wording.ordinal != wording.ordinal
    # Shared phrases: only the ordinals and a few superlatives English has no other
    # words for. Every size, extreme, relation and 'from' phrase is rough's own.
    shared = {' '.join(k) for k in set(ROUGH.lexicon.table) & (
        set(DEFAULT_LEXICON.table) | set(ALT.lexicon.table))}
    assert shared == {'first', 'second', 'third', 'fourth', 'fifth', '1st', '2nd', '3rd', '4th',
                      '5th', 'bigger', 'biggest', 'tiniest'}
    assert not FILLERS & rough_words
    # several synonyms per shape where English has them, and for colours and sizes
    assert [len(ROUGH.wording.shapes[s]) for s in ROUGH.shapes] == [3, 3, 1, 2, 2]
    assert all(len(options) >= 3 for options in ROUGH.wording.sizes.values())
    assert sum(len(options) >= 2 for options in ROUGH.wording.colors.values()) >= 4
    assert lexicon_of_wording(ROUGH.wording).table == ROUGH.lexicon.table
    assert {'border', 'starting', 'further', 'extreme', 'upmost', 'lowermost', 'spot',
            'over', 'under'} <= ROUGH.location_words
    assert not {'near', 'alongside', 'close', 'to', 'blocked', 'blocking'} & \
        ROUGH.location_words


def _variant_tests():
    """tests/test_bench/test_synthetic_variant.py (its random expressions serve both
    variants; pytest's importlib mode puts no test folder on sys.path)."""
    path = osp.join(osp.dirname(osp.abspath(__file__)), 'test_synthetic_variant.py')
    spec = importlib.util.spec_from_file_location('test_synthetic_variant_helpers', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


random_expression = _variant_tests().random_expression


def test_rough_realise_parse_round_trip():
    rng = np.random.default_rng(0)
    for _ in range(1500):
        expr = random_expression(rng, ROUGH)
        raw = realise(expr, rng, num_candidates=int(rng.integers(2, 4)), wording=ROUGH.wording)
        assert ROUGH.lexicon.parse(raw) == expr, raw
        assert parse(raw) is None and ALT.lexicon.parse(raw) is None, raw


def scene(objects):
    """A hand-made rough instances dict: (ann_id, shape, color, size, x, y, w, h, occluded_by)."""
    anns = [dict(id=a, image_id=1, category_id=1, bbox=[x, y, w, h], area=float(w * h),
                 segmentation=[[x, y, x + w, y, x + w, y + h, x, y + h]], iscrowd=0,
                 attributes=dict(shape=s, color=c, size=z, occluded_by=occ))
            for a, s, c, z, x, y, w, h, occ in objects]
    return dict(info=dict(variant='rough', lexicon=ROUGH.lexicon.to_json()),
                images=[dict(id=1, file_name='x.png', height=200, width=200)],
                annotations=anns, categories=list(ROUGH.categories))


OBJECTS = [
    (11, 'oval', 'maroon', 'small', 10, 10, 10, 10, []),  # centre (15, 15)
    (12, 'oval', 'maroon', 'small', 50, 10, 10, 10, []),  # (55, 15)
    (13, 'oval', 'maroon', 'large', 90, 60, 20, 20, []),  # (100, 70)
    (14, 'rectangle', 'black', 'medium', 40, 40, 20, 20, [15]),  # (50, 50), behind 15
    (15, 'tee', 'teal', 'medium', 55, 45, 20, 20, []),  # (65, 55)
    (16, 'rectangle', 'salmon', 'medium', 10, 90, 20, 20, []),  # (20, 100)
    (17, 'chevron', 'magenta', 'small', 150, 150, 10, 10, []),  # (155, 155)
]


@pytest.mark.parametrize('expression, expected', [
    ('oval', [11, 12, 13]),
    ('the egg', [11, 12, 13]),
    ('the ellipse', [11, 12, 13]),
    ('the enormous burgundy egg', [13]),
    ('the hefty oval', [13]),
    ('the oversized maroon ellipse', [13]),
    ('teeny ovals', []),  # plural: not a word of the grammar
    ('the petite oval by the left border', [11]),
    ('the undersized oval toward the left border', [11]),
    ('extreme-left oval', [11]),
    ('the oval in the leftmost spot', [11]),
    ('the second oval starting from the left', [12]),
    ('the 2nd egg starting from the left.', [12]),
    ('the upmost oval', [11, 12]),  # tie in y
    ('the biggest oval', [13]),
    ('the most enormous ellipse', [13]),
    ('the tiniest oval', [11, 12]),  # tie in size
    ('the teeniest egg', [11, 12]),
    ('the oval further right than the teal form', [13]),
    ('the oval more to the right than the letter T', [13]),
    ('the bar under the tee', [16]),
    ('the oblong further down than the tee', [16]),
    ('the element over the teal tee', [11, 12, 14]),
    ('the oval near the tee', [13]),
    ('the oval alongside the letter t', [13]),
    ('the jet black bar', [14]),
    ('the black rectangle partly blocked by the tee', [14]),
    ('the entity blocking the black oblong', [15]),
    ('The normal-sized coral bar.', [16]),
    ('the intermediate salmon rectangle', [16]),
    ('the fuchsia arrowhead', [17]),
    ('the magenta chevron', [17]),
    ('the lowermost form', [17]),
    # other variants' words are not rough's
    ('the big red circle', []),
    ('the oval on the left', []),
    ('the giant maroon oval', []),
    ('the maroon one', []),
    ('the second oval from the left', []),
])
def test_rough_oracle_accepts_its_synonyms(expression, expected):
    assert SyntheticOracle(scene(OBJECTS)).referents(1, expression) == expected


def test_render_scene_needs_a_photo_rng_for_rough():
    with pytest.raises(ValueError, match='photo_rng'):
        render_scene([], 64, np.random.default_rng(0), variant=ROUGH)


def test_contrast_background_has_more_contrast_than_the_soft_one():
    def spread(make):
        return np.mean([np.ptp(make(np.random.default_rng([7, i]), 160).mean(axis=2))
                        for i in range(20)])

    soft, contrast = spread(_background), spread(_contrast_background)
    assert contrast > 2.5 * soft and contrast > 40
    bg = _contrast_background(np.random.default_rng(1), 150)
    assert bg.shape == (150, 150, 3) and 85 <= bg.min() and bg.max() <= 195


# ------------------------------------------------------------------ generated files
def test_rough_images_have_varying_sides_matching_the_json(rough_root):
    coco = load_json(rough_root)
    sides = []
    for img in coco['images']:
        assert img['height'] == img['width']
        assert 144 <= img['width'] <= 224
        with Image.open(osp.join(rough_root, 'coco', 'train2014', img['file_name'])) as im:
            assert im.format == 'PNG' and im.size == (img['width'], img['height'])
        sides.append(img['width'])
    assert len(set(sides)) >= NUM_IMAGES // 2 and max(sides) - min(sides) >= 50
    for rel in OUTPUT_FILES[:2] + OUTPUT_FILES[3:4]:
        info = load_json(rough_root, rel)['info']
        assert info['variant'] == 'rough' and info['lexicon'] == ROUGH.lexicon.to_json()
        assert info['img_size'] == 224 and info['img_sizes'] == [144, 224]
    # the refcoco images are the same records
    by_id = {img['id']: img for img in coco['images']}
    for img in load_json(rough_root, 'refcoco/instances.json')['images']:
        assert img == by_id[img['id']]
    assert coco['categories'] == [dict(c) for c in ROUGH.categories]


def test_rough_objects_are_relatively_smaller(rough_root, default_root):
    """The equal-area radius of an unoccluded object over its image side is its size
    class's (+-7% drawn, a little raster error)."""
    for root, radius in ((rough_root, ROUGH.size_radius), (default_root, SIZE_RADIUS)):
        coco = load_json(root)
        side = {img['id']: img['width'] for img in coco['images']}
        ratios = defaultdict(list)
        for ann in coco['annotations']:
            if isinstance(ann['segmentation'], list):  # unoccluded
                ratios[ann['attributes']['size']].append(
                    np.sqrt(ann['area'] / np.pi) / side[ann['image_id']])
        for size, values in ratios.items():
            assert abs(np.median(values) / radius[size] - 1) < 0.04, (root, size)
            assert 0.88 < min(values) / radius[size] and max(values) / radius[size] < 1.1


def test_every_rough_sentence_fits_exactly_its_object(rough_root):
    oracle = SyntheticOracle(osp.join(rough_root, 'refcoco', 'instances.json'))
    assert oracle.variant == 'rough' and oracle.lexicon is ROUGH.lexicon
    words = Counter()
    for dataset in DATASETS:
        pairs = sentences(rough_root, dataset)
        assert len(pairs) > 100
        for ref, sentence in pairs:
            assert oracle.referents(ref['image_id'], sentence['raw']) == [ref['ann_id']]
            assert oracle.referents(ref['image_id'], sentence['sent']) == [ref['ann_id']]
            assert parse(sentence['raw']) is None  # not a default sentence
            words.update(sentence['tokens'])
            if dataset == 'refcoco+':
                assert not ROUGH.location_words & set(sentence['tokens'])
                assert not oracle.parse(sentence['raw']).uses_location
    assert set(words) <= ROUGH.lexicon.words | FILLERS
    # the synonyms are used, not only the first word of each table
    assert len({'ellipse', 'egg', 'bar', 'oblong', 'arrowhead', 'letter'} & set(words)) >= 3
    assert len({'burgundy', 'fuchsia', 'coral', 'jet'} & set(words)) >= 2
    assert len({'teeny', 'petite', 'undersized', 'normal', 'intermediate', 'enormous',
                'oversized', 'hefty'} & set(words)) >= 5
    assert {'border', 'starting'} & set(words)


def test_rough_images_are_noisy_and_keep_their_colours(rough_root, default_root):
    """Inside a large object (its mask less a 2 px border, where JPEG bleeds), the
    default's pixels are one exact colour while the rough ones vary (noise sigma 6, after
    JPEG); in both the mean stays within the colour jitter of the nominal colour."""
    for root, variant in ((rough_root, ROUGH), (default_root, DEFAULT)):
        coco = load_json(root)
        images = {img['id']: img for img in coco['images']}
        pixels = {}
        stds = []
        for ann in coco['annotations']:
            if ann['area'] < 400:
                continue
            img = images[ann['image_id']]
            if img['id'] not in pixels:
                pixels[img['id']] = load_image(root, img)
            inner = erode(decode(ann, img))
            if inner.sum() < 50:
                continue
            values = pixels[img['id']][inner]
            stds.append(values.std(axis=0).mean())
            nominal = np.array(variant.colors[ann['attributes']['color']])
            assert np.abs(values.mean(axis=0) - nominal).max() <= variant.color_jitter + 6
        assert len(stds) >= 40
        if variant is DEFAULT:
            assert max(stds) == 0.0
        else:
            assert min(stds) > 1.0 and np.median(stds) > 3.0


@pytest.mark.parametrize('variant', ['default', 'alt'])
def test_default_and_alt_files_are_unchanged(variant, tmp_path):
    generate_synthetic_refcoco(str(tmp_path), num_images=12, ref_image_ratio=0.6, seed=5,
                               num_workers=1, variant=variant)
    assert tree_hash(str(tmp_path)) == FROZEN_HASHES[variant]


def test_rough_same_seed_is_byte_identical_whatever_the_workers(rough_root, tmp_path,
                                                                 monkeypatch):
    monkeypatch.setattr(generator, 'CHUNK_SIZE', 8)
    again = generate(tmp_path / 'again', num_workers=2)
    for rel in OUTPUT_FILES:
        assert filecmp.cmp(osp.join(rough_root, rel), osp.join(again, rel), shallow=False), rel
    images = sorted(os.listdir(osp.join(rough_root, 'coco', 'train2014')))
    assert len(images) == NUM_IMAGES
    _, mismatch, errors = filecmp.cmpfiles(osp.join(rough_root, 'coco', 'train2014'),
                                           osp.join(again, 'coco', 'train2014'), images,
                                           shallow=False)
    assert not mismatch and not errors


def test_rough_scenes_differ_from_the_default_only_in_their_surface(rough_root, default_root):
    """Same split plan as the default for a seed (the variant changes the images, not the
    splits)."""
    split = {root: {r['image_id']: r['split'] for r in load_refs(root, 'refcoco')}
             for root in (rough_root, default_root)}
    common = split[rough_root].keys() & split[default_root].keys()
    assert common and all(split[rough_root][i] == split[default_root][i] for i in common)


def test_cli_rough_and_an_explicit_img_size_fixes_every_side(tmp_path):
    path = osp.join(REPO, 'tools', 'dataset_converters', 'make_synthetic_refcoco.py')
    spec = importlib.util.spec_from_file_location('make_synthetic_refcoco', path)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    assert cli.parse_args([str(tmp_path), '--variant', 'rough']).variant == 'rough'
    cli.main([str(tmp_path / 'fixed'), '--num-images', '6', '--ref-image-ratio', '0.5',
              '--variant', 'rough', '--img-size', '160'])
    coco = load_json(str(tmp_path / 'fixed'))
    assert coco['info']['variant'] == 'rough' and coco['info']['img_size'] == 160
    assert 'img_sizes' not in coco['info']
    for img in coco['images']:
        assert (img['width'], img['height']) == (160, 160)
        assert load_image(str(tmp_path / 'fixed'), img).shape == (160, 160, 3)


def test_a_variant_with_only_some_roughness_keeps_the_default_scenes(tmp_path):
    """The photometric randomness comes from a generator of its own: a variant that only
    adds noise draws the default's scenes and sentences, and the same pixels up to the
    noise."""
    noisy = DEFAULT._replace(name='noisy', noise_std=6.0)
    assert isinstance(noisy, Variant) and noisy.photometric
    for index in range(3):
        images = []
        for variant in (DEFAULT, noisy):
            rng = np.random.default_rng([0, 1, index])
            specs = generator.sample_objects(rng, 128, 'A', 5, variant=variant)
            photo = np.random.default_rng([0, 2, index]) if variant.photometric else None
            images.append(render_scene(specs, 128, rng, variant=variant, photo_rng=photo))
            images[-1] = (images[-1], rng.random())  # the stream goes on alike
        (clean, after_clean), (noised, after_noised) = images
        assert clean.objects == noised.objects and after_clean == after_noised
        diff = noised.image.astype(float) - clean.image
        assert 4 < diff.std() < 8 and abs(diff.mean()) < 1
