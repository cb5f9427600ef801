"""Scenes of the synthetic benchmark: sampling, shape geometry and rendering.

(Sampling, geometry and rendering stay in one file on purpose: the painted pixels must equal
the stored masks, so the polygon code and the painter must not drift apart.)

Rendering goes through pycocotools on purpose: every shape is a polygon that
``pycocotools.mask.frPyObjects`` rasterises, and the image is painted from
exactly those rasters (later objects over earlier ones). So the mask a consumer
decodes from an annotation (the stored polygon for an unoccluded object, the RLE
of the visible pixels for an occluded one) is the set of pixels painted with
that object's colour, bit for bit.

Except for a variant with photometric roughness (``'rough'``: ``noise_std`` and
``jpeg_quality`` of :class:`~.variants.Variant`): its objects are painted from the
same rasters, then Gaussian noise and a JPEG round trip degrade the whole image
(colours vary inside an object and bleed a pixel or two across its border). Its
masks stay the exact geometric ones, the painted pixels no longer equal them bit
for bit.
"""
import io
import math
from typing import List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import pycocotools.mask as mask_utils
from PIL import Image

from .grammar import SIZES
from .variants import DEFAULT, VARIANTS, Variant

#: Equal-area radius of each size class, as a fraction of the image side: the
#: default variant's (each variant has its own, :attr:`~.variants.Variant.size_radius`).
SIZE_RADIUS = DEFAULT.size_radius

#: Share of a scene's shapes drawn from its theme group (``Variant.themes``; the
#: testA / testB split uses the themes).
THEME_WEIGHT = 0.75
CIRCLE_VERTICES = 32
#: Half-width of a cross arm, relative to the arm length (centre to tip).
CROSS_ARM = 0.35
#: Inner radius of a star, relative to its outer radius.
STAR_INNER = 0.5
#: Half-width of a diamond, relative to its half-height.
DIAMOND_WIDTH = 0.6
#: Inner circle of a crescent (radius, centre offset), relative to the outer radius.
CRESCENT_INNER = (0.8, 0.5)
#: Arrow: half-width of the head, half-width of the shaft and height of the head
#: (relative to the half-length).
ARROW_HEAD, ARROW_SHAFT, ARROW_HEAD_LENGTH = 0.7, 0.3, 0.8
HEART_VERTICES = 40
#: Width of an oval relative to its height (it stands upright, like an egg).
OVAL_ASPECT = 0.6
#: Height of a rectangle relative to its width (it lies flat, like a bar).
RECTANGLE_ASPECT = 0.5
#: Chevron pointing up: vertical thickness of its arms, relative to their
#: horizontal reach (centre to tip).
CHEVRON_THICKNESS = 0.7
#: Tee: height of its bar and width of its stem, relative to the bar's width.
TEE_BAR, TEE_STEM = 0.28, 0.28
#: Shapes that look the same at any angle: drawn unrotated.
UNROTATED = frozenset({'circle'})


class ObjectSpec(NamedTuple):
    """One object to draw. ``radius`` is the equal-area radius (so the size
    class is about area whatever the shape), ``angle`` in radians."""
    shape: str
    color: str
    size: str
    cx: float
    cy: float
    radius: float
    angle: float
    rgb: Tuple[int, int, int]


class RenderedScene(NamedTuple):
    """A rendered image and its kept objects, in drawing order.

    Attributes:
        image (np.ndarray): ``(H, W, 3)`` uint8 RGB.
        objects (list[ObjectSpec]): The objects left after dropping the
            mostly hidden ones (dropped objects are not drawn at all).
        polygons (list[list[float]]): Flat polygon of each object's full shape.
        visible (list[np.ndarray]): ``(H, W)`` bool mask of the pixels showing
            each object.
        occluded (list[bool]): Whether a later object hides part of it.
        occluded_by (list[list[int]]): Indices (in ``objects``) of the later
            objects whose visible pixels cover a noticeable part of its full
            shape (see :func:`render_scene`).
    """
    image: np.ndarray
    objects: List[ObjectSpec]
    polygons: List[List[float]]
    visible: List[np.ndarray]
    occluded: List[bool]
    occluded_by: List[List[int]]


