import importlib.util
import os.path as osp

import pytest

_PATH = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'analysis',
                 'synthetic_reg_attributes.py')
spec = importlib.util.spec_from_file_location('synthetic_reg_attributes', _PATH)
attrs_tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(attrs_tool)


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
