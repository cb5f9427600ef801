# Table 5 (d), reward ablation on RefCOCO+ testB: softmax unambiguity (Eq. 5) without the
# temperature (tau = 1), plus CIDEr; alpha = 4. Row (e), softmax with tau = 2.5, is the main
# step 2: configs/mutual/refcoco+_step2_rl.py.
# Evaluate: python tools/test.py configs/ablations/refcoco+_table5d_softmax-no-tau.py CKPT
_base_ = '../mutual/refcoco+_step2_rl.py'
disambiguation = dict(_base_.disambiguation,
                      reward=dict(_base_.disambiguation.reward, tau=1.0))  # paper
custom_hooks = [dict(type='MutualSupervisionHook', disambiguation=disambiguation)]
test_dataloader = dict(dataset=dict(split='testB'))  # the paper's test split