def _unit_vertices(shape: str) -> np.ndarray:
    """Vertices ``(N, 2)`` of a shape of circumradius 1, centred, pointing up
    (y grows downwards); every variant's shapes are here."""
    if shape == 'circle':
        t = np.arange(CIRCLE_VERTICES) * (2 * math.pi / CIRCLE_VERTICES)
        return np.stack([np.cos(t), np.sin(t)], axis=1)
    if shape == 'square':
        t = math.pi / 4 + np.arange(4) * (math.pi / 2)
        return np.stack([np.cos(t), np.sin(t)], axis=1)
    if shape == 'triangle':
        t = -math.pi / 2 + np.arange(3) * (2 * math.pi / 3)
        return np.stack([np.cos(t), np.sin(t)], axis=1)
    if shape == 'star':
        t = -math.pi / 2 + np.arange(10) * (math.pi / 5)
        r = np.where(np.arange(10) % 2 == 0, 1.0, STAR_INNER)
        return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)
    if shape == 'cross':
        # 12-gon: the arm half-width is `a` and the arm tips reach x (or y) = 1, so
        # the circumradius is hypot(1, a); scale to circumradius 1.
        a = CROSS_ARM
        pts = np.array([(-a, -1), (a, -1), (a, -a), (1, -a), (1, a), (a, a), (a, 1), (-a, 1),
                        (-a, a), (-1, a), (-1, -a), (-a, -a)], dtype=float)
        return pts / math.hypot(1.0, a)
    if shape == 'hexagon':
        t = -math.pi / 2 + np.arange(6) * (math.pi / 3)
        return np.stack([np.cos(t), np.sin(t)], axis=1)
    if shape == 'diamond':
        w = DIAMOND_WIDTH
        return np.array([(0, -1), (w, 0), (0, 1), (-w, 0)], dtype=float)
    if shape == 'crescent':
        # The unit disc minus a disc of radius r centred at (d, 0): the outer arc
        # between the two circles' crossings, back along the inner arc; horns right.
        r, d = CRESCENT_INNER
        x = (1 - r * r + d * d) / (2 * d)
        outer_start = math.atan2(math.sqrt(1 - x * x), x)
        inner_start = math.atan2(math.sqrt(1 - x * x), x - d)
        t = np.linspace(outer_start, 2 * math.pi - outer_start, 25)
        u = np.linspace(2 * math.pi - inner_start, inner_start, 17)[1:-1]
        pts = np.concatenate([np.stack([np.cos(t), np.sin(t)], axis=1),
                              np.stack([d + r * np.cos(u), r * np.sin(u)], axis=1)])
        return _centre_and_scale(pts)
    if shape == 'arrow':
        h, s, y = ARROW_HEAD, ARROW_SHAFT, -1 + ARROW_HEAD_LENGTH
        pts = np.array([(0, -1), (h, y), (s, y), (s, 1), (-s, 1), (-s, y), (-h, y)],
                       dtype=float)
        return _centre_and_scale(pts)
    if shape == 'heart':
        # The classic heart curve, lobes up, tip down.
        t = np.arange(HEART_VERTICES) * (2 * math.pi / HEART_VERTICES)
        x = 16 * np.sin(t)**3
        y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        return _centre_and_scale(np.stack([x, y], axis=1))
    if shape == 'oval':
        t = np.arange(CIRCLE_VERTICES) * (2 * math.pi / CIRCLE_VERTICES)
        return _centre_and_scale(np.stack([OVAL_ASPECT * np.cos(t), np.sin(t)], axis=1))
    if shape == 'rectangle':
        h = RECTANGLE_ASPECT
        return _centre_and_scale(np.array([(-1, -h), (1, -h), (1, h), (-1, h)], dtype=float))
    if shape == 'pentagon':
        t = -math.pi / 2 + np.arange(5) * (2 * math.pi / 5)
        return _centre_and_scale(np.stack([np.cos(t), np.sin(t)], axis=1))
    if shape == 'chevron':
        # An inverted V: the apex at the top, the arms down to x = +-1.
        a = CHEVRON_THICKNESS
        pts = np.array([(0, 0), (1, 1), (1, 1 + a), (0, a), (-1, 1 + a), (-1, 1)], dtype=float)
        return _centre_and_scale(pts)
    if shape == 'tee':
        # A T: a bar of width 2 on top of a stem, 2 high in all.
        b, w = 2 * TEE_BAR, TEE_STEM
        pts = np.array([(-1, 0), (1, 0), (1, b), (w, b), (w, 2), (-w, 2), (-w, b), (-1, b)],
                       dtype=float)
        return _centre_and_scale(pts)
    raise ValueError(f'unknown shape {shape!r}')


def _centre_and_scale(pts: np.ndarray) -> np.ndarray:
    """Centre a polygon on its bounding box and scale it to circumradius 1."""
    pts = pts - (pts.min(axis=0) + pts.max(axis=0)) / 2
    return pts / np.hypot(pts[:, 0], pts[:, 1]).max()


