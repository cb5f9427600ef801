"""The demo's model side: RES (expressions -> masks and boxes) and REG (a click or a
box -> the proposal under it and its expression) on example or uploaded images, with
every input checked (:class:`DemoError` carries the HTTP status and the message).

RES is :func:`mmrefmutual.apis.segment`. REG of a click describes the proposal under
it (one extractor pass, then the generation head's beam search for that proposal, as
``RefMutual.predict`` does for a matched target); REG of a drawn box runs
:func:`mmrefmutual.apis.describe`'s path (the box matched to a proposal by bipartite
matching) through its helpers, to show which proposal the box was matched to.
"""
import base64
import hashlib
import io
import os
import os.path as osp
import threading
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
MAX_SIDE = 2048
MIN_SIDE = 8
IMAGE_FORMATS = ('PNG', 'JPEG', 'BMP', 'WEBP')
MAX_EXPRESSIONS = 8
MAX_EXPRESSION_CHARS = 200
MAX_BEAM = 10
MAX_UPLOADS_KEPT = 32
COLORS = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
          (70, 240, 240), (240, 50, 230), (210, 245, 60)]


class DemoError(Exception):
    """A refused demo request (``status``: the HTTP status)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def decode_image(data: bytes) -> np.ndarray:
    """Uploaded bytes -> RGB (H, W, 3) uint8, within the size and type limits."""
    if not data:
        raise DemoError('empty upload')
    if len(data) > MAX_UPLOAD_BYTES:
        raise DemoError(f'image of {len(data)} bytes: at most {MAX_UPLOAD_BYTES}', 413)
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format
            if fmt not in IMAGE_FORMATS:
                raise DemoError(f'image type {fmt}: give one of {", ".join(IMAGE_FORMATS)}', 415)
            w, h = img.size
            if max(w, h) > MAX_SIDE or min(w, h) < MIN_SIDE:
                raise DemoError(f'image of {w} x {h} px: sides from {MIN_SIDE} to {MAX_SIDE}')
            img.load()  # decodes every pixel: a truncated or corrupt file fails here
            return np.asarray(img.convert('RGB')).copy()
    except DemoError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DemoError(f'not a readable image: {e}', 415) from None


def check_expressions(expressions) -> List[str]:
    if not isinstance(expressions, list) or not expressions:
        raise DemoError('give one or more expressions (a list of strings)')
    if len(expressions) > MAX_EXPRESSIONS:
        raise DemoError(f'{len(expressions)} expressions: at most {MAX_EXPRESSIONS}')
    out = []
    for e in expressions:
        if not isinstance(e, str) or not e.strip():
            raise DemoError('an expression is empty')
        if len(e) > MAX_EXPRESSION_CHARS:
            raise DemoError(f'an expression of {len(e)} characters: at most '
                            f'{MAX_EXPRESSION_CHARS}')
        out.append(e.strip())
    return out


def check_beam(beam_size) -> int:
    if not isinstance(beam_size, int) or isinstance(beam_size, bool) or \
            not 1 <= beam_size <= MAX_BEAM:
        raise DemoError(f'beam size must be an integer from 1 to {MAX_BEAM}')
    return beam_size


def png_data_url(rgb: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format='PNG')
    return 'data:image/png;base64,' + base64.b64encode(buf.getvalue()).decode('ascii')


def draw(rgb: np.ndarray, masks: Sequence[np.ndarray], boxes: Sequence[Sequence[float]],
         labels: Sequence[str], point: Optional[Sequence[float]] = None,
         side: int = 512) -> np.ndarray:
    """Masks (translucent), boxes and short labels over the image, the click as a dot;
    a small image is enlarged by a whole factor first (up to ``side`` px) so that the
    lines and labels stay thin and legible."""
    out = rgb.astype(np.float32)
    for k, m in enumerate(masks):
        out[m] = 0.45 * out[m] + 0.55 * np.array(COLORS[k % len(COLORS)], np.float32)
    s = max(1, side // max(rgb.shape[:2]))
    img = Image.fromarray(out.clip(0, 255).astype(np.uint8))
    img = img.resize((rgb.shape[1] * s, rgb.shape[0] * s), Image.NEAREST)
    pen = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=15)
    for k, (box, label) in enumerate(zip(boxes, labels)):
        color = COLORS[k % len(COLORS)]
        x1, y1, x2, y2 = [float(v) * s for v in box]
        pen.rectangle([x1, y1, x2 - 1, y2 - 1], outline=color, width=2)
        tx, ty = x1 + 3, y1 + 2
        pen.rectangle(pen.textbbox((tx, ty), label, font=font), fill=(0, 0, 0))
        pen.text((tx, ty), label, fill=(255, 255, 255), font=font)
    if point is not None:
        x, y = point[0] * s, point[1] * s
        pen.ellipse([x - 5, y - 5, x + 5, y + 5], fill=(255, 255, 255), outline=(0, 0, 0),
                    width=2)
    return np.asarray(img)


def mask_box(mask: np.ndarray) -> List[float]:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


class DemoSession:
    """A loaded model, its example images and the images uploaded to it.

    Args:
        model: A model from :func:`mmrefmutual.apis.init_model`.
        examples (dict): ``{name: image path}`` offered on the page.
    """

    def __init__(self, model, examples: Dict[str, str]) -> None:
        self.model = model
        self.examples = dict(examples)
        self._uploads: 'OrderedDict[str, np.ndarray]' = OrderedDict()
        self._lock = threading.Lock()  # one inference at a time

    @staticmethod
    def examples_in(folder: str, limit: int = 12) -> Dict[str, str]:
        """The first ``limit`` images of a folder, by name."""
        names = sorted(n for n in os.listdir(folder)
                       if n.lower().endswith(('.png', '.jpg', '.jpeg', '.bmp', '.webp')))
        return {n: osp.join(folder, n) for n in names[:limit]}

    # ------------------------------------------------------------------ images
    def upload(self, data: bytes) -> dict:
        rgb = decode_image(data)
        image_id = 'up-' + hashlib.sha256(data).hexdigest()[:16]
        with self._lock:
            self._uploads[image_id] = rgb
            self._uploads.move_to_end(image_id)
            while len(self._uploads) > MAX_UPLOADS_KEPT:
                self._uploads.popitem(last=False)
        return dict(image_id=image_id, width=rgb.shape[1], height=rgb.shape[0])

    def image(self, image_id: str) -> np.ndarray:
        """RGB pixels of an example (``ex-NAME``: only names offered, never a path) or of
        an upload (``up-HASH``)."""
        if not isinstance(image_id, str):
            raise DemoError('image_id must be a string')
        if image_id.startswith('ex-') and image_id[3:] in self.examples:
            with Image.open(self.examples[image_id[3:]]) as img:
                return np.asarray(img.convert('RGB')).copy()
        if image_id in self._uploads:
            return self._uploads[image_id]
        raise DemoError(f'unknown image {image_id!r} (upload it again)', 404)

    # ------------------------------------------------------------------ RES
    def segment(self, image_id: str, expressions) -> dict:
        from mmrefmutual.apis import segment
        expressions = check_expressions(expressions)
        rgb = self.image(image_id)
        with self._lock:
            try:
                results = segment(self.model, rgb[..., ::-1].copy(), expressions)
            except ValueError as e:  # an expression with no word, e.g. '?!'
                raise DemoError(str(e)) from None
        masks = [r['mask'] for r in results]
        boxes = [[round(float(v), 1) for v in r['bbox']] for r in results]
        labels = [f'{k + 1}: {r["score"]:.2f}' for k, r in enumerate(results)]
        return dict(results=[dict(expression=e, bbox=b, score=round(r['score'], 4),
                                  area=int(r['mask'].sum()))
                             for e, b, r in zip(expressions, boxes, results)],
                    overlay=png_data_url(draw(rgb, masks, boxes, labels)))

    # ------------------------------------------------------------------ REG
    def _proposals(self, rgb: np.ndarray):
        """One extractor pass: proposals O (1, N, C), their masks (N, H, W) at image
        size and foreground scores (N, )."""
        import torch

        from mmrefmutual.apis.inference import _pack
        # a placeholder expression: the test pipeline packs an image with one ref
        data = _pack(self.model, rgb[..., ::-1].copy(), [('object', 'object')], None)
        with torch.no_grad():
            data = self.model.data_preprocessor(data, False)
            sample = data['data_samples'][0]
            proposals, cls_list, mask_list = self.model.extract_proposals(
                data['inputs'], data['data_samples'])
            masks = self.model.postprocess_masks(mask_list[-1][0], sample.metainfo)
            fg = 1 - cls_list[-1][0].softmax(-1)[:, -1]
        return proposals, masks.cpu().numpy(), fg.cpu().numpy()

    def _generate(self, proposals, index: int, beam_size: int) -> str:
        """REG of one proposal (``test_cfg``'s length settings)."""
        import torch
        cfg = self.model.test_cfg
        rows = torch.zeros(1, dtype=torch.long, device=proposals.device)
        with torch.no_grad():
            texts, _ = self.model.generation_head.generate(
                proposals, rows, rows + index, beam_size=beam_size,
                max_len=cfg.get('max_len', None), length_penalty=cfg.get('length_penalty', 0.0))
        return texts[0][0]

    def _describe_box(self, rgb: np.ndarray, box_mask: np.ndarray, beam_size: int):
        """:func:`mmrefmutual.apis.describe` with a box, and the proposal it matched."""
        from mmrefmutual.apis.inference import _pack, _predict
        sample = _predict(self.model, _pack(self.model, rgb[..., ::-1].copy(), [], box_mask),
                          res=False, reg=True, reg_input='box', beam_size=beam_size)
        return sample.pred_refs.texts[0], int(sample.pred_refs.proposal_inds[0])

    @staticmethod
    def pick_proposal(masks: np.ndarray, fg: np.ndarray, col: int, row: int) -> int:
        """The most confident proposal whose mask holds the pixel; else the confident
        (foreground >= 0.5) proposal nearest to it."""
        under = [k for k in range(len(masks)) if masks[k, row, col]]
        if under:
            return max(under, key=lambda k: fg[k])
        dist = []
        for k, m in enumerate(masks):
            ys, xs = np.nonzero(m)
            dist.append(np.min((ys - row)**2 + (xs - col)**2) if len(ys) and fg[k] >= 0.5
                        else np.inf)
        if not np.isfinite(np.min(dist)):
            raise DemoError('no proposal near the click', 422)
        return int(np.argmin(dist))

    def describe(self, image_id: str, point=None, box=None, beam_size: int = 3) -> dict:
        """REG of the proposal under a click (``point`` [x, y]) or of a drawn ``box``
        [x1, y1, x2, y2] (image pixels; the box is matched to a proposal as
        :func:`~mmrefmutual.apis.describe` does)."""
        beam_size = check_beam(beam_size)
        rgb = self.image(image_id)
        h, w = rgb.shape[:2]
        if (point is None) == (box is None):
            raise DemoError('give either a point [x, y] or a box [x1, y1, x2, y2]')
        coords = point if point is not None else box
        if not isinstance(coords, list) or len(coords) != (2 if box is None else 4) or \
                not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in coords):
            raise DemoError('point must be [x, y] and box [x1, y1, x2, y2], numbers')
        if point is not None and not (0 <= point[0] < w and 0 <= point[1] < h):
            raise DemoError(f'point ({point[0]}, {point[1]}) outside the image ({w} x {h})')
        if box is not None:
            x1, x2 = sorted((max(0.0, float(box[0])), min(float(w), float(box[2]))))
            y1, y2 = sorted((max(0.0, float(box[1])), min(float(h), float(box[3]))))
            if x2 - x1 < 1 or y2 - y1 < 1:
                raise DemoError('the box is empty inside the image')
        with self._lock:
            proposals, masks, fg = self._proposals(rgb)
            if point is not None:
                clicked = self.pick_proposal(masks, fg, int(point[0]), int(point[1]))
                described, text = clicked, self._generate(proposals, clicked, beam_size)
            else:
                target = np.zeros((1, h, w), bool)
                target[0, int(y1):int(np.ceil(y2)), int(x1):int(np.ceil(x2))] = True
                clicked = None
                text, described = self._describe_box(rgb, target, beam_size)
        shown = masks[described]
        overlay = draw(rgb, [shown], [mask_box(shown)], [f'#{described}'], point=point)
        return dict(expression=text, beam_size=beam_size,
                    proposal=dict(index=described, score=round(float(fg[described]), 4),
                                  bbox=mask_box(shown), area=int(shown.sum())),
                    clicked_proposal=clicked, overlay=png_data_url(overlay))
