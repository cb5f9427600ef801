# Table 8 (640 x 640), step 2 on RefCOCO: disambiguation supervision of the step-1 model of
# refcoco_step1_joint_640px.py, at the same resolution; it writes the pseudo refs of
# refcoco_step3_gensup_640px.py.
_base_ = '../mutual/refcoco_step2_rl.py'
image_size = 640  # paper
# as refcoco_step1_joint_640px.py
resize = dict(type='Resize', scale=(image_size, image_size), keep_ratio=True)
train_pipeline = _base_.train_pipeline[:2] + [resize] + _base_.train_pipeline[3:]
test_pipeline = _base_.test_pipeline[:2] + [resize] + _base_.test_pipeline[3:]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
model = dict(data_preprocessor=dict(pad_size_divisor=image_size))
load_from = 'work_dirs/refcoco_step1_joint_640px/iter_90000.pth'
