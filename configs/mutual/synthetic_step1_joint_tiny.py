# Step 1 (joint training) of the tiny CPU model on the built-in synthetic benchmark:
# the project's embedded default (README).
_base_ = [
    '../_base_/models/refmutual_r18_tiny.py', '../_base_/datasets/synthetic_refcoco.py',
    '../_base_/schedules/step1_joint_90k.py', '../_base_/tiny_cpu_runtime.py'
]
model = dict(generation_head=dict(vocab={{_base_.vocab_file}}))
max_iters = 4000
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(
    optimizer=dict(lr=3e-4),
    # trained from scratch: the backbone learns at the full rate
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=1.0, decay_mult=1.0)}))
param_scheduler = dict(end=max_iters, milestones=[int(max_iters * 2 / 3), int(max_iters * 8 / 9)])
