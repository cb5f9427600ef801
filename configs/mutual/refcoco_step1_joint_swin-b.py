# Swin-B variant (paper appendix C, Table 9) of refcoco_step1_joint.py: only the backbone changes.
# 8 GPUs x 1 image: tools/dist_train.sh configs/mutual/refcoco_step1_joint_swin-b.py 8
_base_ = [
    '../_base_/models/refmutual_swin-b.py', '../_base_/datasets/refcoco.py',
    '../_base_/schedules/step1_joint_90k.py', '../_base_/default_runtime.py'
]
model = dict(generation_head=dict(vocab={{_base_.vocab_file}}))
