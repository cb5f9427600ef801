"""Writes the synthetic referring benchmark in the exact on-disk layout of RefCOCO.

(Every file of the layout is written here, in one place, so that the splits, ids and the
refs files cannot disagree with each other.)

Layout under ``out_dir``::

    coco/train2014/COCO_train2014_%012d.png        RGB images
    coco/annotations/instances_train2014.json      every image and annotation
    refcoco/instances.json                         the images with refs, all their annotations
    refcoco/refs(unc).p                            refs, pickle protocol 2
    refcoco+/instances.json                        same images as refcoco/
    refcoco+/refs(unc).p                           refs without location words

Splits (per image: all refs of an image share it). A share ``ref_image_ratio``
of the images carry refs; they are split into train / val / testA / testB with
``split_ratios``. As in RefCOCO, where testA images show mostly people and testB
mostly other objects, every scene has a *theme*: 75% of its shapes come from
group A (circle, square, triangle: supercategory ``basic``) or group B (star,
cross: ``symbol``). testA images are the test images of theme A, testB those of
theme B; train and val images (and the unannotated pool) have either theme with
equal probability, so training sees both. The other images form the pool of
unreferred instances (for generation supervision): their annotations are only in
``coco/annotations/instances_train2014.json``.

Variants (``variant='alt'``, ``'rough'``, :mod:`.variants`): the same scene
statistics, splits and grammar with other shapes, colours, words and image side. A
variant's categories and ``attributes`` carry its own shape and colour names, and
its json files record ``info['variant']`` and ``info['lexicon']`` (phrase ->
``[symbol, value]``), from which :class:`~.oracle.SyntheticOracle` parses its
expressions. The default variant writes neither key.

``'rough'`` also roughens the images: each draws its own side in
``Variant.img_sizes`` (144-224 px; each image record's ``height``/``width`` is its
own side, ``info['img_size']`` the largest side and ``info['img_sizes']`` the
range), its objects are relatively smaller, and a high-contrast background,
Gaussian noise and a JPEG round trip (the decoded pixels are saved, still as
``.png``) degrade the pixels. Its masks and polygons stay the exact geometric
ones, so for it alone the painted pixels no longer equal the masks bit for bit.
An explicit ``img_size`` fixes every side (no ``info['img_sizes']`` then).

Determinism: every image draws its scene and sentences from its own generator
seeded by ``(seed, 1, image index)``, what only photometric variants have (the
side, the contrast background, noise, JPEG quality) from a second one seeded by
``(seed, 2, image index)`` (never made for the other variants, so their files
are those they always were), and the split plan from one seeded by ``seed``
alone; ids are given in image order after all images are made, so the files are
byte-identical for a seed whatever the number of worker processes.
"""
import json
import math
import multiprocessing as mp
import os
import os.path as osp
import pickle
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pycocotools.mask as mask_utils
from PIL import Image

from mmrefmutual.datasets.text import normalize_expression
from .describe import ExpressionPlanner
from .grammar import scene_object_from_ann
from .oracle import SyntheticOracle
from .scene import render_scene, sample_objects
from .variants import Variant, get_variant

SPLITS: Tuple[str, ...] = ('train', 'val', 'testA', 'testB')
IMAGE_DIR = osp.join('coco', 'train2014')
COCO_ANN_FILE = osp.join('coco', 'annotations', 'instances_train2014.json')
FILE_NAME = 'COCO_train2014_{:012d}.png'
#: ann id = image id * ANN_ID_BASE + (1-based index of the object in its image).
ANN_ID_BASE = 100
#: Positions compared by a location word differ by at least this share of the image side.
MARGIN_FRAC = 0.05
#: Paraphrases per ref: uniform in [MIN_SENTENCES, MAX_SENTENCES].
MIN_SENTENCES, MAX_SENTENCES = 2, 4
#: Below this many images the pool of worker processes costs more than it saves.
MIN_IMAGES_PER_WORKER = 100
CHUNK_SIZE = 50


