# Table 1 "Box" rows (val-g), step 2 on RefCOCOg (Google partition): disambiguation
# supervision of the box model of refcocog_google_step1_joint_box.py (Mask2Former trained on
# box-shaped masks); REG from the given box.
_base_ = './refcocog_google_step2_rl.py'
train_pipeline = _base_.box_train_pipeline  # see _base_/datasets/refcoco.py
test_pipeline = _base_.box_test_pipeline
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
model = dict(test_cfg=dict(reg_input='box'))
load_from = 'work_dirs/refcocog_google_step1_joint_box/iter_90000.pth'
