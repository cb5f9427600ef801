import json

from mmrefmutual.evaluation import dump_results_json, format_results_table

RESULTS = {
    'val': {
        'reg/METEOR': 0.2712, 'reg/CIDEr': 0.8531, 'reg/Rb-Acc': 81.25,
        'res/mIoU': 70.123, 'res/oIoU': 68.5, 'res/Pr@0.5': 80.0, 'res/Pr@0.7': 70.0,
        'res/Pr@0.9': 20.0, 'res/REC@0.5': 85.0, 'coco/bbox_mAP': 0.5
    },
    'testA': {
        'METEOR': 0.3, 'CIDEr': 0.9, 'mIoU': 72.0, 'oIoU': 70.0, 'Pr@0.5': 82.0,
        'Pr@0.7': 71.0, 'Pr@0.9': 21.0, 'REC@0.5': 86.0
    },
}


def test_paper_layout():
    text = format_results_table(RESULTS, method='RefMutual')
    lines = text.splitlines()
    reg_header = next(line for line in lines if 'Meteor' in line)
    # REG: Meteor | CIDEr | Rb-Acc per split; no split has the oracle score -> no column
    assert [c.strip() for c in reg_header.split('|')[1:-1]] == [
        '', 'Meteor', 'CIDEr', 'Rb-Acc', 'Meteor', 'CIDEr', 'Rb-Acc'
    ]
    assert 'Oracle' not in text and 'bbox_mAP' not in text
    reg_row = next(line for line in lines if 'RefMutual' in line)
    assert [c.strip() for c in reg_row.split('|')[1:-1]] == [
        'RefMutual', '0.271', '0.853', '81.25', '0.300', '0.900', '-'
    ]
    res_header = next(line for line in lines if 'mIoU' in line)
    assert [c.strip() for c in res_header.split('|')[1:-1]][1:7] == [
        'mIoU', 'oIoU', 'Pr@0.5', 'Pr@0.7', 'Pr@0.9', 'REC acc'
    ]
    split_row = next(line for line in lines if 'testA' in line and 'val' in line)
    assert split_row.index('val') < split_row.index('testA')


def test_split_layout_and_oracle_column():
    results = {'val': {'reg/METEOR': 0.25, 'reg/CIDEr': 1.5,
                       'reg/oracle_unambiguity': 64.0}}
    text = format_results_table(results, tasks=['REG'], layout='splits')
    header, row = [line for line in text.splitlines() if '|' in line]
    assert [c.strip() for c in header.split('|')[1:-1]] == [
        'Split', 'Meteor', 'CIDEr', 'Oracle unamb.'
    ]
    assert [c.strip() for c in row.split('|')[1:-1]] == ['val', '0.250', '1.500', '64.00']
    assert format_results_table({'val': {'coco/bbox_mAP': 0.5}}) == ''


def test_json(tmp_path):
    payload = dump_results_json(RESULTS, str(tmp_path / 'table.json'))
    with open(tmp_path / 'table.json') as f:
        assert json.load(f) == payload
    assert list(payload) == ['REG', 'RES']
    assert payload['REG']['val'] == {'Meteor': 0.2712, 'CIDEr': 0.8531, 'Rb-Acc': 81.25}
    assert payload['REG']['testA']['Rb-Acc'] is None
    assert payload['RES']['testA']['REC acc'] == 86.0
