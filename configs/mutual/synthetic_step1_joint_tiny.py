# Step 1 (joint training) of the tiny CPU model on the built-in synthetic benchmark, from
# the extractor pre-trained by synthetic_step0_extractor_tiny.py, as the paper's step 1
# starts from a Mask2Former pre-trained on COCO: REG can only tell objects apart once the
# proposals know the shapes. Schedule: the main job's (tools/run_embedded.py) step 1.
# Why these values, with the measurements behind them: docs/choices.md (the tiny CPU recipe).
_base_ = [
    '../_base_/models/refmutual_r18_tiny.py', '../_base_/datasets/synthetic_refcoco.py',
    '../_base_/schedules/step1_joint_90k.py', '../_base_/tiny_cpu_runtime.py'
]
model = dict(generation_head=dict(vocab={{_base_.vocab_file}}))
load_from = 'work_dirs/synthetic_step0_extractor_tiny/iter_1000.pth'
# one sample per image with all its refs: 4.5 times the referring supervision of a
# Mask2Former pass, for 1.1 times its cost (the frozen text encoder's features are cached)
train_dataloader = dict(dataset=dict(mode='image'))
max_iters = 1000
train_cfg = dict(max_iters=max_iters, val_interval=250)
optim_wrapper = dict(
    optimizer=dict(lr=1e-3),
    # one parameter group: trained from scratch, every part at the same rate
    paramwise_cfg=None)
param_scheduler = dict(end=max_iters, milestones=[int(max_iters * 2 / 3), int(max_iters * 8 / 9)])
