"""The two directions of mutual supervision (paper Sec. 3.3) in an mmengine runner."""
from typing import Dict, Iterator, List, Optional

from mmengine.dataset import ConcatDataset
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

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

    ``generation_supervision=dict(...)`` (REG -> RES): see
    :class:`~mmrefmutual.engine.GenerationSupervision`: before training, pseudo refs are
    generated (or reused) and the training data becomes human + pseudo refs.

    Args:
        disambiguation (dict, optional): ``reward``: the reward config (its ``corpus``
            is filled in).
        generation_supervision (dict, optional): Arguments of
            :class:`~mmrefmutual.engine.GenerationSupervision`.
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
        self.generation_supervision = None
        if generation_supervision is not None:
            from mmrefmutual.engine.generation_supervision import GenerationSupervision
            self.generation_supervision = GenerationSupervision(**generation_supervision)

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if self.generation_supervision is not None:
            self.generation_supervision.before_train(runner, model)
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