def _plan(num_images: int, ref_image_ratio: float, split_ratios: Sequence[float],
          seed: int) -> List[Tuple[Optional[str], str]]:
    """Split (None for the pool) and theme of every image.

    The split sizes are exact: ``round(n_ref * ratio)`` for val/testA/testB (at
    least one each once there are 4 ref images), the rest train.
    """
    rng = np.random.default_rng([seed])
    n_ref = int(round(num_images * ref_image_ratio))
    ref_indices = np.sort(rng.permutation(num_images)[:n_ref])
    counts = [int(round(n_ref * r)) for r in split_ratios[1:]]
    if n_ref >= len(SPLITS):
        counts = [max(1, c) for c in counts]
    counts = [n_ref - sum(counts)] + counts
    if counts[0] < 0:
        raise ValueError(f'split_ratios {tuple(split_ratios)} leave no train image')
    labels = np.repeat(np.arange(len(SPLITS)), counts)
    split_of = dict(zip(ref_indices[rng.permutation(n_ref)].tolist(), labels.tolist()))
    themes = rng.random(num_images) < 0.5
    plan = []
    for index in range(num_images):
        split = SPLITS[split_of[index]] if index in split_of else None
        if split == 'testA':
            theme = 'A'
        elif split == 'testB':
            theme = 'B'
        else:
            theme = 'A' if themes[index] else 'B'
        plan.append((split, theme))
    return plan


def _annotation(image_id: int, k: int, spec, polygon: List[float], visible: np.ndarray,
                occluded: bool, hider_ids: List[int], category_ids: Dict[str, int]) -> dict:
    """COCO annotation of the k-th (1-based) object of an image.

    Args:
        image_id (int): Image id.
        k (int): 1-based index of the object in drawing order.
        spec (ObjectSpec): The object.
        polygon (list[float]): Its full-shape polygon.
        visible (np.ndarray): ``(H, W)`` bool mask of its visible pixels.
        occluded (bool): Whether part of it is hidden.
        hider_ids (list[int]): ann ids of the objects noticeably hiding it.
        category_ids (dict): Shape name -> category id (of the variant).

    Returns:
        dict: The annotation; ``area`` and ``bbox`` are those of the visible
        mask, ``segmentation`` is the polygon if nothing hides the object and
        the RLE of the visible mask otherwise.
    """
    rle = mask_utils.encode(np.asfortranarray(visible.astype(np.uint8)))
    if occluded:
        # Only the visible part is the object's mask: store its RLE.
        segmentation = dict(size=[int(s) for s in rle['size']], counts=rle['counts'].decode())
    else:
        # Nothing covers it: its polygon rasterises to exactly the painted pixels.
        segmentation = [polygon]
    return dict(id=image_id * ANN_ID_BASE + k, image_id=image_id,
                category_id=category_ids[spec.shape], segmentation=segmentation,
                area=float(mask_utils.area(rle)),
                bbox=[float(v) for v in mask_utils.toBbox(rle)], iscrowd=0,
                attributes=dict(shape=spec.shape, color=spec.color, size=spec.size,
                                occluded_by=hider_ids))


