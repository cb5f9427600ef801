# Table 3 (a), REG ablation on RefCOCO+ testB: the baseline "contains the proposal extractor
# but generates expressions based only on target object features" (paper Sec. 4.2): no
# indicators (the generation head reads the target proposal alone), no end-to-end
# optimisation (the proposals reach the generation head without gradient, so the extractor
# learns from instance segmentation only) and no joint RES. Trained as step 1.
# Evaluate: python tools/test.py configs/ablations/refcoco+_table3a_target-only.py CKPT
_base_ = '../mutual/refcoco+_step1_joint.py'
model = dict(
    generation_head=dict(use_indicator=False),  # paper: no "Ind."
    train_cfg=dict(detach_proposals=True,  # paper: no "E2E"
                   res_loss=False),  # paper: no "Joint"
    # ours: what no loss reaches is frozen, and RES is not evaluated (untrained head)
    frozen_modules=['text_encoder', 'selection_head'],
    test_cfg=dict(res=False))
val_evaluator = [dict(type='REGMetric')]
test_evaluator = val_evaluator
# the paper's test split, RefCOCO references of the same objects merged for CIDEr (Sec. 4.1)
test_dataloader = dict(dataset=dict(split='testB', merge_refs_file='refcoco/refs(unc).p'))
