# Table 5 (c), reward ablation on RefCOCO+ testB: the unambiguity reward is the sigmoid of the
# target's matching score alone, as JointSLR's (no comparison with the other objects, no
# temperature: tau = 1), plus CIDEr; alpha = 4 as the main step 2.
# Evaluate: python tools/test.py configs/ablations/refcoco+_table5c_sigmoid.py CKPT
_base_ = '../mutual/refcoco+_step2_rl.py'
disambiguation = dict(
    _base_.disambiguation,
    reward=dict(_base_.disambiguation.reward, unambiguity='sigmoid', tau=1.0))  # paper
custom_hooks = [dict(type='MutualSupervisionHook', disambiguation=disambiguation)]
test_dataloader = dict(dataset=dict(split='testB'))  # the paper's test split
