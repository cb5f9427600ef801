# Step 1 (joint training) of the tiny CPU model on the built-in synthetic benchmark:
# the project's embedded default (README). ~0.5 s/iteration on 2 CPU cores (~35 min).
# 4000 iterations: at 2000 the REG head is still weakly grounded (README, "Results").
_base_ = [
    '../_base_/models/refmutual_r18_tiny.py', '../_base_/datasets/synthetic_refcoco.py',
    '../_base_/schedules/step1_joint_90k.py', '../_base_/default_runtime.py'
]
model = dict(generation_head=dict(vocab='data/synthetic/refcoco/vocab.txt'))
max_iters = 4000
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(
    optimizer=dict(lr=3e-4),
    # trained from scratch: the backbone learns at the full rate
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=1.0, decay_mult=1.0)}))
param_scheduler = dict(end=max_iters, milestones=[int(max_iters * 2 / 3), int(max_iters * 8 / 9)])
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=500, max_keep_ckpts=2),
                     visualization=dict(draw=False))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
# a fixed seed, so that the embedded default repeats its figures
randomness = dict(seed=0)
