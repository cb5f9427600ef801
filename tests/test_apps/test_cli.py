"""tools/human_eval.py end to end, in process: create, oracle, oracle-check, table, export."""
import csv
import importlib.util
import json
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'human_eval_tool', osp.join(REPO, 'tools', 'human_eval.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli(synthetic_root, reg_dumps, tmp_path, capsys):
    tool = load_tool()
    study = str(tmp_path / 'cli.sqlite')
    ann_file = osp.join(synthetic_root, 'refcoco', 'instances.json')
    args = ['create', study, '--data-root', synthetic_root, '--human-control', '--n', '4',
            '--model', f'precise={reg_dumps["precise"]}', '--model', f'vague={reg_dumps["vague"]}']
    assert tool.main(args) == 0
    assert '36 items' in capsys.readouterr().out
    assert tool.main(args) == 2  # never overwritten
    assert 'never overwritten' in capsys.readouterr().err
    assert tool.main(['add-annotator', study, 'bad name']) == 2
    assert tool.main(['oracle', study, '--ann-file', ann_file]) == 0
    assert 'oracle2: 36 answers recorded' in capsys.readouterr().out
    assert tool.main(['oracle-check', study, '--ann-file', ann_file]) == 0
    out = capsys.readouterr().out
    assert out.count('equal') == 9 and 'DIFFERENT' not in out
    assert tool.main(['table', study]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0] == '| H-Acc (%) | val | testA | testB |'
    assert '| precise vs vague |' in table and 'human reference (control)' in table
    assert tool.main(['export', study, '--json', str(tmp_path / 's.json'),
                      '--csv', str(tmp_path / 's.csv')]) == 0
    with open(tmp_path / 's.json') as f:
        scores = json.load(f)
    with open(tmp_path / 's.csv') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 9 and scores['complete']
    row = next(r for r in rows if r['split'] == 'val' and r['model'] == 'vague')
    assert float(row['h_acc']) == scores['results']['val']['vague']['h_acc']
    # a dump edited after the study was made is noticed
    dump = osp.join(reg_dumps['vague'], 'val', 'expressions_val.reg_expressions.json')
    with open(dump) as f:
        original = f.read()
    try:
        with open(dump, 'w') as f:
            f.write(original.replace('the ', 'a '))
        assert tool.main(['oracle-check', study, '--ann-file', ann_file]) == 2
        assert 'changed since the study was made' in capsys.readouterr().err
    finally:
        with open(dump, 'w') as f:
            f.write(original)
