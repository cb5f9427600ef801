# Table 1 "Box" rows (testA, testB), step 2 on RefCOCO+: disambiguation supervision of the box
# model of refcoco+_step1_joint_box.py (Mask2Former trained on box-shaped masks); REG from the
# given box.
_base_ = './refcoco+_step2_rl.py'
train_pipeline = _base_.box_train_pipeline  # see _base_/datasets/refcoco.py
test_pipeline = _base_.box_test_pipeline
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
model = dict(test_cfg=dict(reg_input='box'))
load_from = 'work_dirs/refcoco+_step1_joint_box/iter_90000.pth'
