# Swin-B variant (paper appendix C, Table 9) of refcoco_step2_rl.py: step 2 of the Swin-B
# step-1 model, which writes the pseudo refs of refcoco_step3_gensup_swin-b.py (our reading:
# the whole three-step scheme with Swin-B; the paper names only the backbone).
_base_ = [
    '../_base_/models/refmutual_swin-b.py', '../_base_/datasets/refcoco.py',
    '../_base_/schedules/step2_rl_20k.py', '../_base_/default_runtime.py'
]
model = dict(generation_head=dict(vocab={{_base_.vocab_file}}),
             frozen_modules={{_base_.frozen_modules}}, train_cfg={{_base_.ref_train_cfg}})
load_from = 'work_dirs/refcoco_step1_joint_swin-b/iter_90000.pth'
# REG references for CIDEr: the RefCOCO+ expressions of the same objects are added (Sec. 4.1)
test_dataloader = dict(dataset=dict(merge_refs_file='refcoco+/refs(unc).p'))
