from mmdet.models.backbones import ResNet, SwinTransformer
from mmdet.models.detectors import Mask2Former
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmrefmutual.models import RefMutual
from mmrefmutual.registry import DATASETS, HOOKS, METRICS, MODELS, TRANSFORMS
from mmrefmutual.utils import register_all_modules


def test_registries_are_children_of_mmdet():
    assert MODELS.parent is MMDET_MODELS
    for registry in (DATASETS, TRANSFORMS, METRICS, HOOKS):
        assert registry.parent.scope == 'mmdet'


def test_mmdet_mask2former_config_resolves_in_our_scope():
    register_all_modules()
    assert DefaultScope.get_current_instance().scope_name == 'mmrefmutual'
    base = Config.fromfile(
        __import__('os').path.join(__import__('os').path.dirname(__file__), '..', '..',
                                   'configs', '_base_', 'models', 'refmutual_r18_tiny.py'))
    m2f = base.model.copy()
    m2f.type = 'Mask2Former'  # plain mmdet detector, built from our registry
    m2f.panoptic_head.type = 'Mask2FormerHead'
    for key in ('text_encoder', 'selection_head', 'generation_head'):
        m2f.pop(key)
    # mmdet's Mask2Former needs the fusion head our model does without
    m2f.panoptic_fusion_head = dict(type='MaskFormerFusionHead',
                                    num_things_classes=base.num_things_classes,
                                    num_stuff_classes=0)
    model = MODELS.build(m2f)
    assert type(model) is Mask2Former
    assert isinstance(model.backbone, ResNet)
    assert MODELS.get('SwinTransformer') is SwinTransformer
    assert MODELS.get('RefMutual') is RefMutual
    assert TRANSFORMS.get('Resize').__module__.startswith('mmdet')
    assert HOOKS.get('PlainCheckpointHook').__module__.startswith('mmrefmutual')


def test_runtime_imports_leave_the_synthetic_generator_out():
    """Everything a run registers (with the synthetic configs' ``custom_imports``) imports
    the synthetic oracle at most, never the benchmark generator (scenes, rendering,
    expression planning)."""
    import subprocess
    import sys
    code = ('import sys; from mmrefmutual.utils import register_all_modules; '
            'register_all_modules(); import mmrefmutual.apis, mmrefmutual_bench; '
            "print(sorted(m for m in sys.modules if 'synthetic' in m))")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout
    assert 'mmrefmutual_bench.synthetic.oracle' in out
    for module in ('generator', 'scene', 'describe'):
        assert f'mmrefmutual_bench.synthetic.{module}' not in out
