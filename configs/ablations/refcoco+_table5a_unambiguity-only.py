# Table 5 (a), reward ablation on RefCOCO+ testB: step 2 with the unambiguity reward alone,
# r = alpha * softmax(S / tau)_k (no CIDEr term; alpha = 4, tau = 2.5 as the main step 2).
# Rows (b) and (e) are the main step 2: configs/mutual/refcoco+_step2_rl.py.
# Evaluate: python tools/test.py configs/ablations/refcoco+_table5a_unambiguity-only.py CKPT
_base_ = '../mutual/refcoco+_step2_rl.py'
disambiguation = dict(_base_.disambiguation,
                      reward=dict(_base_.disambiguation.reward, cider_weight=0.0))  # paper
custom_hooks = [dict(type='MutualSupervisionHook', disambiguation=disambiguation)]
test_dataloader = dict(dataset=dict(split='testB'))  # the paper's test split
