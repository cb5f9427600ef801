# The referee of Rb-Acc (refer-back accuracy, paper Sec. 4.2) for the tiny CPU model: a
# selection head trained apart, on the frozen proposals of the step-1 model, so that the
# head that judges generated expressions is not the one step 2 was rewarded by.
# load_from: the step-1 checkpoint without its selection_head weights (run_embedded.py
# writes it), so that this head starts fresh.
_base_ = [
    '../_base_/models/refmutual_r18_tiny.py', '../_base_/datasets/synthetic_refcoco.py',
    '../_base_/schedules/step1_joint_90k.py', '../_base_/tiny_cpu_runtime.py'
]
model = dict(
    generation_head=dict(vocab={{_base_.vocab_file}}),
    frozen_modules=['backbone', 'panoptic_head', 'text_encoder', 'generation_head'],
    train_cfg=dict(proposal_loss=False, res_loss=True, reg_loss=None))
load_from = 'work_dirs/embedded/step1_without_selection_head.pth'
max_iters = 300
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05))
param_scheduler = None
