"""Human evaluation of REG, as the paper's Table 2 (H-Acc): studies, clicks, scoring.

- :mod:`.study`: create a study file from ``tools/test.py``'s REG dumps and the dataset;
- :mod:`.db`: the study's SQLite file (one transaction per click);
- :mod:`.scoring`: H-Acc, agreement, intervals, the paired test, Table 2's layout;
- :mod:`.oracle`: the synthetic benchmark's oracle as an annotator.

These modules use the standard library, numpy, Pillow and pycocotools only.
"""
from .db import (HUMAN, AlreadyAnswered, NotFound, NothingToUndo, StudyDB, StudyError)
from .scoring import (cohen_kappa, format_table, mcnemar_exact, paired_bootstrap,
                      score_study, to_csv, wilson_interval)
from .study import add_annotator, create_study, find_dumps

__all__ = [
    'HUMAN', 'AlreadyAnswered', 'NotFound', 'NothingToUndo', 'StudyDB', 'StudyError',
    'cohen_kappa', 'format_table', 'mcnemar_exact', 'paired_bootstrap', 'score_study',
    'to_csv', 'wilson_interval', 'add_annotator', 'create_study', 'find_dumps'
]
