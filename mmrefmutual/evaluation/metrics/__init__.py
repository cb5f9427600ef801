from .cider import CiderD
from .reg_metric import REGMetric
from .res_metric import RESMetric

__all__ = ['CiderD', 'REGMetric', 'RESMetric']
