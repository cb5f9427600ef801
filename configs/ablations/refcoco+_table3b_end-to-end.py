# Table 3 (b), REG ablation on RefCOCO+ testB: (a) + end-to-end optimisation of the proposal
# extractor for REG (the teacher-forcing loss reaches the extractor); still no indicators
# (target proposal alone) and no joint RES. Trained as step 1.
# Evaluate: python tools/test.py configs/ablations/refcoco+_table3b_end-to-end.py CKPT
_base_ = '../mutual/refcoco+_step1_joint.py'
model = dict(
    generation_head=dict(use_indicator=False),  # paper: no "Ind."
    train_cfg=dict(detach_proposals=False,  # paper: "E2E"
                   res_loss=False),  # paper: no "Joint"
    # ours: what no loss reaches is frozen, and RES is not evaluated (untrained head)
    frozen_modules=['text_encoder', 'selection_head'],
    test_cfg=dict(res=False))
val_evaluator = [dict(type='REGMetric')]
test_evaluator = val_evaluator
# the paper's test split, RefCOCO references of the same objects merged for CIDEr (Sec. 4.1)
test_dataloader = dict(dataset=dict(split='testB', merge_refs_file='refcoco/refs(unc).p'))