def _make_image(index: int, split: Optional[str], theme: str, cfg: dict) -> dict:
    """Draw, render, save and (for ref images) describe one image.

    Args:
        index (int): 0-based image index (seeds the image's generator).
        split (str, optional): Its split, None for a pool image (no refs).
        theme (str): ``'A'`` or ``'B'``.
        cfg (dict): ``out_dir``, ``img_size`` (None: a side drawn in the
            variant's ``img_sizes``), ``seed``, ``min_objects``, ``max_objects``,
            ``variant`` (name).

    Returns:
        dict: ``image`` record, ``annotations``, ``split`` and ``refs``
        (``{'refcoco': [(ann_id, category_id, [raw, ...])], 'refcoco+': [...]}``).
    """
    img_size = cfg['img_size']
    variant = get_variant(cfg['variant'])
    image_id = index + 1
    rng = np.random.default_rng([cfg['seed'], 1, index])
    # Only a photometric variant gets a second generator: the others' streams, hence
    # their files, stay exactly as they were.
    photo_rng = np.random.default_rng([cfg['seed'], 2, index]) if variant.photometric else None
    if variant.img_sizes is not None:
        # drawn even when img_size is fixed: the rest of photo_rng does not depend on it
        side = int(photo_rng.integers(variant.img_sizes[0], variant.img_sizes[1] + 1))
        img_size = side if img_size is None else img_size
    num_objects = int(rng.integers(cfg['min_objects'], cfg['max_objects'] + 1))
    specs = sample_objects(rng, img_size, theme, num_objects, variant=variant)
    scene = render_scene(specs, img_size, rng, variant=variant, photo_rng=photo_rng)
    file_name = FILE_NAME.format(image_id)
    Image.fromarray(scene.image).save(
        osp.join(cfg['out_dir'], IMAGE_DIR, file_name), format='PNG', compress_level=1)
    image = dict(id=image_id, file_name=file_name, height=img_size, width=img_size)
    ann_ids = [image_id * ANN_ID_BASE + k + 1 for k in range(len(scene.objects))]
    anns = [
        _annotation(image_id, k + 1, spec, scene.polygons[k], scene.visible[k],
                    scene.occluded[k], [ann_ids[j] for j in scene.occluded_by[k]],
                    variant.category_ids)
        for k, spec in enumerate(scene.objects)
    ]
    refs: Dict[str, list] = {'refcoco': [], 'refcoco+': []}
    if split is not None:
        # The planner and the oracle both read the annotations exactly as written,
        # the oracle with the variant's words as they are recorded in the json files.
        objects = [scene_object_from_ann(a) for a in anns]
        oracle = SyntheticOracle(dict(info=_variant_info(variant), images=[image],
                                      annotations=anns))
        planner = ExpressionPlanner(objects, margin=MARGIN_FRAC * img_size,
                                    wording=variant.wording)
        for dataset, allow_location in (('refcoco', True), ('refcoco+', False)):
            for idx, ann in enumerate(anns):
                num = int(rng.integers(MIN_SENTENCES, MAX_SENTENCES + 1))
                raws = planner.sentences(idx, rng, allow_location, num)
                for raw in raws:
                    _verify(oracle, image_id, ann['id'], raw, allow_location,
                            variant.location_words)
                if raws:
                    refs[dataset].append((ann['id'], ann['category_id'], raws))
    return dict(image=image, annotations=anns, split=split, refs=refs)


def _verify(oracle: SyntheticOracle, image_id: int, ann_id: int, raw: str,
            allow_location: bool, location_words: frozenset) -> None:
    """Fail loudly if a generated sentence does not fit exactly its object."""
    found = oracle.referents(image_id, raw)
    if found != [ann_id]:
        raise RuntimeError(f'generated expression {raw!r} for ann {ann_id} of image {image_id} '
                           f'fits {found} according to the oracle')
    if not allow_location and (oracle.parse(raw).uses_location or location_words.intersection(
            normalize_expression(raw).split())):
        raise RuntimeError(f'RefCOCO+ expression {raw!r} uses location')


def _variant_info(variant: Variant) -> dict:
    """What a variant adds to ``info`` (nothing for the default: its files stay as
    they always were)."""
    if variant.name == 'default':
        return {}
    return dict(variant=variant.name, lexicon=variant.lexicon.to_json())


def _make_chunk(args: Tuple[List[Tuple[int, Optional[str], str]], dict]) -> List[dict]:
    """Make a chunk of images (``args``: ``(index, split, theme)`` tasks and the config)."""
    tasks, cfg = args
    return [_make_image(index, split, theme, cfg) for index, split, theme in tasks]


