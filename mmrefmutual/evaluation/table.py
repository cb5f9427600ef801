"""Format evaluation results per split in the paper's table layout.

REG columns: Meteor | CIDEr | Rb-Acc | oracle unambiguity | category named (the last two:
the synthetic benchmark's ``SyntheticOracleMetric``, in ``mmrefmutual_bench``, where it runs).
RES columns: mIoU | oIoU | Pr@0.5 | Pr@0.7 | Pr@0.9 | REC acc.

Input everywhere is ``{split_name: metrics_dict}`` where ``metrics_dict`` is what
``Runner.val()/test()`` returns (keys such as ``'reg/CIDEr'`` or ``'res/mIoU'``; bare names
like ``'CIDEr'`` are accepted too). Columns that no split reports are left out; a value
missing for one split only is shown as ``-`` (``null`` in JSON).
"""
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from mmengine.fileio import dump
from terminaltables import AsciiTable

# (column title, metric name without prefix, format)
Column = Tuple[str, str, str]
TABLE_COLUMNS: Dict[str, List[Column]] = OrderedDict(
    REG=[
        ('Meteor', 'METEOR', '{:.3f}'),
        ('CIDEr', 'CIDEr', '{:.3f}'),
        ('Rb-Acc', 'Rb-Acc', '{:.2f}'),
        ('Oracle unamb.', 'oracle_unambiguity', '{:.2f}'),
        ('Cat. named', 'category_named', '{:.2f}'),
    ],
    RES=[
        ('mIoU', 'mIoU', '{:.2f}'),
        ('oIoU', 'oIoU', '{:.2f}'),
        ('Pr@0.5', 'Pr@0.5', '{:.2f}'),
        ('Pr@0.7', 'Pr@0.7', '{:.2f}'),
        ('Pr@0.9', 'Pr@0.9', '{:.2f}'),
        ('REC acc', 'REC@0.5', '{:.2f}'),
    ])


def _bare(metrics: Mapping[str, float]) -> Dict[str, float]:
    """Drop the ``prefix/`` of metric names (``'reg/CIDEr'`` -> ``'CIDEr'``)."""
    return {key.rsplit('/', 1)[-1]: value for key, value in metrics.items()}


def results_to_rows(
    results: Mapping[str, Mapping[str, float]],
    tasks: Optional[Sequence[str]] = None
) -> Dict[str, Tuple[List[Column], Dict[str, List[Optional[float]]]]]:
    """Select the paper's columns of every task present in ``results``.

    Args:
        results (Mapping[str, Mapping[str, float]]): ``{split: metrics}``.
        tasks (Sequence[str], optional): Subset of ``('REG', 'RES')``. Defaults to every
            task with at least one value.

    Returns:
        dict: ``{task: (columns, {split: [value or None per column]})}``.
    """
    bare = OrderedDict((split, _bare(metrics)) for split, metrics in results.items())
    tables = OrderedDict()
    for task in (tasks or TABLE_COLUMNS.keys()):
        columns = [
            col for col in TABLE_COLUMNS[task]
            if any(col[1] in metrics for metrics in bare.values())
        ]
        if not columns:
            continue
        rows = OrderedDict((split, [metrics.get(col[1]) for col in columns])
                           for split, metrics in bare.items())
        tables[task] = (columns, rows)
    return tables


def format_results_table(results: Mapping[str, Mapping[str, float]],
                         tasks: Optional[Sequence[str]] = None,
                         method: str = 'Ours',
                         layout: str = 'paper') -> str:
    """Format results as ASCII tables, one per task.

    Args:
        results (Mapping[str, Mapping[str, float]]): ``{split: metrics}``, e.g.
            ``{'val': {...}, 'testA': {...}, 'testB': {...}}``.
        tasks (Sequence[str], optional): Subset of ``('REG', 'RES')``. Defaults to every
            task present.
        method (str): Row label in the ``'paper'`` layout. Defaults to ``'Ours'``.
        layout (str): ``'paper'``: one row for the method, splits side by side (split
            names above their column group), as in the paper; ``'splits'``: one row per
            split. Defaults to ``'paper'``.

    Returns:
        str: The tables separated by a blank line ('' if nothing to show).
    """
    assert layout in ('paper', 'splits'), f'unknown layout {layout}'
    out = []
    for task, (columns, rows) in results_to_rows(results, tasks).items():
        def fmt(value, col):
            return '-' if value is None else col[2].format(value)

        if layout == 'paper':
            header1, header2, row = ['Method'], [''], [method]
            for split, values in rows.items():
                header1 += [split] + [''] * (len(columns) - 1)
                header2 += [col[0] for col in columns]
                row += [fmt(v, col) for v, col in zip(values, columns)]
            data = [header1, header2, row]
        else:
            data = [['Split'] + [col[0] for col in columns]]
            data += [[split] + [fmt(v, col) for v, col in zip(values, columns)]
                     for split, values in rows.items()]
        table = AsciiTable(data, title=task)
        table.inner_footing_row_border = False
        out.append(table.table)
    return '\n\n'.join(out)


def dump_results_json(results: Mapping[str, Mapping[str, float]],
                      out_file: Optional[str] = None,
                      tasks: Optional[Sequence[str]] = None,
                      extractor: Optional[dict] = None) -> dict:
    """Same selection as :func:`format_results_table`, as JSON.

    Args:
        results (Mapping[str, Mapping[str, float]]): ``{split: metrics}``.
        out_file (str, optional): Where to write the JSON; only returned if None.
        tasks (Sequence[str], optional): Subset of ``('REG', 'RES')``.
        extractor (dict, optional): Provenance of the model's extractor
            (:func:`mmrefmutual.engine.hooks.extractor_provenance`), stored as
            ``extractor``; its ``warning`` says when evaluation images may have leaked.

    Returns:
        dict: ``{task: {split: {column title: value or None}}}`` (and ``extractor``).
    """
    payload = OrderedDict()
    for task, (columns, rows) in results_to_rows(results, tasks).items():
        payload[task] = OrderedDict(
            (split, OrderedDict((col[0], None if v is None else float(v))
                                for col, v in zip(columns, values)))
            for split, values in rows.items())
    if extractor is not None:
        payload['extractor'] = dict(extractor)
    if out_file is not None:
        dump(payload, out_file, indent=2)
    return payload
