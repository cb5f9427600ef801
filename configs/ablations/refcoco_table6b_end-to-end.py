# Table 6 (b), RES ablation on RefCOCO val: (a) + end-to-end optimisation (the selection loss
# reaches the proposal extractor); no joint REG. Trained as step 1.
# Evaluate: python tools/test.py configs/ablations/refcoco_table6b_end-to-end.py CKPT
_base_ = '../mutual/refcoco_step1_joint.py'
model = dict(
    train_cfg=dict(detach_proposals=False,  # paper: "E2E"
                   reg_loss=None),  # paper: no "Joint"
    # ours: the generation head, which no loss reaches, is frozen and not evaluated
    frozen_modules=['generation_head'],
    test_cfg=dict(reg=False))
val_evaluator = [dict(type='RESMetric')]
test_evaluator = val_evaluator
