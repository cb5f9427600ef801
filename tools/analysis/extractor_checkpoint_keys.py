"""Which weights of a Mask2Former checkpoint (mmdet's model zoo, your own mmdet training,
or our step 0) a config's model takes with ``load_from``, before you train.

    python tools/analysis/extractor_checkpoint_keys.py configs/mutual/refcoco_step1_joint.py \
        mask2former_r101_8xb2-lsj-50e_coco_20220426_100250-ecf181e2.pth

Loads the file exactly as ``load_from`` does (safe loading: the mmengine/numpy types of
``CheckpointHook`` files are allowed, anything else refused with the class named; the class
head of another class count dropped) and prints, per top-level module, how many keys are
loaded, dropped, missing from the checkpoint (they keep their initialisation) and unexpected,
and where the extractor comes from (a warning when it may have seen evaluation images).
"""
import argparse
import json
from collections import Counter
from typing import List, Optional

from mmengine.config import Config, DictAction
from mmengine.runner.checkpoint import CheckpointLoader


def extractor_keys(config: str, checkpoint: str, cfg_options: Optional[dict] = None) -> dict:
    """Keys of ``checkpoint`` loaded into the model of ``config`` as ``load_from`` does.

    Returns:
        dict: ``loaded``, ``dropped``, ``missing``, ``unexpected`` (lists of keys) and
        ``provenance`` (see :func:`mmrefmutual.engine.hooks.extractor_provenance`).
    """
    from mmrefmutual.engine.hooks.pretrained_extractor_hook import (
        drop_mismatched_class_head, extractor_provenance)
    from mmrefmutual.registry import MODELS
    from mmrefmutual.utils import register_all_modules, safe_checkpoint_loading
    register_all_modules()
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model = MODELS.build(cfg.model)
    with safe_checkpoint_loading():
        ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    state = dict(ckpt.get('state_dict', ckpt))
    before = set(state)
    dropped = drop_mismatched_class_head(state, model.state_dict())
    result = model.load_state_dict(state, strict=False)
    return dict(loaded=sorted(set(state) - set(result.unexpected_keys)),
                dropped=sorted(before - set(state)), dropped_why=dropped,
                missing=sorted(result.missing_keys), unexpected=sorted(result.unexpected_keys),
                provenance=extractor_provenance(ckpt, checkpoint))


def _by_module(keys: List[str]) -> str:
    counts = Counter(k.split('.')[0] for k in keys)
    return ', '.join(f'{m} {n}' for m, n in sorted(counts.items())) or '-'


def main(argv: Optional[List[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--json', help='also write the key lists to this file')
    args = parser.parse_args(argv)
    keys = extractor_keys(args.config, args.checkpoint, args.cfg_options)
    for name in ('loaded', 'dropped', 'missing', 'unexpected'):
        print(f'{name:>10}: {len(keys[name]):5d}  ({_by_module(keys[name])})')
    for line in keys['dropped_why']:
        print(f'   dropped {line}')
    prov = keys['provenance']
    print('extractor: ' + ('clean (' + prov['source'] + ')' if prov.get('clean')
                           else 'WARNING: ' + prov['warning']))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(keys, f, indent=1)
    return keys


if __name__ == '__main__':
    main()
