from .metrics import CiderD, REGMetric, RESMetric
from .table import dump_results_json, format_results_table, results_to_rows

__all__ = [
    'CiderD', 'REGMetric', 'RESMetric', 'dump_results_json', 'format_results_table',
    'results_to_rows'
]
