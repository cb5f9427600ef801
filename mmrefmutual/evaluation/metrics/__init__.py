from mmrefmutual.utils.cider import CiderD  # noqa: F401 (shared with the RL reward)
from .reg_metric import REGMetric
from .res_metric import RESMetric

__all__ = ['CiderD', 'REGMetric', 'RESMetric']
