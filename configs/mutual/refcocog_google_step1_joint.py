# Step 1 on RefCOCOg, Google partition: the REG benchmark split (Table 1, val-g).
_base_ = [
    '../_base_/models/refmutual_r101.py', '../_base_/datasets/refcocog_google.py',
    '../_base_/schedules/step1_joint_90k.py', '../_base_/default_runtime.py'
]
model = dict(generation_head=dict(vocab={{_base_.vocab_file}}))
