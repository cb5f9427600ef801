# Table 1 "Box" rows, step 1 on RefCOCO+: Mask2Former is trained on box-shaped masks, "the region
# inside the bounding box as a mask" (paper Sec. 4.2), a fair comparison with REG methods that
# are given boxes; REG is evaluated from the given box. Step 2 of this model:
# refcoco+_step2_rl_box.py (REG reported there: testA, testB).
_base_ = './refcoco+_step1_joint.py'
# BoxToMask right after LoadAnnotations (the base pipelines' second transform). The referred
# objects' evaluation masks stay the true ones (PackRefInputs reads the annotations).
# Our choice: the test pipeline too, so that the box model never sees a mask.
train_pipeline = _base_.train_pipeline[:2] + [dict(type='BoxToMask')] + _base_.train_pipeline[2:]
test_pipeline = _base_.test_pipeline[:2] + [dict(type='BoxToMask')] + _base_.test_pipeline[2:]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
model = dict(test_cfg=dict(reg_input='box'))  # the given object is a box (paper)
