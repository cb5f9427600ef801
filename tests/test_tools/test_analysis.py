import importlib.util
import os.path as osp

import pytest


def _load_tool(name):
    path = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'analysis', f'{name}.py')
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


attrs_tool = _load_tool('synthetic_reg_attributes')


def test_head_attributes():
    f = attrs_tool.head_attributes
    assert f('the small red circle left of the blue square') == ('circle', 'red')
    assert f('second triangle from the right') == ('triangle', None)
    assert f('the green one') == (None, None)


def test_attribute_accuracy_hand_computed():
    def ann(i, shape, color):
        return dict(id=i, image_id=1, attributes=dict(shape=shape, color=color))
    coco = dict(annotations=[ann(1, 'circle', 'red'), ann(2, 'circle', 'blue'),
                             ann(3, 'square', 'red')])
    generated = [
        dict(ann_id=1, image_id=1, expression='the red circle'),        # shape+colour right
        dict(ann_id=2, image_id=1, expression='the red square'),        # both wrong
        dict(ann_id=3, image_id=1, expression='the square left of the circle'),  # no colour
    ]
    r = attrs_tool.attribute_accuracy(generated, coco)
    assert r['num'] == 3
    assert r['shape'] == pytest.approx(1 / 3 + 1 / 3 * 0 + 1 / 3)
    assert r['names_colour'] == pytest.approx(2 / 3)
    assert r['colour'] == pytest.approx(0.5)
    # random other object: ann 1 -> {2: circle/blue, 3: square/red}; ann 2 -> {1, 3};
    # ann 3 -> {1, 2}
    assert r['shape_other'] == pytest.approx((0.5 + 0.5 + 0.0) / 3)
    assert r['colour_other'] == pytest.approx((0.5 + 1.0) / 2)


breakdown_tool = _load_tool('reg_oracle_breakdown')


def _oracle():
    from mmrefmutual_bench.synthetic import CATEGORIES, SyntheticOracle
    objects = [(11, 'circle', 'red', 10, 10), (12, 'circle', 'red', 50, 10),
               (13, 'square', 'blue', 90, 60)]
    anns = [dict(id=a, image_id=1, category_id=1, bbox=[x, y, 10, 10], area=100.0,
                 segmentation=[[x, y, x + 10, y, x + 10, y + 10, x, y + 10]], iscrowd=0,
                 attributes=dict(shape=s, color=c, size='small', occluded_by=[]))
            for a, s, c, x, y in objects]
    return SyntheticOracle(dict(images=[dict(id=1, file_name='x.png', height=128,
                                             width=128)],
                                annotations=anns, categories=list(CATEGORIES)))


def test_oracle_breakdown_of_expressions():
    oracle = _oracle()

    def e(ann_id, text):
        return dict(image_id=1, ann_id=ann_id, expression=text)
    step1 = [e(11, 'the circle on the left'),   # target only
             e(11, 'the red circle'),           # several (11, 12)
             e(12, 'the blue square'),          # another only (13)
             e(13, 'the green square')]         # none: wrong colour
    assert [breakdown_tool.verdict(oracle, x) for x in step1] == [
        'target only', 'several', 'another only', 'none']
    b = breakdown_tool.breakdown(oracle, step1)
    assert [b[v] for v in breakdown_tool.VERDICTS] == [25.0, 25.0, 25.0, 25.0]
    assert b['num'] == 4 and b['words'] == pytest.approx((5 + 3 + 3 + 3) / 4)
    step2 = [e(11, 'the green circle'), e(12, 'the green circle'),
             e(13, 'the green square'), e(13, 'the blue square')]
    assert breakdown_tool.breakdown(oracle, step2)['none'] == 75.0
    shift = breakdown_tool.word_shift(step1, step2, top=4)
    # 'green' 25 -> 75 % first; then the words of 'on the left' and 'red', 25 -> 0 %
    # (ties by word); 'circle' and 'square' keep their 50 %
    assert shift == [('green', 25.0, 75.0), ('left', 25.0, 0.0), ('on', 25.0, 0.0),
                     ('red', 25.0, 0.0)]
    with pytest.raises(ValueError, match='no expressions'):
        breakdown_tool.breakdown(oracle, [])
