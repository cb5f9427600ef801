# Runtime of the tiny CPU configs (embedded default, tests): frequent logs, few
# checkpoints, no image drawing, a fixed seed so that runs repeat their figures.
_base_ = './default_runtime.py'
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=500, max_keep_ckpts=2),
                     visualization=dict(draw=False))
randomness = dict(seed=0)
