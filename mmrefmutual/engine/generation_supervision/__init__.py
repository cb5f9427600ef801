"""Generation supervision (REG -> RES, paper Sec. 3.3.2), in parts with one job each:
the settings (:class:`GenerationSettings`), the instance and refer-back filters
(:mod:`.filters`), the pseudo refs file (:class:`PseudoRefWriter`) and the switch of the
training data to human + pseudo refs (:mod:`.data_switch`). ``MutualSupervisionHook``
puts them together."""
from .data_switch import human_and_pseudo_dataloader, switch_train_dataloader
from .filters import (area_filter, grounded_to_own_instance, pool_candidates, random_filter,
                      rank_by_margin, refer_back_margins, select_instances)
from .settings import FILTERS, GenerationSettings
from .writer import PROVENANCE_KEY, PseudoRefWriter

__all__ = ['FILTERS', 'GenerationSettings', 'PROVENANCE_KEY', 'PseudoRefWriter',
           'area_filter', 'grounded_to_own_instance', 'human_and_pseudo_dataloader',
           'pool_candidates', 'random_filter', 'rank_by_margin', 'refer_back_margins',
           'select_instances', 'switch_train_dataloader']
