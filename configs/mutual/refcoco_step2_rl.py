# Step 2 on RefCOCO: disambiguation supervision (RES -> REG) of the step-1 model.
# 4 GPUs x 1 image: tools/dist_train.sh configs/mutual/refcoco_step2_rl.py 4
_base_ = [
    '../_base_/models/refmutual_r101.py', '../_base_/datasets/refcoco.py',
    '../_base_/schedules/step2_rl_20k.py', '../_base_/default_runtime.py'
]
model = dict(generation_head=dict(vocab={{_base_.vocab_file}}),
             frozen_modules={{_base_.frozen_modules}}, train_cfg={{_base_.ref_train_cfg}})
load_from = 'work_dirs/refcoco_step1_joint/iter_90000.pth'
# REG references for CIDEr: the RefCOCO+ expressions of the same objects are added
# (paper Sec. 4.1: "we merge the expressions from RefCOCO and RefCOCO+")
test_dataloader = dict(dataset=dict(merge_refs_file='refcoco+/refs(unc).p'))