def _default_workers(num_images: int) -> int:
    """Worker processes: the usable CPUs (at most 8), fewer for small jobs."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8, num_images // MIN_IMAGES_PER_WORKER))


def _shared_strings(variant: Variant) -> Dict[str, str]:
    """The module-level strings a ref can hold, each mapped to itself.

    The pickle memo writes an object met twice as a back-reference, so the bytes of
    the refs file depend on which strings are one object. In one process the split
    names (:data:`SPLITS`) and a bare noun sentence (``'disc'``, a phrase of the
    wording's tables, returned as is) are shared constants; results that come back
    from worker processes carry one copy per chunk instead. Mapping the copies back
    to the constants makes the file the same whatever the number of workers.
    """
    strings = {split: split for split in SPLITS}
    for table in (variant.wording.sizes, variant.wording.colors, variant.wording.shapes):
        strings.update((phrase, phrase) for options in table.values() for phrase, _ in options)
    return strings


def _build_refs(results: Sequence[dict], dataset: str, variant: Variant) -> List[dict]:
    """RefCOCO-style refs of ``'refcoco'`` or ``'refcoco+'``; ref and sentence ids in
    image order."""
    shared = _shared_strings(variant)
    refs, sent_id = [], 0
    for res in results:
        stem = osp.splitext(res['image']['file_name'])[0]
        for ann_id, category_id, raws in res['refs'][dataset]:
            sentences = []
            for raw in raws:
                sent = normalize_expression(raw)
                sentences.append(dict(tokens=sent.split(), raw=shared.get(raw, raw),
                                      sent_id=sent_id, sent=sent))
                sent_id += 1
            refs.append(dict(sent_ids=[s['sent_id'] for s in sentences],
                             file_name=f'{stem}_{ann_id}.png', ann_id=ann_id,
                             ref_id=len(refs), image_id=res['image']['id'],
                             split=shared[res['split']], sentences=sentences,
                             category_id=category_id))
    return refs


def _write_text(text: str, path: str) -> None:
    """Write a text file (UTF-8)."""
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)


def _dumps(obj: dict) -> str:
    """Compact JSON, like the COCO and refer files."""
    return json.dumps(obj, separators=(',', ':'))


def generate_synthetic_refcoco(out_dir: str,
                               num_images: int = 5000,
                               ref_image_ratio: float = 0.25,
                               img_size: Optional[int] = None,
                               seed: int = 0,
                               min_objects: int = 3,
                               max_objects: int = 7,
                               split_ratios: Sequence[float] = (0.8, 0.1, 0.05, 0.05),
                               num_workers: Optional[int] = None,
                               variant: str = 'default') -> dict:
    """Generate the synthetic referring benchmark in the RefCOCO layout.

    Args:
        out_dir (str): Output root (created; existing files are overwritten).
        num_images (int): Images in total (with and without refs).
            Defaults to 5000.
        ref_image_ratio (float): Share of the images that carry refs, in
            ``[0, 1]``; the others form the unreferred pool. Defaults to 0.25
            (about RefCOCO's share of COCO train2014).
        img_size (int, optional): Side of the square images. Defaults to the
            variant's (128 for ``'default'``, 160 for ``'alt'``; for ``'rough'``
            each image draws its own side in 144-224). Given, it fixes the side
            of every image, for ``'rough'`` too.
        seed (int): Non-negative seed; the same seed gives byte-identical files.
            Defaults to 0.
        min_objects (int): Fewest objects drawn per scene (a few may then not
            fit or be dropped as mostly hidden). Defaults to 3.
        max_objects (int): Most objects per scene (below 100). Defaults to 7.
        split_ratios (Sequence[float]): Shares of train, val, testA and testB
            among the ref images. Defaults to ``(0.8, 0.1, 0.05, 0.05)``.
        num_workers (int, optional): Worker processes; None picks from the CPU
            count and ``num_images``. The output does not depend on it.
        variant (str): ``'default'`` or another name of
            :data:`~.variants.VARIANTS` (``'alt'``: other shapes, colours, words
            and image side; ``'rough'``: others again, more synonyms, and rougher
            images of varying side; see :mod:`.variants`). Defaults to
            ``'default'``.

    Returns:
        dict: Counts: ``images``, ``ref_images`` and ``pool_images``,
        ``annotations``, ``occluded_annotations`` (stored as RLE),
        ``images_per_split``, ``refs`` and ``sentences`` (per dataset,
        ``refcoco`` and ``refcoco+``).
    """
    spec = get_variant(variant)
    # None for a variant with a range of sides: each image draws its own.
    sides = spec.img_sizes if img_size is None else None
    if img_size is None and sides is None:
        img_size = spec.img_size
    if num_images < 1:
        raise ValueError(f'num_images must be positive, got {num_images}')
    if not 0.0 <= ref_image_ratio <= 1.0:
        raise ValueError(f'ref_image_ratio must be in [0, 1], got {ref_image_ratio}')
    if not 1 <= min_objects <= max_objects < ANN_ID_BASE:
        raise ValueError(f'need 1 <= min_objects <= max_objects < {ANN_ID_BASE}, got '
                         f'{min_objects}, {max_objects}')
    if img_size is not None and img_size < 32:
        raise ValueError(f'img_size must be at least 32, got {img_size}')
    if seed < 0:
        raise ValueError(f'seed must be non-negative, got {seed}')
    if len(split_ratios) != len(SPLITS) or any(r < 0 for r in split_ratios) or \
            not math.isclose(sum(split_ratios), 1.0, abs_tol=1e-6):
        raise ValueError(f'split_ratios must be 4 non-negative shares summing to 1, got '
                         f'{tuple(split_ratios)}')

    for sub in (IMAGE_DIR, osp.dirname(COCO_ANN_FILE), 'refcoco', 'refcoco+'):
        os.makedirs(osp.join(out_dir, sub), exist_ok=True)
    plan = _plan(num_images, ref_image_ratio, split_ratios, seed)
    cfg = dict(out_dir=out_dir, img_size=img_size, seed=seed, min_objects=min_objects,
               max_objects=max_objects, variant=spec.name)
    tasks = [(index, split, theme) for index, (split, theme) in enumerate(plan)]
    chunks = [(tasks[i:i + CHUNK_SIZE], cfg) for i in range(0, len(tasks), CHUNK_SIZE)]
    workers = _default_workers(num_images) if num_workers is None else max(1, num_workers)
    if workers > 1:
        # fork: workers start at once and need not re-import the package.
        method = 'fork' if 'fork' in mp.get_all_start_methods() else 'spawn'
        with mp.get_context(method).Pool(workers) as pool:
            results = [r for chunk in pool.imap(_make_chunk, chunks) for r in chunk]
    else:
        results = [r for chunk in map(_make_chunk, chunks) for r in chunk]

    # With a range of sides, img_size records the largest and img_sizes the range.
    sizes_info = {} if sides is None else dict(img_sizes=list(sides))
    info = dict(description='mmrefmutual synthetic referring benchmark (RefCOCO layout)',
                version='1.0', seed=seed, num_images=num_images,
                ref_image_ratio=ref_image_ratio,
                img_size=img_size if sides is None else max(sides), **sizes_info,
                **_variant_info(spec))
    categories = [dict(c) for c in spec.categories]
    all_anns = [a for r in results for a in r['annotations']]
    _write_text(_dumps(dict(info=info, licenses=[], images=[r['image'] for r in results],
                            annotations=all_anns, categories=categories)),
                osp.join(out_dir, COCO_ANN_FILE))
    # An object that RefCOCO+ can single out can be singled out with location
    # too, so the RefCOCO refs cover every image that has refs at all.
    referred = [r for r in results if r['refs']['refcoco']]
    ref_coco = _dumps(dict(info=info, licenses=[], images=[r['image'] for r in referred],
                           annotations=[a for r in referred for a in r['annotations']],
                           categories=categories))
    summary = dict(images=num_images, ref_images=len(referred),
                   pool_images=num_images - len(referred), annotations=len(all_anns),
                   occluded_annotations=sum(isinstance(a['segmentation'], dict)
                                            for a in all_anns),
                   images_per_split=dict(Counter(r['split'] for r in referred)),
                   refs={}, sentences={})
    for dataset in ('refcoco', 'refcoco+'):
        refs = _build_refs(results, dataset, spec)
        _write_text(ref_coco, osp.join(out_dir, dataset, 'instances.json'))
        with open(osp.join(out_dir, dataset, 'refs(unc).p'), 'wb') as f:
            # protocol 2, like the Python 2 era originals.
            pickle.dump(refs, f, protocol=2)
        summary['refs'][dataset] = len(refs)
        summary['sentences'][dataset] = sum(len(r['sentences']) for r in refs)
    return summary
