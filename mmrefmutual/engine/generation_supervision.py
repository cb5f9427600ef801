"""Generation supervision (REG -> RES, paper Sec. 3.3.2): pseudo refs for unannotated
instances, written by the generation head, then RES trained on human + pseudo refs.

Generation is sharded in fixed chunks of images (chunk k goes to rank k mod world size),
each chunk written atomically when done, and the chunks are merged in order: the file is
byte-identical whatever the number of processes and whether the run was interrupted and
resumed (finished chunks are reused when their settings match).
"""
import copy
import functools
import hashlib
import json
import logging
import os
import os.path as osp
import shutil
import time
from typing import Dict, List, Optional, Sequence, Set

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import print_log
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader

from mmrefmutual.datasets.leakage import LeakageError
from mmrefmutual.datasets.refer_files import evaluation_image_ids
from mmrefmutual.models.builder import build_model_from_checkpoint
from mmrefmutual.models.utils import gather_ref_targets
from mmrefmutual.registry import DATASETS

#: Key of the pseudo refs file that records how it was made.
PROVENANCE_KEY = 'mmrefmutual_pseudo_refs'
FILTERS = ('area', 'random', 'none')


def _sha256(path: str) -> str:
    stat = os.stat(path)
    return _sha256_of(osp.abspath(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _sha256_of(path: str, mtime_ns: int, size: int) -> str:
    """Hash of a file's content, computed once per version of the file."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _dump(obj, path: str) -> None:
    """Write JSON atomically (a reader never sees half a file)."""
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w') as f:
        json.dump(obj, f, sort_keys=True, separators=(',', ':'))
    os.replace(tmp, path)


def _load_json(path: str):
    with open(path) as f:
        return json.load(f)


class GenerationSupervision:
    """Pseudo refs of unannotated instances, and training on human + pseudo refs.

    Args:
        checkpoint (str): The model that writes the expressions (the step-2 model); the
            network being trained may start from another initialisation.
        unannotated (dict): ``UnannotatedInstanceDataset`` config: the pool of
            instances in images without any referring expression. Its ``min_area`` is
            replaced by 0: the filters below choose the instances.
        protected_refs_files (Sequence[str]): Refs files (RefCOCO, RefCOCO+, RefCOCOg)
            whose val/test images must never be pseudo-labelled; checked on every
            batch while generating (:class:`LeakageError`).
        out_file (str, optional): Pseudo refs file. Defaults to
            ``WORK_DIR/pseudo_refs.json``.
        num_expressions (int): Expressions per instance: the best beams of a beam
            search of that size (the paper's g2 = 3).
        instance_filter (str): ``'area'`` (COCO area >= ``min_area``, the paper's
            data filtering), ``'random'`` (as many instances as the area filter keeps,
            drawn at random: the control of the paper's Fig. 5) or ``'none'``.
        min_area (float): Area threshold (32 * 32 in the paper; 64 * 64 in Fig. 5).
        seed (int): Seed of the random filter.
        refer_back (bool): Keep an expression only if the model's own selection head
            grounds it to its instance (beyond the paper; in the spirit of Pseudo-RIS's
            distinctiveness filter). An instance left without expression is dropped.
        weight (float): Loss weight of every pseudo ref (0.1 in the paper: data
            reweighting; 1.0 for "without reweighting").
        human_repeat (int): Times the human dataset is repeated beside the pseudo refs
            (mmengine's ``RepeatDataset``), so that human refs keep their share of each
            batch on a short schedule (ours; 1, the paper's plain union, by default).
            Training data only: the pseudo refs file does not depend on it.
        batch_size (int): Images per generation batch.
        chunk_size (int): Images per chunk (the unit of sharding and resuming).
        num_workers (int): Data loading workers while generating.
        model (dict, optional): Config of the generating model; the runner's
            ``cfg.model`` by default.
    """

    def __init__(self, checkpoint: str, unannotated: dict, protected_refs_files: Sequence[str],
                 out_file: Optional[str] = None, num_expressions: int = 3,
                 instance_filter: str = 'area', min_area: float = 32 * 32, seed: int = 0,
                 refer_back: bool = False, weight: float = 0.1, human_repeat: int = 1,
                 batch_size: int = 8,
                 chunk_size: int = 64, num_workers: int = 0,
                 model: Optional[dict] = None) -> None:
        if instance_filter not in FILTERS:
            raise ValueError(f'instance_filter must be one of {FILTERS}, got {instance_filter!r}')
        if not protected_refs_files:
            raise ValueError('name the RefCOCO / RefCOCO+ / RefCOCOg refs files whose '
                             'evaluation images must stay out of pseudo-labelling')
        self.checkpoint = checkpoint
        self.unannotated = dict(unannotated, min_area=0)
        self.protected_refs_files = list(protected_refs_files)
        self.out_file = out_file
        self.num_expressions = num_expressions
        self.instance_filter = instance_filter
        self.min_area = min_area
        self.seed = seed
        self.refer_back = refer_back
        self.weight = weight
        if human_repeat < 1:
            raise ValueError(f'human_repeat must be >= 1, got {human_repeat}')
        self.human_repeat = human_repeat
        self.batch_size = batch_size
        self.chunk_size = chunk_size
        self.num_workers = num_workers
        self.model = model

    # ---------------------------------------------------------------- runner
    def before_train(self, runner, model) -> None:
        """Generate (or reuse) the pseudo refs, then train on human + pseudo refs."""
        out_file = self.out_file or osp.join(runner.work_dir, 'pseudo_refs.json')
        provenance = self.provenance(runner.cfg.test_dataloader.dataset.pipeline)
        if runner.iter > 0:  # resumed: the file this run started with, never a new one
            if not osp.isfile(out_file):
                raise FileNotFoundError(f'resuming step 3 needs its pseudo refs {out_file}')
            if _load_json(out_file).get(PROVENANCE_KEY) != provenance:
                print_log(f'{out_file} was made with other settings than the config now has; '
                          'resuming with it all the same', logger='current',
                          level=logging.WARNING)
            print_log(f'resumed at iteration {runner.iter}: pseudo refs from {out_file}',
                      logger='current')
        elif self.is_current(out_file, provenance):
            print_log(f'pseudo refs made by the same checkpoint and settings: reusing {out_file}',
                      logger='current')
        else:
            device = next(model.parameters()).device
            self.generate(self.model or runner.cfg.model, out_file,
                          runner.cfg.test_dataloader.dataset.pipeline, device)
        self.train_on_human_and_pseudo_refs(runner, out_file)

    def train_on_human_and_pseudo_refs(self, runner, out_file: str) -> None:
        """Replace the training data by the concatenation of the human dataset and the
        pseudo refs (same pipeline, same sampler settings)."""
        from mmengine.runner.loops import _InfiniteDataloaderIterator
        human = copy.deepcopy(runner.cfg.train_dataloader.dataset)
        pool = DATASETS.build(dict(self.unannotated, lazy_init=True))
        pseudo = dict(type='RefCocoDataset', data_root='', ann_file=pool.ann_file,
                      split_file=osp.abspath(out_file), split='train',
                      mode=human.get('mode', 'train'), data_prefix=pool.data_prefix,
                      pipeline=human['pipeline'], backend_args=human.get('backend_args'))
        loader_cfg = copy.deepcopy(runner.cfg.train_dataloader)
        if self.human_repeat > 1:
            human = dict(type='RepeatDataset', dataset=human, times=self.human_repeat)
        loader_cfg['dataset'] = dict(type='ConcatDataset', datasets=[human, pseudo])
        loader = runner.build_dataloader(loader_cfg, seed=runner.seed)
        loop = runner.train_loop
        # mmengine's loops build their dataloader before any hook runs; replacing it (and
        # the iterator of IterBasedTrainLoop) before the first iteration is the only way
        # in, as mmdet's PipelineSwitchHook also reaches into the loop's loader
        loop.dataloader = loader
        if hasattr(loop, 'dataloader_iterator'):
            loop.dataloader_iterator = _InfiniteDataloaderIterator(loader)
        sizes = [len(d) for d in loader.dataset.datasets]
        repeat = f' x {self.human_repeat}' if self.human_repeat > 1 else ''
        print_log(f'generation supervision: training on {sizes[0] // self.human_repeat} human'
                  f'{repeat} and {sizes[1]} pseudo samples (pseudo weight {self.weight})',
                  logger='current')

    # ---------------------------------------------------------------- provenance
    def settings(self) -> dict:
        return dict(num_expressions=self.num_expressions, instance_filter=self.instance_filter,
                    min_area=self.min_area, seed=self.seed, refer_back=self.refer_back,
                    weight=self.weight, unannotated=self.unannotated,
                    protected_refs_files=self.protected_refs_files)

    def provenance(self, pipeline: Sequence[dict]) -> dict:
        """What the file depends on: the checkpoint (path and content) and the settings."""
        return dict(checkpoint=osp.abspath(self.checkpoint),
                    checkpoint_sha256=_sha256(self.checkpoint),
                    settings=json.loads(json.dumps(dict(self.settings(), pipeline=pipeline),
                                                   sort_keys=True)))

    @staticmethod
    def is_current(out_file: str, provenance: dict) -> bool:
        return osp.isfile(out_file) and _load_json(out_file).get(PROVENANCE_KEY) == provenance

    # ---------------------------------------------------------------- generation
    def select_instances(self, dataset) -> Dict[int, List[int]]:
        """``{dataset index: [ann_id to describe]}`` after the instance filter."""
        candidates = [(idx, ref['ann_id'], ref['area']) for idx in range(len(dataset))
                      for ref in dataset.get_data_info(idx)['refs']]
        if self.instance_filter == 'none':
            kept = candidates
        elif self.instance_filter == 'area':
            kept = [c for c in candidates if c[2] >= self.min_area]
        else:  # as many as the area filter keeps, chosen at random
            count = sum(c[2] >= self.min_area for c in candidates)
            rng = np.random.default_rng(self.seed)
            kept = [candidates[i] for i in sorted(rng.choice(len(candidates), count,
                                                             replace=False))]
        selected: Dict[int, List[int]] = {}
        for idx, ann_id, _ in kept:
            selected.setdefault(idx, []).append(ann_id)
        return selected

    @torch.no_grad()
    def generate(self, model_cfg: dict, out_file: str, pipeline: Sequence[dict],
                 device: torch.device) -> dict:
        """Write the pseudo refs file (every rank takes part; rank 0 merges).

        Returns:
            dict: counts (images, instances, expressions, refer-back rejections) and
            throughput.
        """
        rank, world_size = get_dist_info()
        start = time.perf_counter()
        provenance = self.provenance(pipeline)
        dataset = DATASETS.build(dict(self.unannotated, pipeline=pipeline))
        selected = self.select_instances(dataset)
        wanted = {ann_id for ann_ids in selected.values() for ann_id in ann_ids}
        indices = sorted(selected)
        chunks = [indices[i:i + self.chunk_size]
                  for i in range(0, len(indices), self.chunk_size)]
        parts = out_file + '.parts'
        if rank == 0:
            os.makedirs(parts, exist_ok=True)
            if not osp.isfile(osp.join(parts, 'provenance.json')) or \
                    _load_json(osp.join(parts, 'provenance.json')) != provenance:
                shutil.rmtree(parts)
                os.makedirs(parts)
                _dump(provenance, osp.join(parts, 'provenance.json'))
        barrier()
        mine = [k for k in range(len(chunks)) if k % world_size == rank
                and not osp.isfile(osp.join(parts, f'{k:06d}.json'))]
        forbidden = evaluation_image_ids(self.protected_refs_files)
        model = self._build_model(model_cfg, device)
        stats = dict(images=0, instances=0, expressions=0, rejected=0)
        progress = ProgressBar(sum(len(chunks[k]) for k in mine)) if rank == 0 and mine else None
        for k in mine:
            refs = []
            loader = DataLoader(dataset, batch_size=self.batch_size, sampler=chunks[k],
                                num_workers=self.num_workers, collate_fn=pseudo_collate)
            for batch in loader:
                refs += self._describe(model, batch, wanted, forbidden, stats)
                if progress is not None:
                    for _ in batch['data_samples']:
                        progress.update()
            self._write_chunk(refs, osp.join(parts, f'{k:06d}.json'))
        barrier()
        if rank == 0:
            refs = [ref for k in range(len(chunks))
                    for ref in _load_json(osp.join(parts, f'{k:06d}.json'))]
            _dump({PROVENANCE_KEY: provenance, 'refs': refs}, out_file)
            shutil.rmtree(parts)
        barrier()
        seconds = time.perf_counter() - start
        stats.update(seconds=seconds, instances_per_s=stats['instances'] / max(seconds, 1e-9))
        print_log(f'pseudo refs: rank {rank} described {stats["instances"]} instances of '
                  f'{stats["images"]} images ({stats["expressions"]} expressions kept, '
                  f'{stats["rejected"]} rejected by refer-back) in {seconds:.1f} s; '
                  f'written to {out_file}', logger='current')
        return stats

    @staticmethod
    def _write_chunk(refs: List[dict], path: str) -> None:
        _dump(refs, path)

    def _build_model(self, model_cfg: dict, device: torch.device):
        # vocabulary from the checkpoint, loaded strictly
        return build_model_from_checkpoint(Config(dict(model=copy.deepcopy(model_cfg))),
                                           self.checkpoint, device=str(device))

    def _describe(self, model, batch: dict, wanted: Set[int], forbidden: Set[int],
                  stats: dict) -> List[dict]:
        """Pseudo refs of one batch of images: one proposal pass, all instances decoded
        together."""
        data = model.data_preprocessor(batch, False)
        samples = data['data_samples']
        for sample in samples:
            img_id = int(sample.metainfo['img_id'])
            if img_id in forbidden:
                raise LeakageError(f'image {img_id} belongs to a RefCOCO/+/g evaluation split '
                                   'and must never be pseudo-labelled')
            keep = torch.as_tensor([a in wanted for a in sample.gt_refs.ann_ids.tolist()],
                                   dtype=torch.bool)
            sample.gt_refs = sample.gt_refs[keep]
        stats['images'] += len(samples)
        proposals, cls_list, mask_list = model.extract_proposals(data['inputs'], samples)
        gt_to_prop = model.match(cls_list[-1], mask_list[-1], samples)
        rows = gather_ref_targets(samples, gt_to_prop, 'refs').to(proposals.device)
        if len(rows) == 0:
            return []
        texts, _ = model.generation_head.generate(
            proposals, rows.img_inds, rows.prop_inds, beam_size=self.num_expressions,
            cuda_graph=model.test_cfg.get('cuda_graph', False))
        keep = [[True] * len(beams) for beams in texts]
        if self.refer_back:
            flat = [t for beams in texts for t in beams]
            rep = torch.arange(len(texts), device=proposals.device).repeat_interleave(
                self.num_expressions)
            picks = model.select(proposals[rows.img_inds[rep]], flat).argmax(-1)
            keep = (picks == rows.prop_inds[rep]).view(len(texts), -1).tolist()
        refs = []
        for m, (img, ref_row) in enumerate(zip(rows.img_inds.tolist(), rows.ref_inds.tolist())):
            gt_refs = samples[img].gt_refs
            ann_id = int(gt_refs.ann_ids[ref_row])
            sentences = [t for t, ok in zip(texts[m], keep[m]) if ok]
            stats['instances'] += 1
            stats['rejected'] += len(texts[m]) - len(sentences)
            if not sentences:
                continue
            stats['expressions'] += len(sentences)
            sent_ids = [ann_id * 10 + j for j in range(len(sentences))]
            refs.append(dict(
                ref_id=ann_id, ann_id=ann_id, image_id=int(samples[img].metainfo['img_id']),
                split='train', weight=self.weight, generated=True, sent_ids=sent_ids,
                sentences=[dict(sent_id=i, raw=t, sent=t, tokens=t.split())
                           for i, t in zip(sent_ids, sentences)]))
        return refs
