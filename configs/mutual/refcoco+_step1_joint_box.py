# Table 1 "Box" rows, step 1 on RefCOCO+: Mask2Former is trained on box-shaped masks, "the region
# inside the bounding box as a mask" (paper Sec. 4.2), a fair comparison with REG methods that
# are given boxes; REG is evaluated from the given box. Step 2 of this model:
# refcoco+_step2_rl_box.py (REG reported there: testA, testB).
_base_ = './refcoco+_step1_joint.py'
train_pipeline = _base_.box_train_pipeline  # see _base_/datasets/refcoco.py
test_pipeline = _base_.box_test_pipeline
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
model = dict(test_cfg=dict(reg_input='box'))  # the given object is a box (paper)
