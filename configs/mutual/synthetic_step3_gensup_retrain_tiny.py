# Step 3 as the paper runs it ("re-train the entire network"), for the tiny CPU model: step 1's
# recipe (from the step-0 extractor, one sample per image, lr 1e-3, 1,000 iterations) on
# human + pseudo refs written by the step-2 model. Its control is step 1 itself (same init,
# iterations and seed, human refs only). On a schedule this short the human images are a
# fifth of the samples; human_repeat=4 makes them about half (ours).
_base_ = ['./synthetic_step1_joint_tiny.py', '../_base_/synthetic_gensup_tiny.py']
custom_hooks = [
    dict(type='MutualSupervisionHook',
         generation_supervision=dict(_base_.synthetic_generation_supervision, human_repeat=4))
]