def _polygon_area(verts: np.ndarray) -> float:
    """Shoelace area of a simple polygon ``(N, 2)``."""
    x, y = verts[:, 0], verts[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


_UNIT_VERTICES = {shape: _unit_vertices(shape)
                  for variant in VARIANTS.values() for shape in variant.shapes}
#: Circumradius / equal-area radius of each shape: all shapes of a size class
#: then have the area of the circle of that class.
_AREA_FACTOR = {shape: math.sqrt(math.pi / _polygon_area(v)) for shape, v in _UNIT_VERTICES.items()}


def circumradius(shape: str, radius: float) -> float:
    """Distance from the centre to the farthest vertex of a shape.

    Args:
        shape (str): The shape.
        radius (float): Its equal-area radius.

    Returns:
        float: The circumradius.
    """
    return radius * _AREA_FACTOR[shape]


def shape_polygon(spec: ObjectSpec) -> List[float]:
    """Flat COCO polygon ``[x1, y1, x2, y2, ...]`` of an object's full shape.

    Coordinates are rounded to 2 decimals *before* rasterisation, so the stored
    polygon is exactly the one that was drawn.

    Args:
        spec (ObjectSpec): The object.

    Returns:
        list[float]: The polygon.
    """
    c, s = math.cos(spec.angle), math.sin(spec.angle)
    verts = _UNIT_VERTICES[spec.shape] * circumradius(spec.shape, spec.radius)
    xs = spec.cx + verts[:, 0] * c - verts[:, 1] * s
    ys = spec.cy + verts[:, 0] * s + verts[:, 1] * c
    flat = np.round(np.stack([xs, ys], axis=1).ravel(), 2)
    return [float(v) for v in flat]


def sample_objects(rng: np.random.Generator,
                   img_size: int,
                   theme: str,
                   num_objects: int,
                   distractor_prob: float = 0.7,
                   overlap_prob: float = 0.4,
                   max_tries: int = 40,
                   variant: Variant = DEFAULT) -> List[ObjectSpec]:
    """Draw the objects of a scene.

    Distractors are made on purpose: with probability ``distractor_prob`` a new
    object copies an earlier one and changes its colour, its shape, its size or
    nothing (an exact duplicate, which only location or relations can tell
    apart). Positions are rejection-sampled: most objects do not overlap, a
    share ``overlap_prob`` may partly overlap earlier ones of another colour
    (occlusion).

    Args:
        rng (np.random.Generator): The image's generator.
        img_size (int): Image side in pixels.
        theme (str): ``'A'`` or ``'B'``: most shapes come from
            ``variant.themes[theme]``.
        num_objects (int): Objects to try to place (some may not fit).
        distractor_prob (float): Probability that an object is a variant of an
            earlier one. Defaults to 0.7.
        overlap_prob (float): Probability that an object may overlap others.
            Defaults to 0.4.
        max_tries (int): Positions tried per object before giving it up.
            Defaults to 40.
        variant (Variant): Shapes, colours and themes to draw from, the size
            radii and the colour jitter. Defaults to the default variant.

    Returns:
        list[ObjectSpec]: The placed objects, in drawing order.
    """
    shapes, in_theme = variant.shapes, variant.themes[theme]
    shape_p = np.array([THEME_WEIGHT / len(in_theme) if s in in_theme else
                        (1 - THEME_WEIGHT) / (len(shapes) - len(in_theme)) for s in shapes])
    colors = list(variant.colors)
    attrs: List[Tuple[str, str, str]] = []
    for _ in range(num_objects):
        if attrs and rng.random() < distractor_prob:
            shape, color, size = attrs[int(rng.integers(len(attrs)))]
            change = int(rng.choice(4, p=[0.3, 0.2, 0.25, 0.25]))
            if change == 0:
                color = _other(rng, colors, color)
            elif change == 1:
                shape = _other(rng, shapes, shape, shape_p)
            elif change == 2:
                size = _other(rng, SIZES, size)
            # change == 3: exact duplicate
        else:
            shape = shapes[int(rng.choice(len(shapes), p=shape_p))]
            color = colors[int(rng.integers(len(colors)))]
            size = SIZES[int(rng.integers(len(SIZES)))]
        attrs.append((shape, color, size))

    placed: List[ObjectSpec] = []
    for shape, color, size in attrs:
        radius = variant.size_radius[size] * img_size * rng.uniform(0.93, 1.07)
        outer = circumradius(shape, radius)
        angle = 0.0 if shape in UNROTATED else math.radians(rng.uniform(-15, 15))
        jitter = rng.integers(-variant.color_jitter, variant.color_jitter + 1, size=3)
        rgb = tuple(int(v) for v in np.clip(np.array(variant.colors[color]) + jitter, 0, 255))
        may_overlap = rng.random() < overlap_prob
        # All candidate positions are drawn at once: a fixed number of draws keeps
        # the random stream independent of which candidate is accepted.
        lo, hi = outer + 1.0, img_size - 1.0 - outer
        xy = rng.uniform(lo, hi, size=(max_tries, 2))
        chosen = None
        for x, y in xy:
            if all(_far_enough(x, y, color, radius, outer, other, may_overlap)
                   for other in placed):
                chosen = (float(x), float(y))
                break
        if chosen is None:
            continue
        placed.append(ObjectSpec(shape, color, size, chosen[0], chosen[1], radius, angle, rgb))
    return placed


def _other(rng: np.random.Generator, options: Sequence[str], current: str,
           p: Optional[np.ndarray] = None) -> str:
    """A random option different from ``current`` (weighted by ``p`` if given)."""
    idx = [i for i, o in enumerate(options) if o != current]
    if p is None:
        return options[idx[int(rng.integers(len(idx)))]]
    w = p[idx] / p[idx].sum()
    return options[idx[int(rng.choice(len(idx), p=w))]]


def _far_enough(x: float, y: float, color: str, radius: float, outer: float,
                other: ObjectSpec, may_overlap: bool) -> bool:
    """Whether a new object at ``(x, y)`` keeps clear of ``other`` enough."""
    dist = math.hypot(x - other.cx, y - other.cy)
    # Two objects of one colour never touch: their common border would be
    # invisible and they would read as a single blob.
    if may_overlap and color != other.color:
        # Partial overlap at most: centres apart by 0.7x the summed equal-area radii.
        return dist >= 0.7 * (radius + other.radius)
    return dist >= outer + circumradius(other.shape, other.radius) + 3.0


def _background(rng: np.random.Generator, img_size: int) -> np.ndarray:
    """A plain or lightly textured greyish background, float32 ``(H, W, 3)``.

    The texture is smooth on purpose (a gradient and soft blotches, no per-pixel
    noise): it stays far from the saturated object colours and keeps the PNGs
    small and fast to write.
    """
    base = rng.uniform(105, 170) + rng.uniform(-8, 8, size=3)
    bg = np.broadcast_to(base.astype(np.float32), (img_size, img_size, 3)).copy()
    style = int(rng.integers(3))  # 0: plain, 1: gradient, 2: gradient and blotches
    if style >= 1:
        gx, gy = rng.uniform(-20, 20, size=2)
        ramp = np.linspace(-0.5, 0.5, img_size, dtype=np.float32)
        bg += (gx * ramp[None, :] + gy * ramp[:, None])[:, :, None]
    if style == 2:
        coarse = rng.uniform(-8, 8, size=(5, 5)).astype(np.float32)
        # a float32 array makes a mode 'F' image: smooth bilinear upsampling
        blotches = Image.fromarray(coarse).resize((img_size, img_size),
                                                  Image.Resampling.BILINEAR)
        bg += np.asarray(blotches, dtype=np.float32)[:, :, None]
    return bg


def _contrast_background(rng: np.random.Generator, img_size: int) -> np.ndarray:
    """A blurred, high-contrast greyish background, float32 ``(H, W, 3)``.

    Always a gradient (up to +-30 at an edge, three times the soft one's) and
    blurred blotches (a coarse 6x6 field of +-25, plus a faint per-channel tint of
    +-8, bicubically upsampled), clipped to 85-195 so that it stays clear of the
    darkest and the lightest object colours.
    """
    base = rng.uniform(105, 170) + rng.uniform(-12, 12, size=3)
    bg = np.broadcast_to(base.astype(np.float32), (img_size, img_size, 3)).copy()
    gx, gy = rng.uniform(-60, 60, size=2)
    ramp = np.linspace(-0.5, 0.5, img_size, dtype=np.float32)
    bg += (gx * ramp[None, :] + gy * ramp[:, None])[:, :, None]
    coarse = rng.uniform(-25, 25, size=(6, 6)).astype(np.float32)
    tint = rng.uniform(-8, 8, size=(3, 6, 6)).astype(np.float32)
    for channel in range(3):
        field = Image.fromarray(coarse + tint[channel]).resize((img_size, img_size),
                                                               Image.Resampling.BICUBIC)
        bg[:, :, channel] += np.asarray(field, dtype=np.float32)
    return np.clip(bg, 85, 195)


def _jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    """The decoded pixels of an RGB uint8 image saved as JPEG at ``quality``."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format='JPEG', quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert('RGB')).copy()


def render_scene(specs: Sequence[ObjectSpec],
                 img_size: int,
                 rng: np.random.Generator,
                 min_visible_frac: float = 0.5,
                 min_visible_px: int = 20,
                 occlusion_frac: float = 0.05,
                 variant: Variant = DEFAULT,
                 photo_rng: Optional[np.random.Generator] = None) -> RenderedScene:
    """Rasterise a scene, drop mostly hidden objects and paint the image.

    An object whose visible area is below ``min_visible_frac`` of its full
    shape or below ``min_visible_px`` pixels is removed from the scene *before*
    painting, so every painted pixel belongs to an annotated object (removing an
    object only uncovers the others, so one pass suffices).

    The soft background (``variant.background == 'soft'``) is drawn from
    ``rng``, exactly as it always was; what only photometric variants
    (:attr:`~.variants.Variant.photometric`) have, the contrast background, the
    noise and the JPEG quality, is drawn from ``photo_rng``.

    Args:
        specs (Sequence[ObjectSpec]): Objects in drawing order.
        img_size (int): Image side.
        rng (np.random.Generator): For the soft background.
        min_visible_frac (float): Defaults to 0.5.
        min_visible_px (int): Defaults to 20.
        occlusion_frac (float): A later object counts as hiding an earlier one
            (``occluded_by``) when its visible pixels cover at least this share
            of the earlier one's full shape (and at least 4 pixels). Defaults to
            0.05.
        variant (Variant): Its ``background``, ``noise_std`` and
            ``jpeg_quality``. Defaults to the default variant.
        photo_rng (np.random.Generator, optional): For the photometric
            settings; required when the variant has any.

    Returns:
        RenderedScene: The image and its kept objects.
    """
    if variant.photometric and photo_rng is None:
        raise ValueError(f'variant {variant.name!r} needs a photo_rng')
    specs = list(specs)
    polygons = [shape_polygon(s) for s in specs]
    full = _rasterise(polygons, img_size)
    label = _label_map(full)
    visible_area = np.bincount(label.ravel(), minlength=len(specs) + 1)[1:]
    full_area = full.reshape(-1, len(specs)).sum(axis=0) if specs else np.zeros(0)
    keep = [i for i in range(len(specs))
            if visible_area[i] >= max(min_visible_frac * full_area[i], min_visible_px)]
    if len(keep) < len(specs):
        specs = [specs[i] for i in keep]
        polygons = [polygons[i] for i in keep]
        full = full[:, :, keep]
        label = _label_map(full)
        full_area = full_area[keep]

    visible, occluded, occluded_by = [], [], []
    for i in range(len(specs)):
        vis = label == i + 1
        visible.append(vis)
        is_occluded = int(vis.sum()) < int(full_area[i])
        occluded.append(is_occluded)
        hiders = []
        if is_occluded:
            counts = np.bincount(label[full[:, :, i] > 0], minlength=len(specs) + 1)
            threshold = max(occlusion_frac * full_area[i], 4)
            hiders = [j for j in range(i + 1, len(specs)) if counts[j + 1] >= threshold]
        occluded_by.append(hiders)

    if variant.background == 'soft':
        image = _background(rng, img_size)
    elif variant.background == 'contrast':
        image = _contrast_background(photo_rng, img_size)
    else:
        raise ValueError(f'unknown background {variant.background!r}')
    if specs:
        palette = np.array([(0, 0, 0)] + [s.rgb for s in specs], dtype=np.float32)
        image = np.where((label > 0)[:, :, None], palette[label], image)
    if variant.noise_std > 0:
        noise = photo_rng.standard_normal(size=image.shape, dtype=np.float32)
        image = image + np.float32(variant.noise_std) * noise
    image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    if variant.jpeg_quality is not None:
        low, high = variant.jpeg_quality
        image = _jpeg_round_trip(image, int(photo_rng.integers(low, high + 1)))
    return RenderedScene(image, specs, polygons, visible, occluded, occluded_by)


def _rasterise(polygons: List[List[float]], img_size: int) -> np.ndarray:
    """``(H, W, N)`` uint8 full masks, rasterised by pycocotools."""
    if not polygons:
        return np.zeros((img_size, img_size, 0), dtype=np.uint8)
    return mask_utils.decode(mask_utils.frPyObjects(polygons, img_size, img_size))


def _label_map(full: np.ndarray) -> np.ndarray:
    """Index (1-based, 0 = background) of the topmost object at each pixel."""
    label = np.zeros(full.shape[:2], dtype=np.int32)
    for i in range(full.shape[2]):
        label[full[:, :, i] > 0] = i + 1
    return label
