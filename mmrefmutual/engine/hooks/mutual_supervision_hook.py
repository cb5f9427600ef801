"""The two directions of mutual supervision (paper Sec. 3.3) in an mmengine runner."""
import logging
import os.path as osp
from typing import Dict, Iterator, List, Optional

from mmengine.dataset import ConcatDataset
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from mmrefmutual.engine.generation_supervision import (GenerationSettings, PseudoRefWriter,
                                                       human_and_pseudo_dataloader,
                                                       switch_train_dataloader)
from mmrefmutual.registry import HOOKS, TASK_UTILS


def leaf_datasets(dataset) -> Iterator:
    """The datasets inside mmengine's dataset wrappers (concat, repeat, balance)."""
    if isinstance(dataset, ConcatDataset):
        for child in dataset.datasets:
            yield from leaf_datasets(child)
    elif hasattr(dataset, 'dataset'):
        yield from leaf_datasets(dataset.dataset)
    else:
        yield dataset


@HOOKS.register_module()
class MutualSupervisionHook(Hook):
    """Orchestrates disambiguation supervision (step 2) and generation supervision
    (step 3); the model keeps the loss math and what is frozen.

    ``disambiguation=dict(reward=...)`` (RES -> REG): in ``before_train`` it checks the
    set-up (``train_cfg.reg_loss='policy_gradient'``, only the generation head
    trainable, every sentence of a ref in the batch: they are CIDEr's references),
    builds the reward (a ``TASK_UTILS`` config, e.g. ``UnambiguityCiderReward``) with
    the CIDEr-D corpus of the training dataset itself, and hands it to the model
    (``RefMutual.set_reward``). The model then logs the reward and its parts
    (``reward_unambiguity``, ``reward_cider``, ``reward_target_wins``: the share of
    samples whose target wins the selection head's softmax).

    ``generation_supervision=dict(...)`` (REG -> RES): in ``before_train`` the pseudo
    refs file is written by :class:`PseudoRefWriter` (or reused when it was made by the
    same checkpoint and settings; a resumed run keeps the file it started with), then the
    training data becomes human + pseudo refs.

    Args:
        disambiguation (dict, optional): ``reward``: the reward config (its ``corpus``
            is filled in).
        generation_supervision (dict, optional): The fields of
            :class:`~mmrefmutual.engine.generation_supervision.GenerationSettings`.
    """

    priority = 'NORMAL'

    def __init__(self, disambiguation: Optional[dict] = None,
                 generation_supervision: Optional[dict] = None) -> None:
        if disambiguation is None and generation_supervision is None:
            raise ValueError('MutualSupervisionHook needs disambiguation and/or '
                             'generation_supervision settings')
        if disambiguation is not None and 'reward' not in disambiguation:
            raise ValueError('disambiguation needs a reward config')
        self.disambiguation = disambiguation
        self.generation = None
        if generation_supervision is not None:
            self.generation = GenerationSettings(**generation_supervision)

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if self.generation is not None:
            self._setup_generation_supervision(runner, model)
        if self.disambiguation is not None:
            self._setup_disambiguation(runner, model)

    # ------------------------------------------------------------ step 2
    def _setup_disambiguation(self, runner, model) -> None:
        if model.ref_train_cfg['reg_loss'] != 'policy_gradient':
            raise ValueError('disambiguation supervision needs '
                             "model.train_cfg.reg_loss='policy_gradient'")
        trainable = [name for name, p in model.named_parameters()
                     if p.requires_grad and not name.startswith('generation_head.')]
        if trainable:
            raise ValueError('disambiguation supervision trains the generation head only, '
                             f'but {len(trainable)} other parameters are trainable (e.g. '
                             f'{trainable[:3]}): set model.frozen_modules')
        dataset = runner.train_dataloader.dataset
        self._check_all_sentences(dataset)
        corpus = self.training_corpus(dataset)
        reward = TASK_UTILS.build(self.disambiguation['reward'], default_args=dict(corpus=corpus))
        model.set_reward(reward)
        print_log(f'MutualSupervisionHook: disambiguation reward {type(reward).__name__} '
                  f'with the CIDEr-D corpus of {len(corpus)} training refs', logger='current')

    @staticmethod
    def training_corpus(dataset) -> Dict[int, List[str]]:
        """``{ref_id: sentences}`` of the human refs of the training data."""
        corpus: Dict[int, List[str]] = {}
        for leaf in leaf_datasets(dataset):
            if not hasattr(leaf, 'sentences_by_ref'):
                raise TypeError(f'{type(leaf).__name__} has no refs for the CIDEr-D corpus')
            corpus.update(leaf.sentences_by_ref())
        if not corpus:
            raise ValueError('the training dataset has no sentences for the CIDEr-D corpus')
        return corpus

    @staticmethod
    def _check_all_sentences(dataset) -> None:
        """The first training sample carries every sentence of its refs."""
        info, packed = dataset.get_data_info(0), dataset[0]['data_samples']
        for j, ref in enumerate(info['refs']):
            got = set(packed.gt_refs.sentences[j]) if 'sentences' in packed.gt_refs else set()
            missing = {s['sent'] for s in ref['sentences']} - got
            if missing:
                raise ValueError(f'ref {ref["ref_id"]} reaches the batch without the sentences '
                                 f'{sorted(missing)}: disambiguation supervision scores CIDEr '
                                 "against every sentence of a ref; don't drop them in the "
                                 'training pipeline')

    # ------------------------------------------------------------ step 3
    def _setup_generation_supervision(self, runner, model) -> None:
        """Write (or reuse) the pseudo refs, then train on human + pseudo refs."""
        settings = self.generation
        writer = PseudoRefWriter(settings)
        out_file = settings.out_file or osp.join(runner.work_dir, 'pseudo_refs.json')
        pipeline = runner.cfg.test_dataloader.dataset.pipeline
        provenance = writer.provenance(pipeline)
        if runner.iter > 0:  # resumed: the file this run started with, never a new one
            if not osp.isfile(out_file):
                raise FileNotFoundError(f'resuming step 3 needs its pseudo refs {out_file}')
            if not writer.is_current(out_file, provenance):
                print_log(f'{out_file} was made with other settings than the config now has; '
                          'resuming with it all the same', logger='current',
                          level=logging.WARNING)
            print_log(f'resumed at iteration {runner.iter}: pseudo refs from {out_file}',
                      logger='current')
        elif writer.is_current(out_file, provenance):
            print_log(f'pseudo refs made by the same checkpoint and settings: reusing {out_file}',
                      logger='current')
        else:
            writer.write(settings.model or runner.cfg.model, out_file, pipeline,
                         next(model.parameters()).device)
        loader = runner.build_dataloader(human_and_pseudo_dataloader(
            runner.cfg.train_dataloader, settings.unannotated, out_file, settings.human_repeat),
            seed=runner.seed)
        switch_train_dataloader(runner.train_loop, loader)
        sizes = [len(d) for d in loader.dataset.datasets]
        repeat = f' x {settings.human_repeat}' if settings.human_repeat > 1 else ''
        print_log(f'generation supervision: training on {sizes[0] // settings.human_repeat} '
                  f'human{repeat} and {sizes[1]} pseudo samples (pseudo weight '
                  f'{settings.weight})', logger='current')
