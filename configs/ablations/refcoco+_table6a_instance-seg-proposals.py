# Table 6 (a), RES ablation on RefCOCO+ val: like MattNet, the proposals are supervised by
# instance segmentation only (they reach the selection head without gradient: no "E2E") and
# there is no joint REG. Trained as step 1. Row (c) is step 1 (refcoco+_step1_joint.py), row (e)
# step 3 (refcoco+_step3_gensup.py).
# Evaluate: python tools/test.py configs/ablations/refcoco+_table6a_instance-seg-proposals.py CKPT
_base_ = '../mutual/refcoco+_step1_joint.py'
model = dict(
    train_cfg=dict(detach_proposals=True,  # paper: no "E2E"
                   reg_loss=None),  # paper: no "Joint"
    # ours: the generation head, which no loss reaches, is frozen and not evaluated
    frozen_modules=['generation_head'],
    test_cfg=dict(reg=False))
val_evaluator = [dict(type='RESMetric')]
test_evaluator = val_evaluator
