# Step 1 on RefCOCO+: joint end-to-end training of Mask2Former R-101, the selection head
# (RES) and the indicated generation head (REG).
# 8 GPUs x 1 image: tools/dist_train.sh configs/mutual/refcoco+_step1_joint.py 8
_base_ = [
    '../_base_/models/refmutual_r101.py', '../_base_/datasets/refcoco+.py',
    '../_base_/schedules/step1_joint_90k.py', '../_base_/default_runtime.py'
]
model = dict(generation_head=dict(vocab={{_base_.vocab_file}}))
