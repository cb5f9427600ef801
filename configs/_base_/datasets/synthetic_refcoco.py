# The built-in synthetic referring benchmark (RefCOCO format, generated locally by
# tools/dataset_converters/make_synthetic_refcoco.py; see README).
_base_ = './refcoco.py'
data_root = 'data/synthetic/'
vocab_file = data_root + 'refcoco/vocab.txt'
image_size = 128
train_pipeline = [
    dict(type='LoadRefImage'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='RandomSelectExpression'),
    dict(type='PackRefInputs')
]
test_pipeline = [
    dict(type='LoadRefImage'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='PackRefInputs')
]
# no loader workers: on 2 CPU cores a worker takes a core from the model's two threads
# (measured: a step-1 iteration 0.44-0.48 s with one worker, 0.32 s without; loading a
# sample costs 2.6 ms)
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
# the benchmark's oracle metric lives beside the library, in mmrefmutual_bench
custom_imports = dict(imports=['mmrefmutual_bench'], allow_failed_imports=False)
# validation during training: the cheap measures (no Java): RES, and whether REG names the
# target's shape and is unambiguous according to the generator's oracle
val_evaluator = [
    dict(type='RESMetric'),
    dict(type='REGMetric', caption_metrics=False),
    dict(type='SyntheticOracleMetric', ann_file=data_root + 'refcoco/instances.json')
]
# testing: the paper's measures too (METEOR, CIDEr), and the oracle's
test_evaluator = [
    dict(type='RESMetric'),
    dict(type='REGMetric'),
    dict(type='SyntheticOracleMetric', ann_file=data_root + 'refcoco/instances.json')
]
