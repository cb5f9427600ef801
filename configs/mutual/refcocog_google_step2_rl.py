# Step 2 on RefCOCOg, Google partition: the REG results of Table 1 (val-g), from the step-1
# model of refcocog_google_step1_joint.py. No merged references: the paper merges
# RefCOCO and RefCOCO+ only.
# 4 GPUs x 1 image: tools/dist_train.sh configs/mutual/refcocog_google_step2_rl.py 4
_base_ = [
    '../_base_/models/refmutual_r101.py', '../_base_/datasets/refcocog_google.py',
    '../_base_/schedules/step2_rl_20k.py', '../_base_/default_runtime.py'
]
model = dict(generation_head=dict(vocab={{_base_.vocab_file}}),
             frozen_modules={{_base_.frozen_modules}}, train_cfg={{_base_.ref_train_cfg}})
load_from = 'work_dirs/refcocog_google_step1_joint/iter_90000.pth'
