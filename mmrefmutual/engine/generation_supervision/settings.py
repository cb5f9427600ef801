"""The settings of step 3, as one typed object checked when it is made."""
from dataclasses import dataclass, field
from typing import List, Optional

#: The instance filters (see :mod:`.filters`).
FILTERS = ('area', 'random', 'none')


@dataclass
class GenerationSettings:
    """What ``MutualSupervisionHook(generation_supervision=...)`` and
    ``tools/generate_pseudo_refs.py`` take (the keys of the config dict).

    Args:
        checkpoint (str): The model that writes the expressions (the step-2 model); the
            network being trained may start from another initialisation.
        unannotated (dict): ``UnannotatedInstanceDataset`` config: the pool of
            instances in images without any referring expression. Its ``min_area`` is
            replaced by 0: the instance filter chooses the instances.
        protected_refs_files (list[str]): Refs files (RefCOCO, RefCOCO+, RefCOCOg)
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
        candidates (int): Beams searched per instance before choosing (0: as many as
            ``num_expressions``, the paper's best beams). More than ``num_expressions``:
            refer-back as ranking (ours): the ``num_expressions`` candidates that the model's
            own selection head grounds back to their instance with the largest margin (its
            score on the instance minus its best on another proposal) are kept, best first;
            with ``refer_back`` those among them not grounded back are then dropped.
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

    checkpoint: str
    unannotated: dict
    protected_refs_files: List[str]
    out_file: Optional[str] = None
    num_expressions: int = 3
    instance_filter: str = 'area'
    min_area: float = 32 * 32
    seed: int = 0
    refer_back: bool = False
    candidates: int = 0
    weight: float = 0.1
    human_repeat: int = 1
    batch_size: int = 8
    chunk_size: int = 64
    num_workers: int = 0
    model: Optional[dict] = field(default=None)

    def __post_init__(self) -> None:
        if self.instance_filter not in FILTERS:
            raise ValueError(f'instance_filter must be one of {FILTERS}, '
                             f'got {self.instance_filter!r}')
        if not self.protected_refs_files:
            raise ValueError('name the RefCOCO / RefCOCO+ / RefCOCOg refs files whose '
                             'evaluation images must stay out of pseudo-labelling')
        for name, least in (('num_expressions', 1), ('human_repeat', 1), ('batch_size', 1),
                            ('chunk_size', 1), ('num_workers', 0), ('seed', 0),
                            ('candidates', 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValueError(f'{name} must be an integer >= {least}, got {value!r}')
        for name in ('min_area', 'weight'):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f'{name} must be a number >= 0, got {value!r}')
        if not isinstance(self.refer_back, bool):
            raise ValueError(f'refer_back must be True or False, got {self.refer_back!r}')
        if self.candidates and self.candidates < self.num_expressions:
            raise ValueError(f'candidates ({self.candidates}) must be 0 or >= num_expressions '
                             f'({self.num_expressions})')
        # values are kept as given (no int -> float): they are written into the file
        self.unannotated = dict(self.unannotated, min_area=0)
        self.protected_refs_files = list(self.protected_refs_files)

    def file_settings(self) -> dict:
        """The settings the pseudo refs file depends on (its provenance records them)."""
        return dict(num_expressions=self.num_expressions, instance_filter=self.instance_filter,
                    min_area=self.min_area, seed=self.seed, refer_back=self.refer_back,
                    weight=self.weight, unannotated=self.unannotated,
                    protected_refs_files=self.protected_refs_files,
                    # only when set: files written before it existed stay current
                    **({'candidates': self.candidates} if self.ranks else {}))

    @property
    def ranks(self) -> bool:
        """Whether more beams are searched than kept (refer-back as ranking)."""
        return self.candidates > self.num_expressions
