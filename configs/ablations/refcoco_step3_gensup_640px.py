# Table 8 (RES on RefCOCO val at 640 x 640), step 3: generation supervision at 640 with the
# pseudo refs of the 640-px step-2 model (refcoco_step2_rl_640px.py).
# Evaluate: python tools/test.py configs/ablations/refcoco_step3_gensup_640px.py CKPT
_base_ = '../mutual/refcoco_step3_gensup.py'
image_size = 640  # paper
train_pipeline = _base_.sized_pipelines['640px'].train  # see _base_/datasets/refcoco.py
test_pipeline = _base_.sized_pipelines['640px'].test
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
model = dict(data_preprocessor=dict(pad_size_divisor=image_size))
generation_supervision = dict(_base_.generation_supervision,
                              checkpoint='work_dirs/refcoco_step2_rl_640px/iter_20000.pth')
custom_hooks = [
    dict(type='MutualSupervisionHook', generation_supervision=generation_supervision)
]
