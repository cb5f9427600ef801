# Table 3 (c), REG ablation on RefCOCO+ testB: (b) + joint training with RES; still no
# indicators (the generation head reads the target proposal alone). Step 1 otherwise.
# Evaluate: python tools/test.py configs/ablations/refcoco+_table3c_joint.py CKPT
_base_ = '../mutual/refcoco+_step1_joint.py'
model = dict(
    generation_head=dict(use_indicator=False),  # paper: no "Ind."
    train_cfg=dict(detach_proposals=False,  # paper: "E2E"
                   res_loss=True))  # paper: "Joint"
# the paper's test split, RefCOCO references of the same objects merged for CIDEr (Sec. 4.1)
test_dataloader = dict(dataset=dict(split='testB', merge_refs_file='refcoco/refs(unc).p'))
