"""Registries of mmrefmutual, children of mmdet's.

Every registry is a child of mmdet's registry of the same kind, so that with
``default_scope='mmrefmutual'`` a config can name both our modules and every
mmdet/mmengine module (``Mask2Former``, ``ResNet``, ``SwinTransformer``,
``HungarianAssigner``, ``AdamW``...). ``locations`` lets the registries import
our modules lazily the first time a name is looked up.
"""
from mmdet.registry import DATA_SAMPLERS as MMDET_DATA_SAMPLERS
from mmdet.registry import DATASETS as MMDET_DATASETS
from mmdet.registry import EVALUATOR as MMDET_EVALUATOR
from mmdet.registry import HOOKS as MMDET_HOOKS
from mmdet.registry import LOOPS as MMDET_LOOPS
from mmdet.registry import METRICS as MMDET_METRICS
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMDET_OPTIM_WRAPPER_CONSTRUCTORS
from mmdet.registry import OPTIM_WRAPPERS as MMDET_OPTIM_WRAPPERS
from mmdet.registry import OPTIMIZERS as MMDET_OPTIMIZERS
from mmdet.registry import PARAM_SCHEDULERS as MMDET_PARAM_SCHEDULERS
from mmdet.registry import TASK_UTILS as MMDET_TASK_UTILS
from mmdet.registry import TRANSFORMS as MMDET_TRANSFORMS
from mmdet.registry import VISBACKENDS as MMDET_VISBACKENDS
from mmdet.registry import VISUALIZERS as MMDET_VISUALIZERS
from mmdet.registry import WEIGHT_INITIALIZERS as MMDET_WEIGHT_INITIALIZERS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import Registry

# A direct child of mmengine's root, as MODEL_WRAPPERS below: mmengine builds runners from
# its root registry, which resolves 'mmrefmutual.RefRunner' only for its direct children.
RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS, locations=['mmrefmutual.engine'])
LOOPS = Registry('loop', parent=MMDET_LOOPS, locations=['mmrefmutual.engine'])
HOOKS = Registry('hook', parent=MMDET_HOOKS, locations=['mmrefmutual.engine.hooks'])
DATASETS = Registry('dataset', parent=MMDET_DATASETS, locations=['mmrefmutual.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMDET_DATA_SAMPLERS, locations=['mmrefmutual.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMDET_TRANSFORMS, locations=['mmrefmutual.datasets.transforms'])
MODELS = Registry('model', parent=MMDET_MODELS, locations=['mmrefmutual.models'])
# A direct child of mmengine's root (mmdet registers no wrappers): Runner.wrap_model
# looks wrappers up in the root registry, which resolves 'mmrefmutual.X' only for
# its direct children.
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, locations=['mmrefmutual.models'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer', parent=MMDET_WEIGHT_INITIALIZERS, locations=['mmrefmutual.models'])
TASK_UTILS = Registry('task util', parent=MMDET_TASK_UTILS, locations=['mmrefmutual.models'])
OPTIMIZERS = Registry('optimizer', parent=MMDET_OPTIMIZERS, locations=['mmrefmutual.engine'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper', parent=MMDET_OPTIM_WRAPPERS, locations=['mmrefmutual.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=MMDET_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['mmrefmutual.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMDET_PARAM_SCHEDULERS, locations=['mmrefmutual.engine'])
METRICS = Registry('metric', parent=MMDET_METRICS, locations=['mmrefmutual.evaluation'])
EVALUATOR = Registry('evaluator', parent=MMDET_EVALUATOR, locations=['mmrefmutual.evaluation'])
VISUALIZERS = Registry(
    'visualizer', parent=MMDET_VISUALIZERS, locations=['mmrefmutual.visualization'])
VISBACKENDS = Registry(
    'vis_backend', parent=MMDET_VISBACKENDS, locations=['mmrefmutual.visualization'])
