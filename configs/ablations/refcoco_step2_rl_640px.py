# Table 8 (640 x 640), step 2 on RefCOCO: disambiguation supervision of the step-1 model of
# refcoco_step1_joint_640px.py, at the same resolution; it writes the pseudo refs of
# refcoco_step3_gensup_640px.py.
_base_ = '../mutual/refcoco_step2_rl.py'
image_size = 640  # paper
train_pipeline = _base_.sized_pipelines['640px'].train  # see _base_/datasets/refcoco.py
test_pipeline = _base_.sized_pipelines['640px'].test
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
model = dict(data_preprocessor=dict(pad_size_divisor=image_size))
load_from = 'work_dirs/refcoco_step1_joint_640px/iter_90000.pth'
