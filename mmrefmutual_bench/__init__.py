"""The synthetic benchmark beside the library: what the main job and the tests run on.

- ``synthetic/``: the benchmark (grammar, scenes, generator, variants) and its oracle.
- :class:`SyntheticOracleMetric`: the oracle's REG measures, registered in mmrefmutual's
  ``METRICS`` when this package is imported (the synthetic configs name it in
  ``custom_imports``).
- ``report.py`` / ``markdown_html.py``: the main job's report (``tools/run_embedded.py``)
  and the Markdown + HTML writer it shares with the study (``tools/run_study.py``).

``mmrefmutual`` (the paper) never imports this package; this package imports it.
"""
from .oracle_metric import SyntheticOracleMetric
from .synthetic import SyntheticOracle

__all__ = ['SyntheticOracle', 'SyntheticOracleMetric']
