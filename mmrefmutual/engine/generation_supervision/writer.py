"""The pseudo refs file of step 3 (paper Sec. 3.3.2): expressions written by the
generation head for the unannotated instances.

Generation is sharded in fixed chunks of images (chunk k goes to rank k mod world size),
each chunk written atomically when done, and the chunks are merged in order: the file is
byte-identical whatever the number of processes and whether the run was interrupted and
resumed (finished chunks are reused when their provenance matches).
"""
import copy
import functools
import hashlib
import json
import os
import os.path as osp
import shutil
import time
from typing import List, Sequence, Set

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

from .filters import grounded_to_own_instance, rank_by_margin, select_instances
from .settings import GenerationSettings

#: Key of the pseudo refs file that records how it was made.
PROVENANCE_KEY = 'mmrefmutual_pseudo_refs'


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


def dump_json(obj, path: str) -> None:
    """Write JSON atomically (a reader never sees half a file)."""
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w') as f:
        json.dump(obj, f, sort_keys=True, separators=(',', ':'))
    os.replace(tmp, path)


def load_json(path: str):
    with open(path) as f:
        return json.load(f)


class PseudoRefWriter:
    """Writes the pseudo refs file of :class:`GenerationSettings` (used by
    ``MutualSupervisionHook`` and ``tools/generate_pseudo_refs.py``).

    Args:
        settings (GenerationSettings): What to describe and how.
    """

    def __init__(self, settings: GenerationSettings) -> None:
        self.settings = settings

    # ---------------------------------------------------------------- provenance
    def provenance(self, pipeline: Sequence[dict]) -> dict:
        """What the file depends on: the checkpoint (path and content), the settings
        and the test pipeline the images go through."""
        checkpoint = self.settings.checkpoint
        return dict(checkpoint=osp.abspath(checkpoint), checkpoint_sha256=_sha256(checkpoint),
                    settings=json.loads(json.dumps(
                        dict(self.settings.file_settings(), pipeline=pipeline), sort_keys=True)))

    @staticmethod
    def is_current(out_file: str, provenance: dict) -> bool:
        """Whether ``out_file`` exists and was made with ``provenance``."""
        return osp.isfile(out_file) and load_json(out_file).get(PROVENANCE_KEY) == provenance

    # ---------------------------------------------------------------- writing
    @torch.no_grad()
    def write(self, model_cfg: dict, out_file: str, pipeline: Sequence[dict],
              device: torch.device) -> dict:
        """Write the pseudo refs file (every rank takes part; rank 0 merges).

        Args:
            model_cfg (dict): Config of the generating model (its weights come from
                ``settings.checkpoint``).
            out_file (str): The file.
            pipeline (list[dict]): Test pipeline of the pool's images.
            device (torch.device): Where the model runs.

        Returns:
            dict: counts (images, instances, expressions, refer-back rejections) and
            throughput.
        """
        s = self.settings
        rank, world_size = get_dist_info()
        start = time.perf_counter()
        provenance = self.provenance(pipeline)
        dataset = DATASETS.build(dict(s.unannotated, pipeline=pipeline))
        selected = select_instances(dataset, s.instance_filter, s.min_area, s.seed)
        wanted = {ann_id for ann_ids in selected.values() for ann_id in ann_ids}
        indices = sorted(selected)
        chunks = [indices[i:i + s.chunk_size] for i in range(0, len(indices), s.chunk_size)]
        parts = out_file + '.parts'
        if rank == 0:
            os.makedirs(parts, exist_ok=True)
            if not osp.isfile(osp.join(parts, 'provenance.json')) or \
                    load_json(osp.join(parts, 'provenance.json')) != provenance:
                shutil.rmtree(parts)
                os.makedirs(parts)
                dump_json(provenance, osp.join(parts, 'provenance.json'))
        barrier()
        mine = [k for k in range(len(chunks)) if k % world_size == rank
                and not osp.isfile(osp.join(parts, f'{k:06d}.json'))]
        forbidden = evaluation_image_ids(s.protected_refs_files)
        model = build_model_from_checkpoint(  # vocabulary from the checkpoint, strict
            Config(dict(model=copy.deepcopy(model_cfg))), s.checkpoint, device=str(device))
        stats = dict(images=0, instances=0, expressions=0, rejected=0)
        progress = ProgressBar(sum(len(chunks[k]) for k in mine)) if rank == 0 and mine else None
        for k in mine:
            refs = []
            loader = DataLoader(dataset, batch_size=s.batch_size, sampler=chunks[k],
                                num_workers=s.num_workers, collate_fn=pseudo_collate)
            for batch in loader:
                refs += self.describe(model, batch, wanted, forbidden, stats)
                if progress is not None:
                    for _ in batch['data_samples']:
                        progress.update()
            self.write_chunk(refs, osp.join(parts, f'{k:06d}.json'))
        barrier()
        if rank == 0:
            refs = [ref for k in range(len(chunks))
                    for ref in load_json(osp.join(parts, f'{k:06d}.json'))]
            dump_json({PROVENANCE_KEY: provenance, 'refs': refs}, out_file)
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
    def write_chunk(refs: List[dict], path: str) -> None:
        """One finished chunk, atomically: a chunk file on disk is always whole."""
        dump_json(refs, path)

    def describe(self, model, batch: dict, wanted: Set[int], forbidden: Set[int],
                 stats: dict) -> List[dict]:
        """Pseudo refs of one batch of images: one proposal pass, all instances decoded
        together. Raises :class:`LeakageError` on an image of ``forbidden``."""
        s = self.settings
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
            proposals, rows.img_inds, rows.prop_inds,
            beam_size=s.candidates if s.ranks else s.num_expressions,
            cuda_graph=model.test_cfg.get('cuda_graph', False))
        scores = model.score_texts(proposals, rows.img_inds, texts) if (
            s.ranks or s.refer_back) else None
        if s.ranks:  # refer-back as ranking: the best-grounded candidates, best first
            chosen = rank_by_margin(scores, rows.prop_inds, s.num_expressions)
            texts = [[row[j] for j in idx] for row, idx in zip(texts, chosen)]
            scores = torch.stack([scores[m, idx] for m, idx in enumerate(chosen)])
        keep = [[True] * len(beams) for beams in texts]
        if s.refer_back:
            keep = grounded_to_own_instance(scores, rows.prop_inds)
        refs = []
        for m, (img, ref_row) in enumerate(zip(rows.img_inds.tolist(), rows.ref_inds.tolist())):
            ann_id = int(samples[img].gt_refs.ann_ids[ref_row])
            sentences = [t for t, ok in zip(texts[m], keep[m]) if ok]
            stats['instances'] += 1
            stats['rejected'] += len(texts[m]) - len(sentences)
            if not sentences:
                continue
            stats['expressions'] += len(sentences)
            sent_ids = [ann_id * 10 + j for j in range(len(sentences))]
            refs.append(dict(
                ref_id=ann_id, ann_id=ann_id, image_id=int(samples[img].metainfo['img_id']),
                split='train', weight=s.weight, generated=True, sent_ids=sent_ids,
                sentences=[dict(sent_id=i, raw=t, sent=t, tokens=t.split())
                           for i, t in zip(sent_ids, sentences)]))
        return refs
