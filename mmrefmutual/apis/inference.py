"""Python API: image + expression -> mask (RES/REC), image + mask/box -> expression (REG)."""
import copy
from typing import List, Optional, Sequence, Union

import mmcv
import numpy as np
import pycocotools.mask as mask_utils
import torch
from mmcv.transforms import Compose
from mmdet.structures import DetDataSample
from mmengine.config import Config

from mmrefmutual.datasets.text import normalize_expression
from mmrefmutual.models.builder import build_model_from_checkpoint
from mmrefmutual.utils import register_all_modules

ImageType = Union[str, np.ndarray]


def init_model(config: Union[str, Config], checkpoint: Optional[str] = None,
               device: str = 'cpu', cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """Build a RefMutual model from a config and (optionally) a checkpoint.

    The generation vocabulary is taken from the checkpoint, so the vocabulary file
    named in the config need not exist.

    Raises:
        KeyError: if the checkpoint's weights do not fit the model (missing or
            unexpected keys, named), rather than running a partly random model.
    """
    register_all_modules()
    cfg = Config.fromfile(config) if isinstance(config, str) else copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return build_model_from_checkpoint(cfg, checkpoint, device)


def _pack(model, img: np.ndarray, expressions: Sequence[str],
          masks: Optional[np.ndarray]) -> dict:
    """One image (and its objects / expressions) through the config's test pipeline."""
    h, w = img.shape[:2]
    instances, refs = [], []
    for k, mask in enumerate(masks if masks is not None else []):
        rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        x, y, bw, bh = mask_utils.toBbox(rle).tolist()
        rle['counts'] = rle['counts'].decode('ascii')  # mmdet's loader takes str counts
        instances.append(dict(bbox=[x, y, x + bw, y + bh], bbox_label=0, mask=rle,
                              ignore_flag=0))
        refs.append(dict(ref_id=k, ann_id=k, inst_idx=k, weight=1.0, sentences=[]))
    if expressions:  # grounding needs no referent: hang the sentences on a dummy ref
        if not refs:
            instances.append(dict(bbox=[0, 0, w, h], bbox_label=0, ignore_flag=0,
                                  mask=[[0, 0, w, 0, w, h, 0, h]]))
            refs.append(dict(ref_id=-1, ann_id=-1, inst_idx=0, weight=1.0, sentences=[]))
        refs[0]['sentences'] = [dict(sent_id=i, raw=raw, sent=sent)
                                for i, (raw, sent) in enumerate(expressions)]
    pipeline = copy.deepcopy(model.cfg.test_dataloader.dataset.pipeline)
    pipeline[0] = dict(type='mmdet.LoadImageFromNDArray')
    data = Compose(pipeline)(dict(img=img, img_id=0, img_path=None, height=h, width=w,
                                  instances=instances, refs=refs))
    return dict(inputs=[data['inputs']], data_samples=[data['data_samples']])


@torch.no_grad()
def _predict(model, data: dict, **kwargs) -> DetDataSample:
    data = model.data_preprocessor(data, False)
    return model.predict(data['inputs'], data['data_samples'], **kwargs)[0]


def segment(model, image: ImageType, expressions: Sequence[str]) -> List[dict]:
    """RES/REC: one mask (bool, image size), box (xyxy) and score per expression.

    Raises:
        ValueError: for an expression with no word left once normalised (e.g. '?!').
    """
    img = mmcv.imread(image) if isinstance(image, str) else image
    pairs = [(raw, normalize_expression(raw)) for raw in expressions]
    empty = [raw for raw, sent in pairs if not sent]
    if empty or not pairs:
        raise ValueError(f'expressions with no word to ground: {empty or list(expressions)}')
    out = _predict(model, _pack(model, img, pairs, None), res=True, reg=False).pred_sents
    return [dict(mask=m.cpu().numpy(), bbox=b.cpu().numpy(), score=float(s))
            for m, b, s in zip(out.masks, out.bboxes, out.scores)]


def describe(model, image: ImageType, masks: Optional[np.ndarray] = None,
             boxes: Optional[np.ndarray] = None, beam_size: Optional[int] = None) -> List[str]:
    """REG: one expression per object given as masks (K, H, W) or boxes (K, 4) xyxy.

    Boxes and masks are mapped to proposals by bipartite matching (box IoU or mask
    BCE + Dice, each with the proposal's foreground probability).
    """
    img = mmcv.imread(image) if isinstance(image, str) else image
    h, w = img.shape[:2]
    by = 'mask'
    if masks is None:
        if boxes is None:
            raise ValueError('give the objects to describe as masks or boxes')
        by = 'box'
        masks = np.zeros((len(boxes), h, w), dtype=bool)
        for k, (x1, y1, x2, y2) in enumerate(np.asarray(boxes, dtype=int)):
            masks[k, max(y1, 0):y2, max(x1, 0):x2] = True
    if len(masks) == 0:
        return []
    sample = _predict(model, _pack(model, img, [], np.asarray(masks)), res=False, reg=True,
                      reg_input=by, beam_size=beam_size)
    return list(sample.pred_refs.texts)
