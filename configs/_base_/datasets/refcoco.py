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
# Pipeline variants of the paper's other table rows, defined once here, next to what they change
# (the leaf configs pick them: train_dataloader = dict(dataset=dict(pipeline=...))):
# Table 1 "Box" rows: the extractor trains on box-shaped masks (BoxToMask right after
# LoadAnnotations); the referred objects' evaluation masks stay the true ones (PackRefInputs
# reads the annotations). Our choice: the test pipeline too, so the box model never sees a mask.
box_train_pipeline = train_pipeline[:2] + [dict(type='BoxToMask')] + train_pipeline[2:]
box_test_pipeline = test_pipeline[:2] + [dict(type='BoxToMask')] + test_pipeline[2:]
# Table 8 (RES at 416 x 416 and 640 x 640): the long side resized to the size (Resize is the
# third transform); the short side is padded to it by the data preprocessor (pad_size_divisor)
sized_pipelines = {
    f'{size}px': dict(
        train=train_pipeline[:2] + [dict(type='Resize', scale=(size, size), keep_ratio=True)] +
        train_pipeline[3:],
        test=test_pipeline[:2] + [dict(type='Resize', scale=(size, size), keep_ratio=True)] +
        test_pipeline[3:]) for size in (416, 640)
}
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
