# Step 3 (generation supervision, REG -> RES) of the tiny CPU model on the built-in
# synthetic benchmark: the step-2 model describes the instances of the images without
# refs (the generator's unreferred pool), then RES trains on human + generated refs.
# Unlike the paper (re-training from step 1's initialisation), the tiny model continues
# from the step-2 weights for a short schedule: re-training from scratch would double the
# CPU time of the embedded default. The control (same iterations, human refs only) is
# this config without the hook: --cfg-options custom_hooks=[]
_base_ = [
    '../_base_/models/refmutual_r18_tiny.py', '../_base_/datasets/synthetic_refcoco.py',
    '../_base_/schedules/step3_gensup_90k.py', '../_base_/tiny_cpu_runtime.py',
    '../_base_/synthetic_gensup_tiny.py'
]
model = dict(generation_head=dict(vocab={{_base_.vocab_file}}))
load_from = {{_base_.step2_checkpoint}}
custom_hooks = [
    dict(type='MutualSupervisionHook',
         generation_supervision=dict(_base_.generation_supervision,
                                     **_base_.synthetic_generation_supervision))
]
max_iters = 600  # the main job's
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(
    optimizer=dict(lr=1e-4),  # step 2's: it continues from step 2's weights
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=1.0, decay_mult=1.0)}))
param_scheduler = dict(end=max_iters, milestones=[int(max_iters * 2 / 3), int(max_iters * 8 / 9)])
