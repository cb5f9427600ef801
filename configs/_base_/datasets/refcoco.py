# RefCOCO (UNC partition). Layout (as the refer API / mmdet's RefCocoDataset):
#   data/coco/train2014/*.jpg, data/refcoco/instances.json, data/refcoco/refs(unc).p
dataset_type = 'RefCocoDataset'
data_root = 'data/'
ann_file = 'refcoco/instances.json'
split_file = 'refcoco/refs(unc).p'
# generation vocabulary of the training expressions (tools/dataset_converters/build_vocab.py)
vocab_file = 'data/refcoco/vocab.txt'
img_prefix = 'coco/train2014/'
image_size = 1024  # long side, as the paper's main results (Table 8)
backend_args = None

train_pipeline = [
    dict(type='LoadRefImage', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    # no flips or crops: they would break location words and could cut the referent
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='RandomSelectExpression'),
    dict(type='PackRefInputs')
]
test_pipeline = [
    dict(type='LoadRefImage', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='PackRefInputs')
]
train_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=ann_file,
        split_file=split_file,
        split='train',
        mode='train',
        data_prefix=dict(img_path=img_prefix),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=ann_file,
        split_file=split_file,
        split='val',
        mode='test',
        test_mode=True,
        data_prefix=dict(img_path=img_prefix),
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader
val_evaluator = [dict(type='RESMetric'), dict(type='REGMetric')]
test_evaluator = val_evaluator
