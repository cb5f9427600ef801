# Table 6 (d), RES ablation on RefCOCO+ val: end-to-end RES with generation supervision but
# without joint REG: step 3 (pseudo refs written by the step-2 model of refcoco+_step2_rl.py,
# as in refcoco+_step3_gensup.py) where the re-trained network has no REG loss.
# Evaluate: python tools/test.py configs/ablations/refcoco+_table6d_gensup-without-reg.py CKPT
_base_ = '../mutual/refcoco+_step3_gensup.py'
model = dict(
    train_cfg=dict(reg_loss=None),  # paper: "E2E", "G-Sup.", no "Joint"
    # ours: the generation head, which no loss reaches, is frozen and not evaluated (the
    # pseudo refs come from the step-2 checkpoint, not from this head)
    frozen_modules=['generation_head'],
    test_cfg=dict(reg=False))
val_evaluator = [dict(type='RESMetric')]
test_evaluator = val_evaluator
